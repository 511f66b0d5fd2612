#include "tautrain/deploy/Benchmark.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Measure.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/deploy/Export.hpp"
#include "tautrain/deploy/Runtime.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/Checkpoint.hpp"

namespace tautrain::deploy {

InferenceBenchReport measureInference(const std::string& checkpoint, const std::vector<std::string>& shards,
                                      const std::string& onnxPath, const InferenceBenchOptions& options) {
  TAUTRAIN_CHECK_KEY(options.candidates > 0, "-n", "must be positive, not ", options.candidates);
  TAUTRAIN_CHECK_KEY(options.threads > 0, "--threads", "must be positive, not ", options.threads);
  TAUTRAIN_CHECK_KEY(options.rounds > 0, "--rounds", "must be positive, not ", options.rounds);
  for (const int b : options.batch_sizes) TAUTRAIN_CHECK_KEY(b > 0, "--batch", "must be positive, not ", b);
  exportOnnx(checkpoint, onnxPath, /*allowTokenCap=*/true);  // speed only: the cap's tokens are not compared
  OnnxRuntimeModel runtime(onnxPath, options.threads);

  const auto state = train::readCheckpointState(checkpoint);
  const auto run = config::parseRunConfig(state.config_yaml, checkpoint);
  const auto schema = data::FeatureSchema::fromSpec(run.data.features);
  const data::Dataset dataset(data::expandPaths(shards), schema, data::readOptions(run.data));
  const auto scaler = train::checkpointScaler(state, checkpoint);
  const data::Loader loader(dataset, scaler, data::LoaderOptions::fromConfig(run.data, run.seed));
  const auto n = std::min(options.candidates, dataset.size());
  TAUTRAIN_CHECK(n > 0, DataError, "no candidates in the data to time");

  torch::set_num_threads(options.threads);
  torch::NoGradGuard noGrad;
  model::TauTransformer model(schema, run.model);
  train::restoreCheckpoint(checkpoint, *model, nullptr, torch::kCPU);
  model->eval();

  InferenceBenchReport report;
  report.runtime = OnnxRuntimeModel::version();
  report.candidates = n;
  report.threads = options.threads;
  for (const int batchSize : options.batch_sizes) {
    // The same candidates in the same batches for both; a batch never crosses a shard.
    std::vector<data::TensorBatch> torchBatches;
    std::vector<GraphInputs> graphBatches;
    for (std::size_t s = 0; s < dataset.shardCount() && dataset.shardStart(s) < n; ++s) {
      const auto end = std::min(n, dataset.shardStart(s + 1)) - dataset.shardStart(s);
      for (std::int64_t begin = 0; begin < end; begin += batchSize) {
        const auto last = std::min(end, begin + batchSize);
        std::vector<std::int64_t> candidates(static_cast<std::size_t>(last - begin));
        std::iota(candidates.begin(), candidates.end(), dataset.shardStart(s) + begin);
        torchBatches.push_back(data::toTensors(loader.assemble(candidates, 0)));
        graphBatches.push_back(graphInputs(schema, dataset.shard(s).read(begin, last)));
      }
    }
    model->forward(torchBatches.front());  // first calls allocate
    runtime.run(graphBatches.front());
    std::vector<double> torchRates, graphRates;
    for (int round = 0; round < options.rounds; ++round) {
      auto start = SteadyClock::now();
      for (const auto& batch : torchBatches) model->forward(batch);
      torchRates.push_back(static_cast<double>(n) / secondsSince(start));
      start = SteadyClock::now();
      for (const auto& inputs : graphBatches) runtime.run(inputs);
      graphRates.push_back(static_cast<double>(n) / secondsSince(start));
    }
    auto& row = report.rows.emplace_back();
    row.batch_size = batchSize;
    row.libtorch_candidates_per_s = median(torchRates);
    row.onnxruntime_candidates_per_s = median(graphRates);
    log::get("bench")->info("batch {}: LibTorch {:.0f} candidates/s, {} {:.0f} candidates/s ({:.2f}x)", batchSize,
                            row.libtorch_candidates_per_s, report.runtime, row.onnxruntime_candidates_per_s,
                            row.onnxruntime_candidates_per_s / row.libtorch_candidates_per_s);
  }
  return report;
}

}  // namespace tautrain::deploy
