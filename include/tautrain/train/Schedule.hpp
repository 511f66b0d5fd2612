#pragma once
// Learning rate as a pure function of the step, so a resumed run continues the same curve.
#include <cstdint>

#include "tautrain/train/TrainConfig.hpp"

namespace tautrain::train {

/// Learning rate for global step `step` (0-based) with `stepsPerEpoch` steps in every epoch:
/// linear warm-up over warmup_steps, then constant, cosine down to min_learning_rate at the
/// end of max_epochs, or exponential with lr_decay per epoch.
double learningRate(const TrainConfig& config, std::int64_t step, std::int64_t stepsPerEpoch);

}  // namespace tautrain::train
