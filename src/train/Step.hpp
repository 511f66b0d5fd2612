#pragma once
// What training, its benchmark and scoring share: device set-up, loader options, one
// optimisation step with its loss weighting, and a pass of inference.
#include <torch/torch.h>

#include "tautrain/compat/TorchCompat.hpp"
#include "tautrain/config/DataConfig.hpp"
#include "tautrain/config/TrainConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/dist/Communicator.hpp"
#include "tautrain/dist/RankInfo.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/GraphedModel.hpp"
#include "tautrain/train/Schedule.hpp"

namespace tautrain::train {

/// The device called `name`; a ConfigError naming `key` when it is CUDA and there is none.
inline torch::Device requireDevice(const std::string& name, const std::string& key) {
  const torch::Device device(name);
  TAUTRAIN_CHECK_KEY(!device.is_cuda() || torch::cuda::is_available(), key, name,
                     " requested but this build or machine has no CUDA");
  return device;
}

/// train.device, with LibTorch's thread count and the CUDA math modes of `config` applied.
/// A plain "cuda" means one GPU per local rank (of those visible) in a data-parallel run.
inline torch::Device setUpDevice(const TrainConfig& config, const dist::RankInfo& rank = {}) {
  auto device = requireDevice(config.device, "train.device");
  if (device.is_cuda() && !device.has_index() && rank.distributed())
    device = torch::Device(torch::kCUDA,
                           static_cast<c10::DeviceIndex>(rank.local_rank % static_cast<int>(torch::cuda::device_count())));
  if (config.torch_threads > 0) torch::set_num_threads(config.torch_threads);
  compat::setCudaMath(config.allow_tf32, config.cudnn_benchmark);
  return device;
}

/// Whether train.cuda_graphs asks for graphs on `device` (auto: on CUDA).
inline bool usesCudaGraphs(const TrainConfig& config, const torch::Device& device) {
  return device.is_cuda() && config.cuda_graphs != CudaGraphs::kOff;
}

/// Graphs of `model`'s encoder when train.cuda_graphs asks for them on `device`, else null.
inline std::unique_ptr<GraphedModel> graphsFor(const TrainConfig& config, model::TauTransformer model,
                                               const torch::Device& device) {
  if (!usesCudaGraphs(config, device)) return nullptr;
  return std::make_unique<GraphedModel>(std::move(model), device, config.cuda_graph_limit);
}

/// Loader options that also build the batches' tensors, pinned when they go to a GPU; in a
/// data-parallel run, this rank's share of each epoch.
inline data::LoaderOptions tensorLoaderOptions(const data::DataConfig& config, std::uint64_t seed,
                                               const torch::Device& device, const dist::RankInfo& rank = {},
                                               data::RankShare share = data::RankShare::kBlocks) {
  auto options = data::LoaderOptions::fromConfig(config, seed);
  options.make_tensors = true;
  options.pin_memory = device.is_cuda();
  options.rank = rank.rank;
  options.world_size = rank.world_size;
  options.share = share;
  return options;
}

/// Per-candidate loss weights: the class weight of its label, times its weight column when
/// train.sample_weights.
class LossWeights {
 public:
  LossWeights(const TrainConfig& config, const torch::Device& device)
      : m_classWeights(torch::tensor(config.class_weights, torch::kFloat).to(device)),
        m_sampleWeights(config.sample_weights) {}

  /// The weighted cross-entropy summed over the batch, sum(w * ce), and sum(w).
  std::pair<torch::Tensor, torch::Tensor> sums(const torch::Tensor& logits, const data::TensorBatch& batch) const {
    const auto ce = torch::nn::functional::cross_entropy(
        logits.to(torch::kFloat), batch.label, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    auto weight = m_classWeights.index_select(0, batch.label);
    if (m_sampleWeights) weight = weight * batch.weight;
    return {(ce * weight).sum(), weight.sum()};
  }

 private:
  torch::Tensor m_classWeights;
  bool m_sampleWeights;
};

/// Forward (under bf16 autocast when asked), backward and optimizer step on the
/// weighted mean loss of the global batch; returns that loss without waiting for the device.
/// Each rank backpropagates its weighted sum; with a communicator the gradient sums, weight
/// sums and `agreement` travel in one all-reduce, so N ranks take the step one process would
/// take on the union of their batches, and agree on what to do after it. With `graphs` the
/// encoder replays from CUDA graphs.
inline torch::Tensor trainStep(model::TauTransformer& model, torch::optim::Optimizer& optimizer,
                               const LossWeights& weighting, const data::TensorBatch& batch,
                               const torch::Device& device, bool bf16, dist::Communicator* comm = nullptr,
                               StepAgreement* agreement = nullptr, GraphedModel* graphs = nullptr) {
  // Gradients set to none (as LibTorch 2.x's zero_grad does, 1.13's zeroes them): backward then
  // hands over its tensors, a graph's static ones included, instead of adding them to zeros.
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) p.mutable_grad() = torch::Tensor();
  torch::Tensor logits;
  {
    compat::AutocastGuard autocast(device, bf16);
    logits = graphs ? graphs->forward(batch) : model->forward(batch);
  }
  const auto [lossSum, weightSum] = weighting.sums(logits, batch);
  lossSum.backward();
  auto totals = torch::stack({lossSum.detach(), weightSum.detach()});
  auto parameters = model->parameters();
  if (comm) {
    std::vector<torch::Tensor> tensors;
    for (auto& p : parameters) {
      // Every rank must send the same layout, also for a parameter its batch did not reach.
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      tensors.push_back(p.grad());
    }
    tensors.push_back(totals);
    torch::Tensor flags;
    if (agreement) {
      flags = torch::tensor({agreement->stop_requested ? 1.0f : 0.0f, agreement->checkpoint_due ? 1.0f : 0.0f}).to(device);
      tensors.push_back(flags);
    }
    comm->allReduceSum(tensors);
    if (agreement) {
      const auto summed = flags.cpu();
      agreement->stop_requested = summed[0].item<float>() > 0;
      agreement->checkpoint_due = summed[1].item<float>() > 0;
    }
  }
  std::vector<torch::Tensor> gradients;
  for (auto& p : parameters)
    if (p.grad().defined()) gradients.push_back(p.grad());
  compat::multiplyAll(gradients, totals[1].reciprocal());
  optimizer.step();
  return totals[0] / totals[1];
}

/// One pass over epoch 0 of `loader` without gradient: use(loaded batch, its tensors on the
/// device, float logits) for every batch in plan order; with `graphs` the encoder replays.
template <typename Use>
void predict(model::TauTransformer& model, data::Loader& loader, const torch::Device& device, bool bf16, Use use,
             GraphedModel* graphs = nullptr) {
  torch::NoGradGuard noGrad;
  model->eval();
  loader.startEpoch(0);
  while (auto loaded = loader.next()) {
    const auto batch = loaded->tensors->to(device);
    torch::Tensor logits;
    {
      compat::AutocastGuard autocast(device, bf16);
      logits = (graphs ? graphs->forward(batch) : model->forward(batch)).to(torch::kFloat);
    }
    use(*loaded, batch, logits);
  }
}

}  // namespace tautrain::train
