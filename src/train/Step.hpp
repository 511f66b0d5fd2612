#pragma once
// One optimisation step and the loss weighting, shared by the trainer and its benchmark.
#include <torch/torch.h>

#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/model/TorchCompat.hpp"
#include "tautrain/train/TrainConfig.hpp"

namespace tautrain::train {

/// Per-candidate loss weights: the class weight of its label, times its weight column when
/// train.sample_weights.
class LossWeights {
 public:
  LossWeights(const TrainConfig& config, const torch::Device& device)
      : m_classWeights(torch::tensor(config.class_weights, torch::kFloat).to(device)),
        m_sampleWeights(config.sample_weights) {}

  /// Weighted mean cross-entropy: sum(w * ce) / sum(w); also returns sum(w).
  std::pair<torch::Tensor, torch::Tensor> loss(const torch::Tensor& logits, const data::TensorBatch& batch) const {
    const auto ce = torch::nn::functional::cross_entropy(
        logits.to(torch::kFloat), batch.label, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    auto weight = m_classWeights.index_select(0, batch.label);
    if (m_sampleWeights) weight = weight * batch.weight;
    const auto total = weight.sum();
    return {(ce * weight).sum() / total, total};
  }

 private:
  torch::Tensor m_classWeights;
  bool m_sampleWeights;
};

/// Forward (under bf16 autocast when asked, on CUDA), backward and optimizer step; returns
/// the loss without waiting for the device.
inline torch::Tensor trainStep(model::TauTransformer& model, torch::optim::Optimizer& optimizer,
                               const LossWeights& weighting, const data::TensorBatch& batch,
                               const torch::Device& device, bool bf16) {
  optimizer.zero_grad();
  torch::Tensor logits;
  {
    model::compat::AutocastGuard autocast(device, bf16);
    logits = model->forward(batch);
  }
  auto loss = weighting.loss(logits, batch).first;
  loss.backward();
  optimizer.step();
  return loss.detach();
}

}  // namespace tautrain::train
