#include "tautrain/train/HostMemory.hpp"

#include <algorithm>
#include <cmath>

#include "tautrain/config/RunConfig.hpp"
#include "tautrain/data/Batching.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/model/Cost.hpp"

namespace tautrain::train {

namespace {

// Measured on Debian 12's LibTorch 1.13 (docs/htcondor.md#host-memory): the peak of a process
// that trained a small model on 400 candidates.
constexpr double kProgramBytes = 0.20e9;
// Per open shard file once reads have touched it: HDF5's file, its metadata cache (bounded at
// 128 KiB) and what HDF5 keeps besides; measured 1.16 MB with `bench loader --data` on 200
// shards against 2 of the same 4000 candidates, every file open (docs/htcondor.md#host-memory).
// At most data::maxOpenShards() are open at once.
constexpr double kOpenShardBytes = 1.2e6;
// The CUDA runtime, cuBLAS and cuDNN mapped into the process: not measured here (no GPU).
constexpr double kCudaRuntimeBytes = 2.0e9;
// Batches assembled ahead of the step and the one in use (data::Loader), each as a padded host
// batch and as tensors.
constexpr double kBatchesHeld = 6 * 2;

}  // namespace

HostMemory predictHostMemory(const config::RunConfig& config, const data::DataExtent& train,
                             const data::DataExtent& valid, std::int64_t parameters, std::int64_t longest, bool onGpu,
                             int worldSize) {
  const auto schema = data::FeatureSchema::fromSpec(config.data.features);
  const auto limits = data::batchingOptions(config.data);
  int ragged = 0;
  for (const auto& c : schema.collections) ragged += c.per_candidate ? 0 : 1;
  HostMemory memory;
  memory.program = kProgramBytes + (onGpu ? kCudaRuntimeBytes : 0);

  // Per candidate for the whole run (docs/data-format.md#index): its label, a one-byte token
  // count and an offset every 64 candidates per ragged collection, the loader's two-byte count;
  // per candidate of this rank's plan, 8 bytes.
  const double kept = 1 + ragged * (1 + 8.0 / 64) + 2;
  const auto shards = static_cast<std::size_t>(train.shards + valid.shards);
  memory.index = kOpenShardBytes * static_cast<double>(std::min(shards, data::maxOpenShards()));
  for (const auto* extent : {&train, &valid}) {
    const double candidates = static_cast<double>(extent->candidates);
    memory.index += kept * candidates + 8 * candidates / worldSize;
    if (extent->candidates == 0) continue;
    // Each loader thread holds the raw features of one window, reused from window to window.
    const double perCandidate = extent->featureBytesPerCandidate() + 8.0 * ragged + 24;
    // As data::planEpoch sizes windows: full batches, or what the budgets allow the mean length.
    const double perBatch = limits.batch_size > 0
                                ? limits.batch_size
                                : data::candidatesAllowed(limits, static_cast<double>(extent->tokens) / candidates);
    const double window = perBatch * limits.window_batches;
    const double rankCandidates = candidates / worldSize;
    const double buffers = std::min<double>(config.data.threads, std::ceil(rankCandidates / window));
    memory.windows += buffers * std::min(window, rankCandidates) * perCandidate;
  }
  // The batches of the longest candidates, padded to the longest: the training loader's, which
  // runs while the validation loader waits.
  const auto& largest = train.candidates > 0 ? train : valid;
  if (largest.tokens > 0) {
    const double valuesPerToken = static_cast<double>(largest.feature_values) / static_cast<double>(largest.tokens);
    const double perBatch = data::candidatesAllowed(limits, static_cast<double>(longest));
    memory.windows += kBatchesHeld * perBatch * static_cast<double>(longest) * valuesPerToken * 4;
  }
  if (!onGpu) {
    const int valueBytes = config.train.precision == Precision::kBf16 ? 3 : 4;
    memory.training =
        model::CostModel(schema, config.model, valueBytes).worstTrainingMemoryBytes(parameters, limits, longest);
  }
  return memory;
}

}  // namespace tautrain::train
