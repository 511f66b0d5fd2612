#include "tautrain/train/Scoring.hpp"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Progress.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/Checkpoint.hpp"

namespace tautrain::train {

eval::ScoreTable scoreCheckpoint(const std::string& checkpoint, const std::vector<std::string>& shards,
                                 const std::string& deviceName) {
  const torch::Device device(deviceName);
  TAUTRAIN_CHECK_KEY(!device.is_cuda() || torch::cuda::is_available(), "--device", deviceName,
                     " requested but this build or machine has no CUDA");
  const auto state = readCheckpointState(checkpoint);
  const auto run = config::parseRunConfig(state.config_yaml, checkpoint);
  const auto schema = data::FeatureSchema::fromSpec(run.data.features);
  const data::Dataset dataset(data::expandPaths(shards), schema, data::readOptions(run.data));
  const auto scaler = data::StandardScaler::fromJson(nlohmann::json::parse(state.scaler_json), checkpoint);
  auto loaderOptions = data::LoaderOptions::fromConfig(run.data, run.seed);
  loaderOptions.make_tensors = true;
  loaderOptions.pin_memory = device.is_cuda();
  data::Loader loader(dataset, scaler, loaderOptions);

  model::TauTransformer model(schema, run.model);
  restoreCheckpoint(checkpoint, *model, nullptr, device);
  model->eval();
  torch::NoGradGuard noGrad;

  const auto n = static_cast<std::size_t>(dataset.size());
  eval::ScoreTable scores;
  scores.checkpoint = checkpoint;
  scores.probabilities.resize(4 * n);
  scores.label.resize(n), scores.decay_mode.resize(n);
  scores.weight.resize(n), scores.pt.resize(n), scores.eta.resize(n);
  loader.startEpoch(0);
  ProgressMeter progress(log::get("eval"), "scoring " + checkpoint, loader.batchesInEpoch(), "batches", 10.0);
  std::int64_t done = 0;
  while (auto loaded = loader.next()) {
    const auto p = torch::softmax(model->forward(loaded->tensors->to(device)).to(torch::kFloat), 1).to(torch::kCPU).contiguous();
    const float* rows = p.data_ptr<float>();
    const auto& host = loaded->host;
    for (std::int64_t i = 0; i < host.size; ++i) {
      const auto c = static_cast<std::size_t>(host.candidate[i]);
      std::copy(rows + 4 * i, rows + 4 * i + 4, scores.probabilities.begin() + 4 * c);
      scores.label[c] = host.label[i], scores.decay_mode[c] = host.decay_mode[i];
      scores.weight[c] = host.weight[i], scores.pt[c] = host.pt[i], scores.eta[c] = host.eta[i];
    }
    progress.update(++done);
  }
  return scores;
}

}  // namespace tautrain::train
