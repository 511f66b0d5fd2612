#pragma once
// Training steps through train::GraphedModel or eagerly, on any device, for the tests that the
// two agree (emulated graphs on a CPU, captured ones on a GPU).
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "tautrain/compat/TorchCompat.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/GraphedModel.hpp"
#include "tautrain/train/MultiTensorAdam.hpp"

namespace tautrain::test {

/// Four batches of test::tinyBlock candidates in two shapes when `loader` buckets lengths:
/// lengths up to 8 pad to 8, 9-token candidates (i % 14 == 13) to 16.
inline std::vector<data::TensorBatch> twoShapeBatches(const data::Loader& loader, const torch::Device& device) {
  std::vector<data::TensorBatch> batches;
  for (const std::vector<std::int64_t>& rows : {std::vector<std::int64_t>{0, 1, 2, 3, 4, 5}, {13, 14, 15, 27, 28, 29},
                                               {30, 31, 32, 33, 34, 36}, {41, 42, 43, 44, 45, 46}})
    batches.push_back(data::toTensors(loader.assemble(rows, 0)).to(device, /*non_blocking=*/false));
  return batches;
}

struct StepsResult {
  std::vector<float> losses;
  std::vector<torch::Tensor> weights;  ///< after the last step, on the CPU
  std::vector<torch::Tensor> logits;   ///< inference on every batch after training, on the CPU
  std::int64_t graphs = 0, replays = 0, eager = 0;
};

/// Trains a model of `config` (seeded) for one step per batch, then scores every batch.
inline StepsResult runSteps(const data::FeatureSchema& schema, const model::ModelConfig& config,
                            const torch::Device& device, const std::vector<data::TensorBatch>& batches, bool graphed,
                            int limit = 16, bool bf16 = false) {
  torch::manual_seed(11);
  model::TauTransformer model(schema, config);
  model->to(device);
  const auto graphs = graphed ? std::make_unique<train::GraphedModel>(model, device, limit) : nullptr;
  train::MultiTensorAdam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
  const auto forward = [&](const data::TensorBatch& batch) {
    compat::AutocastGuard autocast(device, bf16);
    return graphs ? graphs->forward(batch) : model->forward(batch);
  };
  StepsResult result;
  model->train();
  for (const auto& batch : batches) {
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    const auto loss = torch::nn::functional::cross_entropy(forward(batch).to(torch::kFloat), batch.label);
    loss.backward();
    optimizer.step();
    result.losses.push_back(loss.item<float>());
  }
  model->eval();
  {
    torch::NoGradGuard noGrad;
    for (const auto& batch : batches) result.logits.push_back(forward(batch).to(torch::kCPU, torch::kFloat));
  }
  for (const auto& p : model->parameters()) result.weights.push_back(p.detach().cpu());
  if (graphs) {
    result.graphs = static_cast<std::int64_t>(graphs->captured().size());
    result.replays = graphs->replays();
    result.eager = graphs->eagerCalls();
  }
  return result;
}

}  // namespace tautrain::test
