#pragma once
// Where each candidate's tokens start in one collection of a shard, in about 1.1 bytes per
// candidate instead of an 8-byte offset: one-byte token counts (the rare larger ones kept
// apart) and the offset of every 64th candidate. With three ragged collections and the label,
// the thesis' 96 M candidates need about 0.42 GB of index (docs/data-format.md#index).
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tautrain::data {

class TokenIndex {
 public:
  TokenIndex() = default;
  /// From validated offsets: n + 1 entries, starting at 0, never decreasing.
  explicit TokenIndex(const std::vector<std::int64_t>& offsets);
  /// A per-candidate collection: candidate i is row i, one token each; stores nothing.
  static TokenIndex oneTokenEach(std::int64_t candidates);

  std::int64_t size() const { return m_size; }
  std::int64_t count(std::int64_t i) const;
  /// Row of candidate i's first token; offset(size()) is the number of rows.
  std::int64_t offset(std::int64_t i) const;
  std::int64_t rows() const { return offset(m_size); }
  /// Fills `out` with the offsets of candidates begin..end (end - begin + 1 entries) counted
  /// from offset(begin), which it returns.
  std::int64_t offsets(std::int64_t begin, std::int64_t end, std::vector<std::int64_t>& out) const;
  /// Heap bytes held.
  std::size_t bytes() const;

 private:
  static constexpr std::int64_t kStride = 64;
  static constexpr std::uint8_t kLarge = 255;  ///< the count is in m_large

  std::int64_t m_size = 0;
  bool m_oneTokenEach = false;
  std::vector<std::uint8_t> m_counts;
  std::vector<std::pair<std::int64_t, std::int64_t>> m_large;  ///< (candidate, count), by candidate
  std::vector<std::int64_t> m_base;  ///< offset of candidates 0, 64, 128, ... up to size()
};

}  // namespace tautrain::data
