#pragma once
// A contiguous run of candidates in memory, in file layout: per-candidate arrays plus, for
// each collection, a flat [n_tokens, n_features] matrix with offsets.
#include <cstdint>
#include <vector>

namespace tautrain::data {

struct TokenMatrix {
  int n_features = 0;
  std::vector<float> values;           ///< [n_tokens * n_features], row-major
  std::vector<std::int64_t> offsets{0};  ///< [n_candidates + 1], offsets[0] == 0

  std::int64_t tokens() const { return offsets.back(); }
  std::int64_t count(std::int64_t candidate) const { return offsets[candidate + 1] - offsets[candidate]; }
  const float* row(std::int64_t token) const { return values.data() + token * n_features; }
  float* row(std::int64_t token) { return values.data() + token * n_features; }
  /// Appends one token row (zero-filled) to the open candidate and returns it.
  float* addRow() {
    values.resize(values.size() + n_features, 0.0f);
    return values.data() + values.size() - n_features;
  }
  /// Closes the current candidate: its tokens are those added since the last close.
  void closeCandidate() { offsets.push_back(static_cast<std::int64_t>(values.size() / n_features)); }
};

struct CandidateBlock {
  std::vector<std::int8_t> label;
  std::vector<float> pt;
  std::vector<float> eta;
  std::vector<std::int8_t> decay_mode;
  std::vector<float> weight;  ///< empty when the shard has no weights (all 1)
  /// One matrix per schema collection, in schema order (the global token: one row per candidate).
  std::vector<TokenMatrix> collections;

  std::int64_t size() const { return static_cast<std::int64_t>(label.size()); }
};

}  // namespace tautrain::data
