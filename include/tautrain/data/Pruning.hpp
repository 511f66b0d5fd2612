#pragma once
// Token pruning (docs/physics.md §4): a dR cut per token and a per-collection cap with seeded
// random removal.
#include <cstdint>
#include <vector>

#include "tautrain/data/CandidateBlock.hpp"
#include "tautrain/config/DataConfig.hpp"
#include "tautrain/data/FeatureSchema.hpp"

namespace tautrain::data {

class TokenPruner {
 public:
  TokenPruner(const FeatureSchema& schema, const PruningConfig& config, std::uint64_t seed);

  /// Fills `kept` with the surviving tokens of block candidate `local` in collection c, as
  /// block token rows in their original order; `candidate` and `epoch` seed the random cap.
  void select(std::size_t c, const TokenMatrix& m, std::int64_t local, std::int64_t candidate, std::int64_t epoch,
              std::vector<std::int64_t>& kept) const;
  /// Column of collection c's dR when the dR cut applies to it (tokens with dR <= maxDr stay), else -1.
  int drColumn(std::size_t c) const { return m_drColumn[c]; }
  double maxDr() const { return m_maxDr; }

 private:
  std::vector<int> m_drColumn;        ///< per collection; -1: no dR cut
  std::vector<std::int64_t> m_cap;    ///< per collection; -1: no cap
  double m_maxDr;
  std::uint64_t m_seed;
};

}  // namespace tautrain::data
