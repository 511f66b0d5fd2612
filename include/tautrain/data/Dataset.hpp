#pragma once
// A set of shards seen as one indexable sequence of candidates.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tautrain/data/Batching.hpp"
#include "tautrain/config/DataConfig.hpp"
#include "tautrain/data/Shard.hpp"

namespace tautrain::data {

class Dataset {
 public:
  /// Opens and validates every shard up front, so bad files fail before any training.
  Dataset(const std::vector<std::string>& paths, const FeatureSchema& schema, ShardReadOptions options = {});

  const FeatureSchema& schema() const { return *m_schema; }
  std::int64_t size() const { return m_starts.back(); }
  std::size_t shardCount() const { return m_shards.size(); }
  const ShardReader& shard(std::size_t i) const { return m_shards[i]; }
  /// First candidate index of shard i; shardStart(shardCount()) == size().
  std::int64_t shardStart(std::size_t i) const { return m_starts[i]; }
  /// Shard holding candidate i.
  std::size_t shardOf(std::int64_t i) const;

  /// Tokens per candidate after the deterministic part of pruning (per-collection caps).
  std::vector<TokenCount> tokenCounts(const PruningConfig& pruning) const;
  std::vector<Block> blocks(std::int64_t blockSize) const;
  std::array<std::int64_t, kNumClasses> classCounts() const;
  std::int64_t replacedValues() const;
  /// Heap bytes every shard keeps open for the whole run (docs/data-format.md#index).
  std::size_t indexBytes() const;

 private:
  const FeatureSchema* m_schema;
  std::vector<ShardReader> m_shards;
  std::vector<std::int64_t> m_starts{0};
};

struct Split {
  std::vector<std::string> train, valid;
};
/// Train/validation split by file: explicit lists, or a seeded shuffle of `files` with
/// valid_fraction of them (at least one when the fraction is positive) held out.
Split splitFiles(const DataConfig& config);

ShardReadOptions readOptions(const DataConfig& config);

}  // namespace tautrain::data
