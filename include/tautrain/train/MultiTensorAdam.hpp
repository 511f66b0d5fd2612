#pragma once
// Adam whose update runs as multi-tensor (_foreach) operations: on CUDA that is a handful of
// kernel launches per step for all weights instead of about ten per weight tensor (960 for the
// thesis model), which at batch 350 would cost more time than the model itself.
#include <torch/optim/adam.h>

namespace tautrain::train {

/// torch::optim::Adam with the same options, state and checkpoints, and the same arithmetic in
/// the same order. Weight decay and AMSGrad (unused here) take the per-tensor path of the base.
class MultiTensorAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace tautrain::train
