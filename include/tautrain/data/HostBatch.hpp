#pragma once
// One batch in host memory, ready for the model, in two layouts at once:
//  - padded: every candidate a sequence of max_len slots, padding_mask marks the empty ones;
//  - packed: all real tokens back to back, candidate i at [cu_seqlens[i], cu_seqlens[i+1]).
// A candidate's sequence is its global token, then its pf, ele and muon tokens (schema order).
// Token features are scaled; categorical columns are removed and give the token type instead.
#include <cstdint>
#include <string>
#include <vector>

namespace tautrain::data {

struct HostTokens {
  std::string collection;
  int n_features = 0;                   ///< scaled, non-categorical columns
  std::vector<float> features;          ///< [n_tokens, n_features]
  std::vector<std::int64_t> type;       ///< token type index per token
  std::vector<std::int64_t> padded_pos; ///< slot in [size * max_len]
  std::vector<std::int64_t> packed_pos; ///< slot in [total real tokens]
  std::int64_t tokens() const { return static_cast<std::int64_t>(type.size()); }
};

struct HostBatch {
  std::int64_t epoch = 0;
  std::int64_t index = 0;  ///< position in the epoch (for resume)
  std::int64_t size = 0;
  std::int64_t max_len = 0;
  std::vector<std::int64_t> candidate;  ///< dataset indices
  std::vector<std::int64_t> label;
  std::vector<float> weight;
  std::vector<float> pt, eta;
  std::vector<std::int64_t> decay_mode;
  std::vector<HostTokens> collections;
  std::vector<std::int32_t> cu_seqlens;     ///< [size + 1]
  std::vector<std::uint8_t> padding_mask;   ///< [size * max_len], 1 = padding

  std::int64_t realTokens() const { return cu_seqlens.empty() ? 0 : cu_seqlens.back(); }
  std::int64_t paddedTokens() const { return size * max_len; }
};

}  // namespace tautrain::data
