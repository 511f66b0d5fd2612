#pragma once
// What training, its benchmark and scoring share: device set-up, loader options, one
// optimisation step with its loss weighting, and a pass of inference.
#include <torch/torch.h>

#include "tautrain/core/Error.hpp"
#include "tautrain/data/DataConfig.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/model/TorchCompat.hpp"
#include "tautrain/train/TrainConfig.hpp"

namespace tautrain::train {

/// The device called `name`; a ConfigError naming `key` when it is CUDA and there is none.
inline torch::Device requireDevice(const std::string& name, const std::string& key) {
  const torch::Device device(name);
  TAUTRAIN_CHECK_KEY(!device.is_cuda() || torch::cuda::is_available(), key, name,
                     " requested but this build or machine has no CUDA");
  return device;
}

/// train.device, with LibTorch's thread count and the CUDA math modes of `config` applied.
inline torch::Device setUpDevice(const TrainConfig& config) {
  const auto device = requireDevice(config.device, "train.device");
  if (config.torch_threads > 0) torch::set_num_threads(config.torch_threads);
  model::compat::setCudaMath(config.allow_tf32, config.cudnn_benchmark);
  return device;
}

/// Loader options that also build the batches' tensors, pinned when they go to a GPU.
inline data::LoaderOptions tensorLoaderOptions(const data::DataConfig& config, std::uint64_t seed,
                                               const torch::Device& device) {
  auto options = data::LoaderOptions::fromConfig(config, seed);
  options.make_tensors = true;
  options.pin_memory = device.is_cuda();
  return options;
}

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

/// One pass over epoch 0 of `loader` without gradient: use(loaded batch, its tensors on the
/// device, float logits) for every batch in plan order.
template <typename Use>
void predict(model::TauTransformer& model, data::Loader& loader, const torch::Device& device, bool bf16, Use use) {
  torch::NoGradGuard noGrad;
  model->eval();
  loader.startEpoch(0);
  while (auto loaded = loader.next()) {
    const auto batch = loaded->tensors->to(device);
    torch::Tensor logits;
    {
      model::compat::AutocastGuard autocast(device, bf16);
      logits = model->forward(batch).to(torch::kFloat);
    }
    use(*loaded, batch, logits);
  }
}

}  // namespace tautrain::train
