#include "tautrain/data/TokenIndex.hpp"

#include <algorithm>

namespace tautrain::data {

TokenIndex::TokenIndex(const std::vector<std::int64_t>& offsets)
    : m_size(static_cast<std::int64_t>(offsets.size()) - 1) {
  m_counts.resize(static_cast<std::size_t>(m_size));
  m_base.reserve(static_cast<std::size_t>(m_size / kStride + 1));
  for (std::int64_t i = 0; i <= m_size; ++i) {
    if (i % kStride == 0) m_base.push_back(offsets[i]);
    if (i == m_size) break;
    const std::int64_t n = offsets[i + 1] - offsets[i];
    m_counts[i] = static_cast<std::uint8_t>(std::min<std::int64_t>(n, kLarge));
    if (n >= kLarge) m_large.emplace_back(i, n);
  }
  m_large.shrink_to_fit();
}

TokenIndex TokenIndex::oneTokenEach(std::int64_t candidates) {
  TokenIndex index;
  index.m_size = candidates;
  index.m_oneTokenEach = true;
  return index;
}

std::int64_t TokenIndex::count(std::int64_t i) const {
  if (m_oneTokenEach) return 1;
  if (m_counts[i] != kLarge) return m_counts[i];
  return std::lower_bound(m_large.begin(), m_large.end(), std::pair<std::int64_t, std::int64_t>{i, 0})->second;
}

std::int64_t TokenIndex::offset(std::int64_t i) const {
  if (m_oneTokenEach) return i;
  std::int64_t offset = m_base[i / kStride];
  for (std::int64_t k = i - i % kStride; k < i; ++k) offset += count(k);
  return offset;
}

std::int64_t TokenIndex::offsets(std::int64_t begin, std::int64_t end, std::vector<std::int64_t>& out) const {
  out.resize(static_cast<std::size_t>(end - begin + 1));
  out[0] = 0;
  for (std::int64_t i = begin; i < end; ++i) out[i - begin + 1] = out[i - begin] + count(i);
  return offset(begin);
}

std::size_t TokenIndex::bytes() const {
  return m_counts.capacity() + m_large.capacity() * sizeof(m_large[0]) + m_base.capacity() * sizeof(m_base[0]);
}

}  // namespace tautrain::data
