#include "tautrain/data/Pruning.hpp"

#include <algorithm>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Random.hpp"

namespace tautrain::data {

TokenPruner::TokenPruner(const FeatureSchema& schema, const PruningConfig& config, std::uint64_t seed)
    : m_maxDr(config.max_dr), m_seed(seed) {
  for (const auto& [name, cap] : config.max_tokens) {
    bool known = false;
    for (const auto& c : schema.collections) known |= c.name == name && !c.per_candidate;
    TAUTRAIN_CHECK_KEY(known, "data.pruning.max_tokens." + name, "is not a ragged collection of the schema");
  }
  for (const auto& c : schema.collections) {
    m_drColumn.push_back(c.per_candidate || config.max_dr <= 0 ? -1 : c.find("r"));
    auto it = config.max_tokens.find(c.name);
    m_cap.push_back(it == config.max_tokens.end() || it->second <= 0 ? -1 : it->second);
  }
}

void TokenPruner::select(std::size_t c, const TokenMatrix& m, std::int64_t local, std::int64_t candidate,
                         std::int64_t epoch, std::vector<std::int64_t>& kept) const {
  kept.clear();
  const std::int64_t first = m.offsets[local], last = m.offsets[local + 1];
  const int dr = m_drColumn[c];
  for (std::int64_t t = first; t < last; ++t)
    if (dr < 0 || m.row(t)[dr] <= m_maxDr) kept.push_back(t);
  const std::int64_t cap = m_cap[c];
  if (cap < 0 || static_cast<std::int64_t>(kept.size()) <= cap) return;
  Rng rng(streamSeed(m_seed, static_cast<std::uint64_t>(epoch) * 131 + c, static_cast<std::uint64_t>(candidate)));
  for (std::int64_t i = 0; i < cap; ++i)  // partial Fisher-Yates: the first cap are a uniform sample
    std::swap(kept[i], kept[i + static_cast<std::int64_t>(rng.below(kept.size() - i))]);
  kept.resize(cap);
  std::sort(kept.begin(), kept.end());
}

}  // namespace tautrain::data
