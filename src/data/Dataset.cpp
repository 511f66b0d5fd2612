#include "tautrain/data/Dataset.hpp"

#include <algorithm>
#include <cmath>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Random.hpp"

namespace tautrain::data {

Dataset::Dataset(const std::vector<std::string>& paths, const FeatureSchema& schema, ShardReadOptions options)
    : m_schema(&schema) {
  TAUTRAIN_CHECK(!paths.empty(), DataError, "no shard files given");
  for (const auto& path : paths) {
    m_shards.emplace_back(path, schema, options);
    m_starts.push_back(m_starts.back() + m_shards.back().size());
  }
}

std::size_t Dataset::shardOf(std::int64_t i) const {
  return static_cast<std::size_t>(std::upper_bound(m_starts.begin(), m_starts.end(), i) - m_starts.begin() - 1);
}

std::vector<TokenCount> Dataset::tokenCounts(const PruningConfig& pruning) const {
  std::vector<std::int64_t> caps;
  for (const auto& c : m_schema->collections) {
    auto it = pruning.max_tokens.find(c.name);
    caps.push_back(it == pruning.max_tokens.end() || it->second <= 0 ? -1 : it->second);
  }
  std::vector<TokenCount> counts(static_cast<std::size_t>(size()));
  std::size_t k = 0;
  for (const auto& shard : m_shards)
    for (std::int64_t i = 0; i < shard.size(); ++i, ++k) {
      std::int64_t total = 0;
      for (std::size_t c = 0; c < caps.size(); ++c) {
        const std::int64_t n = shard.tokens(c).count(i);
        total += caps[c] < 0 ? n : std::min(n, caps[c]);
      }
      TAUTRAIN_CHECK(total <= kMaxTokenCount, DataError, shard.path(), ": candidate ", i, " has ", total,
                     " tokens, more than batching can count (", kMaxTokenCount, ")");
      counts[k] = static_cast<TokenCount>(total);
    }
  return counts;
}

std::size_t Dataset::indexBytes() const {
  std::size_t bytes = 0;
  for (const auto& s : m_shards) bytes += s.indexBytes();
  return bytes;
}

std::vector<Block> Dataset::blocks(std::int64_t blockSize) const {
  std::vector<std::int64_t> sizes;
  for (const auto& s : m_shards) sizes.push_back(s.size());
  return makeBlocks(sizes, blockSize);
}

std::array<std::int64_t, kNumClasses> Dataset::classCounts() const {
  std::array<std::int64_t, kNumClasses> counts{};
  for (const auto& s : m_shards)
    for (auto label : s.labels()) ++counts[label];
  return counts;
}

std::int64_t Dataset::replacedValues() const {
  std::int64_t total = 0;
  for (const auto& s : m_shards) total += s.replacedValues();
  return total;
}

namespace {

Split splitByFile(const DataConfig& config) {
  Split split;
  if (!config.train_files.empty()) {
    split.train = expandPaths(config.train_files);
    split.valid = expandPaths(config.valid_files);
    return split;
  }
  auto files = expandPaths(config.files);
  if (config.valid_fraction <= 0) {
    split.train = files;
    return split;
  }
  TAUTRAIN_CHECK_KEY(files.size() >= 2, "data.valid_fraction",
                 "a split by file needs at least 2 shards, found ", files.size(),
                 "; write more shards or set data.valid_fraction: 0");
  Rng rng(streamSeed(config.split_seed, 0x5b117));
  rng.shuffle(files.begin(), files.end());
  auto nValid = static_cast<std::size_t>(std::llround(config.valid_fraction * files.size()));
  nValid = std::clamp<std::size_t>(nValid, 1, files.size() - 1);
  split.valid.assign(files.begin(), files.begin() + nValid);
  split.train.assign(files.begin() + nValid, files.end());
  return split;
}

}  // namespace

Split splitFiles(const DataConfig& config) {
  auto split = splitByFile(config);
  // A data-scaling study trains on the first files of the (shuffled) training list, so a smaller
  // fraction's files are always part of a larger one's.
  if (config.train_fraction < 1) {
    const auto keep = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::ceil(config.train_fraction * static_cast<double>(split.train.size()))));
    split.train.resize(std::min(keep, split.train.size()));
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.valid.begin(), split.valid.end());
  return split;
}

ShardReadOptions readOptions(const DataConfig& config) {
  ShardReadOptions options;
  options.hard_token_limit = config.hard_token_limit;
  options.non_finite = parseNonFinitePolicy(config.non_finite);
  return options;
}

}  // namespace tautrain::data
