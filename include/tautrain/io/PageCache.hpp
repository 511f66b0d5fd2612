#pragma once
// What a benchmark needs to read files from the disk rather than from memory: evicting a file
// from the page cache, checking it left, and counting the bytes this process read from storage.
#include <cstdint>
#include <string>

namespace tautrain::io {

/// Writes back and evicts `path`'s pages from the page cache; returns the fraction of its pages
/// still cached afterwards (pages mapped by another process stay).
double evictFromPageCache(const std::string& path);
/// Fraction of `path`'s pages in the page cache.
double cachedFraction(const std::string& path);
/// Bytes this process has had fetched from storage (/proc/self/io read_bytes; -1 if unknown).
std::int64_t bytesReadFromStorage();

}  // namespace tautrain::io
