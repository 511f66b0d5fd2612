#pragma once
// Statistics of a dataset from its offsets and per-candidate arrays (no token features read).
#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tautrain/data/Dataset.hpp"

namespace tautrain::data {

/// NaN/Inf values of one feature in one shard.
struct NonFiniteFeature {
  std::string file;
  std::string feature;  ///< "pt", "eta", "weight" or "collection/feature"
  std::int64_t count = 0;
  std::int64_t first_candidate = 0;  ///< index within the file
};

struct DatasetSummary {
  std::int64_t candidates = 0;
  std::array<std::int64_t, kNumClasses> class_counts{};
  std::map<int, std::int64_t> tau_decay_modes;
  std::map<std::string, double> mean_tokens;  ///< per collection, per candidate
  double tokens_mean = 0, tokens_median = 0, tokens_p99 = 0, tokens_max = 0;
  float pt_min = 0, pt_max = 0, pt_median = 0, abs_eta_max = 0;
  std::vector<NonFiniteFeature> non_finite;  ///< filled by findNonFinite, in file order
  std::int64_t nonFiniteValues() const;

  nlohmann::json toJson() const;
  std::string toText() const;
};

DatasetSummary summarize(const Dataset& dataset);

/// Reads every value of the shards (opened with NonFinitePolicy::kKeep) and reports each
/// feature that holds NaN or Inf, with counts and the first candidate; `threads` shards at once.
std::vector<NonFiniteFeature> findNonFinite(const Dataset& dataset, int threads);

}  // namespace tautrain::data
