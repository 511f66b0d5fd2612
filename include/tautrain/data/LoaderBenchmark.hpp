#pragma once
// What `tautrain bench loader` measures: the synthetic generator, the scaler fit, padding
// efficiency of smart against random batching, loader throughput per thread count, and the
// shard codecs: bytes per candidate against loader throughput.
#include <cstdint>
#include <string>
#include <vector>

#include "tautrain/io/Compression.hpp"

namespace tautrain::data {

struct LoaderBenchmarkOptions {
  std::int64_t candidates = 100000;
  int max_threads = 0;  ///< loader threads up to this (0: all cores)
  int batch_size = 350;
  int window_batches = 64;
  /// Each rewrites the same shards; the first is the baseline of the others' ratios.
  std::vector<io::Compression> codecs = {{io::Codec::kNone, 0}, {io::Codec::kDeflate, 1}, {io::Codec::kZstd, 1}};
};

struct LoaderBenchmark {
  std::int64_t candidates = 0;               ///< in the shards written
  double generate_one_thread_per_s = 0;      ///< candidates/s, one thread, in memory
  double generate_writing_shards_per_s = 0;  ///< candidates/s, all threads, shards written
  double scaler_fit_per_s = 0;
  double padding_efficiency_smart = 0, padding_efficiency_random = 0;
  struct LoaderRate {
    int threads = 0;
    double candidates_per_s = 0;
  };
  std::vector<LoaderRate> loader;  ///< 1 thread first: the baseline of the others
  struct CodecRate {
    io::Compression compression;
    double bytes_per_candidate = 0;     ///< on disk, whole shards
    double rewrite_per_s = 0;           ///< candidates/s rewriting the shards, one thread
    double loader_one_thread_per_s = 0; ///< candidates/s, page cache warm: decoding, not the disk
    double loader_all_threads_per_s = 0;
  };
  std::vector<CodecRate> codecs;
};

/// Generates options.candidates thesis-like candidates into `directory` and measures there.
LoaderBenchmark measureLoader(const LoaderBenchmarkOptions& options, const std::string& directory);

}  // namespace tautrain::data
