#include "tautrain/data/Batching.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "tautrain/config/DataConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Random.hpp"

namespace tautrain::data {

BatchingOptions batchingOptions(const DataConfig& config) {
  BatchingOptions options;
  options.batch_size = config.batch_size;
  options.token_budget = config.token_budget;
  options.attention_budget = config.attention_budget;
  options.window_batches = config.window_batches;
  options.smart = config.smart_batching;
  return options;
}

double candidatesAllowed(const BatchingOptions& options, double length) {
  double allowed = options.batch_size > 0 ? options.batch_size : std::numeric_limits<double>::infinity();
  if (options.token_budget > 0) allowed = std::min(allowed, static_cast<double>(options.token_budget) / length);
  if (options.attention_budget > 0)
    allowed = std::min(allowed, static_cast<double>(options.attention_budget) / (length * length));
  return std::max(1.0, std::floor(allowed));
}

std::int64_t lengthBucket(std::int64_t length) {
  if (length <= 64) return std::max<std::int64_t>(8, (length + 7) / 8 * 8);
  std::int64_t octave = 64;  // the largest power of two below length
  while (octave * 2 < length) octave *= 2;
  const auto step = octave / 4;
  return (length + step - 1) / step * step;
}

std::vector<Block> makeBlocks(const std::vector<std::int64_t>& shardSizes, std::int64_t blockSize) {
  TAUTRAIN_CHECK_KEY(blockSize > 0, "data.block_size", "must be positive");
  std::vector<Block> blocks;
  std::int64_t start = 0;
  for (auto size : shardSizes) {
    for (std::int64_t b = 0; b < size; b += blockSize) blocks.push_back({start + b, start + std::min(size, b + blockSize)});
    start += size;
  }
  return blocks;
}

namespace {

/// Batches of one rank; returns them with their window indices.
void planRank(const std::vector<TokenCount>& counts, const std::vector<Block>& blocks,
              const std::vector<std::size_t>& blockOrder, const BatchingOptions& options, std::uint64_t seed,
              std::int64_t epoch, int rank, int worldSize, EpochPlan& plan) {
  std::vector<std::int64_t> candidates;
  for (std::size_t k = static_cast<std::size_t>(rank); k < blockOrder.size(); k += worldSize)
    for (auto i = blocks[blockOrder[k]].begin; i < blocks[blockOrder[k]].end; ++i) candidates.push_back(i);

  // Candidates per window: window_batches full batches; without a batch size, batches of what the
  // budgets allow a candidate of mean length.
  std::int64_t perBatch = options.batch_size;
  if (perBatch <= 0) {
    double mean = 0;
    for (auto i : candidates) mean += counts[i];
    mean = candidates.empty() ? 1 : std::max(1.0, mean / static_cast<double>(candidates.size()));
    perBatch = static_cast<std::int64_t>(candidatesAllowed(options, mean));
  }
  const std::int64_t windowSize = perBatch * options.window_batches;

  Rng rng(streamSeed(seed, static_cast<std::uint64_t>(epoch), 1000003ULL + static_cast<std::uint64_t>(rank)));
  std::int64_t windowIndex = 0;
  for (std::size_t start = 0; start < candidates.size(); start += windowSize, ++windowIndex) {
    auto first = candidates.begin() + start;
    auto last = candidates.begin() + std::min<std::size_t>(candidates.size(), start + windowSize);
    rng.shuffle(first, last);
    if (options.smart)  // stable: equal lengths keep their shuffled order
      std::stable_sort(first, last, [&](std::int64_t a, std::int64_t b) { return counts[a] < counts[b]; });
    std::vector<std::vector<std::int64_t>> windowBatches;
    std::vector<std::int64_t> current;
    std::int64_t longest = 0;
    for (auto it = first; it != last; ++it) {
      const std::int64_t len = std::max<std::int64_t>(longest, counts[*it]);
      const auto size = static_cast<std::int64_t>(current.size()) + 1;  // with this candidate
      // A candidate alone over a budget still makes a batch of its own.
      const bool full = (options.batch_size > 0 && size > options.batch_size) ||
                        (!current.empty() && ((options.token_budget > 0 && size * len > options.token_budget) ||
                                              (options.attention_budget > 0 &&
                                               size * len * len > options.attention_budget)));
      if (full) {
        windowBatches.push_back(std::move(current));
        current.clear();
        longest = 0;
      }
      current.push_back(*it);
      longest = std::max<std::int64_t>(longest, counts[*it]);
    }
    if (!current.empty()) windowBatches.push_back(std::move(current));
    rng.shuffle(windowBatches.begin(), windowBatches.end());
    for (auto& b : windowBatches) {
      b.shrink_to_fit();  // growth slack was ~50 % of the plan: 12 bytes per candidate, not 8
      plan.batches.push_back(std::move(b));
      plan.window.push_back(windowIndex);
    }
  }
}

}  // namespace

EpochPlan planEpoch(const std::vector<TokenCount>& tokenCounts, const std::vector<Block>& blocks,
                    const BatchingOptions& options, std::uint64_t seed, std::int64_t epoch, int rank, int worldSize) {
  TAUTRAIN_CHECK(worldSize >= 1 && rank >= 0 && rank < worldSize, Error, "rank ", rank, " outside world of ", worldSize);
  TAUTRAIN_CHECK_KEY(options.batch_size > 0 || options.token_budget > 0 || options.attention_budget > 0,
                     "data.batch_size", "batch_size, token_budget and attention_budget cannot all be 0");
  TAUTRAIN_CHECK_KEY(options.window_batches > 0, "data.window_batches", "must be positive");

  std::vector<std::size_t> blockOrder(blocks.size());
  std::iota(blockOrder.begin(), blockOrder.end(), 0);
  Rng rng(streamSeed(seed, static_cast<std::uint64_t>(epoch)));
  rng.shuffle(blockOrder.begin(), blockOrder.end());

  // Every rank plans every rank (cheap: sorting counts) so all agree on the common batch count.
  EpochPlan mine;
  std::int64_t common = -1;
  for (int r = 0; r < worldSize; ++r) {
    EpochPlan plan;
    planRank(tokenCounts, blocks, blockOrder, options, seed, epoch, r, worldSize, plan);
    const auto n = static_cast<std::int64_t>(plan.batches.size());
    mine.batchesPerRankBeforeTrim.push_back(n);
    common = common < 0 ? n : std::min(common, n);
    if (r == rank) {
      mine.batches = std::move(plan.batches);
      mine.window = std::move(plan.window);
    }
  }
  mine.batches.resize(common);
  mine.window.resize(common);
  return mine;
}

EpochPlan planRankShare(const std::vector<TokenCount>& tokenCounts, const std::vector<Block>& blocks,
                        const BatchingOptions& options, std::uint64_t seed, std::int64_t epoch, RankShare share,
                        int rank, int worldSize) {
  if (share == RankShare::kBlocks || worldSize == 1)
    return planEpoch(tokenCounts, blocks, options, seed, epoch, rank, worldSize);
  const auto global = planEpoch(tokenCounts, blocks, options, seed, epoch);
  EpochPlan mine;
  mine.batchesPerRankBeforeTrim = global.batchesPerRankBeforeTrim;
  for (std::size_t b = 0; b < global.batches.size(); ++b) {
    const auto& batch = global.batches[b];
    if (share == RankShare::kWholeBatches) {
      if (static_cast<int>(b % static_cast<std::size_t>(worldSize)) != rank) continue;
      mine.batches.push_back(batch);
    } else {
      // Batches are runs of a length-sorted window: interleaving gives each rank similar lengths.
      if (batch.size() < static_cast<std::size_t>(worldSize)) continue;
      std::vector<std::int64_t> slice;
      for (std::size_t k = static_cast<std::size_t>(rank); k < batch.size(); k += static_cast<std::size_t>(worldSize))
        slice.push_back(batch[k]);
      mine.batches.push_back(std::move(slice));
    }
    mine.window.push_back(global.window[b]);
  }
  return mine;
}

std::size_t EpochPlan::bytes() const {
  std::size_t total = batches.capacity() * sizeof(batches[0]) + window.capacity() * sizeof(window[0]) +
                      batchesPerRankBeforeTrim.capacity() * sizeof(batchesPerRankBeforeTrim[0]);
  for (const auto& batch : batches) total += batch.capacity() * sizeof(batch[0]);
  return total;
}

double paddingEfficiency(const std::vector<TokenCount>& tokenCounts, const EpochPlan& plan) {
  double real = 0, padded = 0;
  for (const auto& batch : plan.batches) {
    std::int64_t longest = 0;
    for (const auto i : batch) {
      real += tokenCounts[i];
      longest = std::max<std::int64_t>(longest, tokenCounts[i]);
    }
    padded += static_cast<double>(longest) * static_cast<double>(batch.size());
  }
  return padded > 0 ? real / padded : 0;
}

}  // namespace tautrain::data
