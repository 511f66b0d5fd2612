#include "tautrain/train/Schedule.hpp"

#include <algorithm>
#include <cmath>

namespace tautrain::train {

double learningRate(const TrainConfig& config, std::int64_t step, std::int64_t stepsPerEpoch) {
  const double peak = config.learning_rate;
  if (step < config.warmup_steps) return peak * static_cast<double>(step + 1) / static_cast<double>(config.warmup_steps);
  if (config.lr_schedule == "exponential")
    return peak * std::pow(config.lr_decay, static_cast<double>(step / std::max<std::int64_t>(stepsPerEpoch, 1)));
  if (config.lr_schedule == "cosine") {
    const auto decaySteps = std::max<std::int64_t>(config.max_epochs * stepsPerEpoch - config.warmup_steps, 1);
    const double progress = std::min(1.0, static_cast<double>(step - config.warmup_steps) / static_cast<double>(decaySteps));
    return config.min_learning_rate + 0.5 * (peak - config.min_learning_rate) * (1 + std::cos(M_PI * progress));
  }
  return peak;
}

}  // namespace tautrain::train
