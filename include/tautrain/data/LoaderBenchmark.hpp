#pragma once
// What `tautrain bench loader` measures: the synthetic generator, the scaler fit, padding
// efficiency of smart against random batching, and loader throughput per thread count.
#include <cstdint>
#include <string>
#include <vector>

namespace tautrain::data {

struct LoaderBenchmarkOptions {
  std::int64_t candidates = 100000;
  int max_threads = 0;  ///< loader threads up to this (0: all cores)
  int batch_size = 350;
  int window_batches = 64;
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
};

/// Generates options.candidates thesis-like candidates into `directory` and measures there.
LoaderBenchmark measureLoader(const LoaderBenchmarkOptions& options, const std::string& directory);

}  // namespace tautrain::data
