#include "tautrain/train/Schedule.hpp"

#include <algorithm>
#include <cmath>

#include "tautrain/core/Measure.hpp"
#include "tautrain/core/StopSignals.hpp"

namespace tautrain::train {

double learningRate(const TrainConfig& config, std::int64_t step, std::int64_t stepsPerEpoch) {
  const double peak = config.learning_rate;
  if (step < config.warmup_steps) return peak * static_cast<double>(step + 1) / static_cast<double>(config.warmup_steps);
  if (config.lr_schedule == LrSchedule::kExponential)
    return peak * std::pow(config.lr_decay, static_cast<double>(step / std::max<std::int64_t>(stepsPerEpoch, 1)));
  if (config.lr_schedule == LrSchedule::kCosine) {
    const auto decaySteps = std::max<std::int64_t>(config.max_epochs * stepsPerEpoch - config.warmup_steps, 1);
    const double progress = std::min(1.0, static_cast<double>(step - config.warmup_steps) / static_cast<double>(decaySteps));
    return config.min_learning_rate + 0.5 * (peak - config.min_learning_rate) * (1 + std::cos(M_PI * progress));
  }
  return peak;
}

TrainingSchedule::TrainingSchedule(const TrainConfig& config, bool distributed, bool lead)
    : m_config(config), m_distributed(distributed), m_lead(lead) {}

StepAgreement TrainingSchedule::localView() const {
  return {StopSignalGuard::stopRequested() != 0, m_lead && timedCheckpointDue()};
}

void TrainingSchedule::stepped(const StepAgreement& agreed) {
  m_agreed = agreed;
  ++m_stepsHere;
}

bool TrainingSchedule::stopRequested() const {
  // Alone, a signal counts at once; ranks act on the one they agreed on in the last step.
  const bool signalled = m_distributed ? m_agreed.stop_requested : StopSignalGuard::stopRequested() != 0;
  return signalled || (m_config.stop_after_steps > 0 && m_stepsHere >= m_config.stop_after_steps);
}

bool TrainingSchedule::periodicCheckpointDue(std::int64_t globalStep, const std::function<bool(bool)>& anyRank) const {
  return stepDue(globalStep) || anyRank(m_lead && timedCheckpointDue());
}

void TrainingSchedule::epochCheckpointed() {
  if (!m_config.exit_after_checkpoint) checkpointed();
}

bool TrainingSchedule::recordValidation(int& bestEpoch, double& bestLoss, int& stalled, int epoch, double validLoss) {
  const bool improved = bestEpoch == 0 || validLoss < bestLoss;
  if (improved) {
    bestEpoch = epoch, bestLoss = validLoss, stalled = 0;
  } else {
    ++stalled;
  }
  return improved;
}

bool TrainingSchedule::stepDue(std::int64_t globalStep) const {
  return m_config.checkpoint_every_steps > 0 && globalStep % m_config.checkpoint_every_steps == 0;
}

bool TrainingSchedule::timedCheckpointDue() const {
  return m_config.checkpoint_every_minutes > 0 && secondsSince(m_lastCheckpoint) >= 60 * m_config.checkpoint_every_minutes;
}

}  // namespace tautrain::train
