#pragma once
// Smart batching as a pure function of (token counts, blocks, config, seed, epoch, rank, world):
// shuffle blocks, give each rank its own blocks, take windows of many batches' worth of
// candidates, shuffle and sort each window by token count, cut into batches by candidate count,
// token budget and/or attention budget, shuffle the batch order within the window, and equalise
// batch counts across ranks.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace tautrain::data {

/// Tokens of one candidate; two bytes keep the thesis' 96 M candidates at 192 MB.
using TokenCount = std::uint16_t;
inline constexpr std::int64_t kMaxTokenCount = std::numeric_limits<TokenCount>::max();

struct BatchingOptions {
  int batch_size = 350;              ///< candidates per batch (0: no limit)
  std::int64_t token_budget = 0;     ///< padded tokens per batch, size x longest (0: no limit)
  /// Attention pairs per head and batch, size x longest² (0: no limit): what the reference
  /// attention's memory and every attention's time grow with, so the long tail stays bounded.
  std::int64_t attention_budget = 0;
  int window_batches = 64;           ///< batches' worth of candidates sorted together
  bool smart = true;                 ///< false: random batches (no sorting)
};

struct DataConfig;
/// The batching keys of the data section.
BatchingOptions batchingOptions(const DataConfig& config);

/// Candidates that a batch of candidates of `length` tokens may hold under the batch size and
/// budgets of `options` (at least one).
double candidatesAllowed(const BatchingOptions& options, double length);

/// The padded length of a batch whose longest candidate has `length` tokens, when lengths are
/// bucketed (a CUDA graph is captured per batch shape): multiples of 8 up to 64, then four
/// steps per doubling, so at most 25 % of padding is added and lengths up to 300 take 17 shapes.
std::int64_t lengthBucket(std::int64_t length);

/// A contiguous run of candidates [begin, end) in dataset order, never crossing a shard.
struct Block {
  std::int64_t begin = 0, end = 0;
};

/// Splits shards of the given sizes (in dataset order) into blocks of at most blockSize.
std::vector<Block> makeBlocks(const std::vector<std::int64_t>& shardSizes, std::int64_t blockSize);

struct EpochPlan {
  /// Candidate indices (dataset order) of every batch of this rank, in the order to train on.
  std::vector<std::vector<std::int64_t>> batches;
  /// Window of each batch: batches of one window are read together.
  std::vector<std::int64_t> window;
  /// Batches every rank would have had before equalising (for diagnostics).
  std::vector<std::int64_t> batchesPerRankBeforeTrim;

  /// Heap bytes held: 8 per candidate of the rank, plus a little per batch.
  std::size_t bytes() const;
};

/// How the ranks of a data-parallel run share an epoch.
enum class RankShare {
  kBlocks,       ///< each rank plans its own blocks (disjoint reads); batch counts equalised
  kBatchSlices,  ///< one global plan; rank r takes every world-th candidate of each batch
  kWholeBatches, ///< one global plan; rank r takes every world-th batch (validation: nothing dropped)
};

/// The plan of one rank under `share`; kBatchSlices drops batches with fewer candidates than
/// ranks, so that every rank has work at every step.
EpochPlan planRankShare(const std::vector<TokenCount>& tokenCounts, const std::vector<Block>& blocks,
                        const BatchingOptions& options, std::uint64_t seed, std::int64_t epoch, RankShare share,
                        int rank, int worldSize);

/// Real tokens over padded tokens of `plan`'s batches, each padded to its longest candidate:
/// what smart batching is for.
double paddingEfficiency(const std::vector<TokenCount>& tokenCounts, const EpochPlan& plan);

EpochPlan planEpoch(const std::vector<TokenCount>& tokenCounts, const std::vector<Block>& blocks,
                    const BatchingOptions& options, std::uint64_t seed, std::int64_t epoch, int rank = 0,
                    int worldSize = 1);

}  // namespace tautrain::data
