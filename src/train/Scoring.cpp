#include "tautrain/train/Scoring.hpp"

#include <torch/torch.h>

#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Progress.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/Checkpoint.hpp"
#include "Step.hpp"

namespace tautrain::train {

eval::ScoreTable scoreCheckpoint(const std::string& checkpoint, const std::vector<std::string>& shards,
                                 const std::string& deviceName) {
  const auto device = requireDevice(deviceName, "--device");
  const auto state = readCheckpointState(checkpoint);
  const auto run = config::parseRunConfig(state.config_yaml, checkpoint);
  const auto schema = data::FeatureSchema::fromSpec(run.data.features);
  const data::Dataset dataset(data::expandPaths(shards), schema, data::readOptions(run.data));
  const auto scaler = train::checkpointScaler(state, checkpoint);
  data::Loader loader(dataset, scaler, tensorLoaderOptions(run.data, run.seed, device));

  model::TauTransformer model(schema, run.model);
  restoreCheckpoint(checkpoint, *model, nullptr, device);

  const auto n = static_cast<std::size_t>(dataset.size());
  eval::ScoreTable scores;
  scores.checkpoint = checkpoint;
  scores.probabilities.resize(4 * n);
  scores.label.resize(n), scores.decay_mode.resize(n);
  scores.weight.resize(n), scores.pt.resize(n), scores.eta.resize(n);
  // The loader plans its batches when predict starts the epoch: the total is set at the first.
  ProgressMeter progress(log::get("eval"), "scoring " + checkpoint, 0, "batches", 10.0);
  std::int64_t done = 0;
  // fp32 whatever the run trained in: scores that physicists quote.
  predict(model, loader, device, /*bf16=*/false,
          [&](const data::LoadedBatch& loaded, const data::TensorBatch&, const torch::Tensor& logits) {
            const auto p = torch::softmax(logits, 1).to(torch::kCPU).contiguous();
            const float* rows = p.data_ptr<float>();
            const auto& host = loaded.host;
            for (std::int64_t i = 0; i < host.size; ++i) {
              const auto c = static_cast<std::size_t>(host.candidate[i]);
              std::copy(rows + 4 * i, rows + 4 * i + 4, scores.probabilities.begin() + 4 * c);
              scores.label[c] = host.label[i], scores.decay_mode[c] = host.decay_mode[i];
              scores.weight[c] = host.weight[i], scores.pt[c] = host.pt[i], scores.eta[c] = host.eta[i];
            }
            if (done == 0) progress.setTotal(loader.batchesInEpoch());
            progress.update(++done);
          });
  return scores;
}

}  // namespace tautrain::train
