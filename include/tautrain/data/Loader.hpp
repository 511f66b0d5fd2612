#pragma once
// Streams smart batches from a Dataset: background threads read whole windows of blocks,
// prune, scale and assemble batches; next() hands them out in plan order, so the sequence is
// the same for any number of threads and can resume from any batch of an epoch.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "tautrain/core/OrderedPipeline.hpp"
#include "tautrain/data/Batching.hpp"
#include "tautrain/config/DataConfig.hpp"
#include "tautrain/data/HostBatch.hpp"
#include "tautrain/data/Pruning.hpp"
#include "tautrain/data/Scaler.hpp"

namespace tautrain::data {

class Dataset;
struct TensorBatch;

struct LoaderOptions {
  BatchingOptions batching;
  PruningConfig pruning;
  std::int64_t block_size = 256;
  int threads = 2;
  int prefetch_windows = 1;
  std::uint64_t seed = 1;
  int rank = 0;
  int world_size = 1;
  RankShare share = RankShare::kBlocks;
  /// Also build tensors in the background (pinned when pin_memory).
  bool make_tensors = false;
  bool pin_memory = false;
  /// Pads each batch to lengthBucket of its longest candidate (fewer shapes for CUDA graphs).
  bool bucket_lengths = false;

  static LoaderOptions fromConfig(const DataConfig& config, std::uint64_t seed);
};

struct LoadedBatch {
  HostBatch host;
  std::shared_ptr<TensorBatch> tensors;  ///< set when LoaderOptions::make_tensors
};

class Loader {
 public:
  /// Keeps a reference to `dataset` (it must outlive the loader) and a copy of the small scaler.
  Loader(const Dataset& dataset, StandardScaler scaler, LoaderOptions options);
  Loader(Dataset&&, StandardScaler, LoaderOptions) = delete;
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// Plans the epoch and starts reading at batch firstBatch (0, or a resume position).
  void startEpoch(std::int64_t epoch, std::int64_t firstBatch = 0);
  /// The next batch of the epoch in plan order; nullopt at its end. Rethrows reader errors.
  std::optional<LoadedBatch> next();
  std::int64_t batchesInEpoch() const { return static_cast<std::int64_t>(m_plan.batches.size()); }
  const EpochPlan& plan() const { return m_plan; }
  /// Tokens of the dataset's longest candidate after pruning's caps.
  std::int64_t longestCandidate() const;
  void stop();

  /// Assembles one batch from candidates (dataset indices); the workers use the same code.
  HostBatch assemble(const std::vector<std::int64_t>& candidates, std::int64_t epoch) const;

 private:
  struct Window;
  std::int64_t windowOf(std::int64_t batch) const;
  void processWindow(std::int64_t window, Window& buffer, const OrderedPipeline<LoadedBatch>::Emit& emit) const;
  static constexpr std::int64_t kBatchesAhead = 4;
  HostBatch assembleFrom(const Window& data, const std::vector<std::int64_t>& candidates, std::int64_t epoch) const;

  const Dataset& m_dataset;
  StandardScaler m_scaler;
  LoaderOptions m_options;
  TokenPruner m_pruner;
  std::vector<TokenCount> m_tokenCounts;
  std::vector<Block> m_blocks;
  std::vector<std::vector<int>> m_featureColumns;  ///< non-categorical columns per collection
  std::vector<int> m_typeColumn;
  std::vector<std::vector<int>> m_validity;

  EpochPlan m_plan;
  std::int64_t m_epoch = 0;
  std::vector<std::int64_t> m_windowFirstBatch;  ///< per window, its first batch in the plan
  std::int64_t m_firstBatch = 0;
  std::vector<Window> m_buffers;  ///< raw tokens of each worker's window; reused by the next one
  std::unique_ptr<OrderedPipeline<LoadedBatch>> m_pipeline;
};

}  // namespace tautrain::data
