#pragma once
// What `tautrain bench loader` measures: the synthetic generator, the scaler fit, padding
// efficiency of smart against random batching, loader throughput per thread count, the shard
// codecs (bytes per candidate against loader throughput, from the page cache and from the
// disk), and the memory the loader keeps per candidate. On existing shards (measureLoaderOn):
// memory, and throughput from the disk per thread count.
#include <cstdint>
#include <string>
#include <vector>

#include "tautrain/data/Mixing.hpp"
#include "tautrain/io/Compression.hpp"

namespace tautrain::data {

struct LoaderBenchmarkOptions {
  std::int64_t candidates = 100000;
  int max_threads = 0;  ///< loader threads up to this (0: all cores)
  int batch_size = 350;
  int window_batches = 64;
  std::int64_t block_size = 256;  ///< candidates read contiguously from a shard
  /// Each rewrites the same shards; the first is the baseline of the others' ratios.
  std::vector<io::Compression> codecs = {{io::Codec::kNone, 0}, {io::Codec::kDeflate, 1}, {io::Codec::kZstd, 1}};
};

/// Memory the loader keeps for the whole run, per candidate of the dataset.
struct LoaderFootprint {
  double index_bytes_per_candidate = 0;         ///< shards: labels and token indices
  double token_counts_bytes_per_candidate = 0;  ///< the loader's counts for batching
  double plan_bytes_per_candidate = 0;          ///< one epoch's plan of one rank
  double open_seconds = 0;                      ///< opening and validating every shard
};

/// One epoch read with the shards evicted from the page cache first.
struct DiskRate {
  int threads = 0;
  double candidates_per_s = 0;
  double megabytes_per_s = 0;            ///< read from storage (10^6 bytes)
  double read_bytes_per_candidate = 0;   ///< from storage, as the kernel counted it
  double cached_fraction_before = 0;     ///< of the shards' pages after eviction (0: all from disk)
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
    /// The same two, decoded by HDF5's own filters under its lock (io::h5::ChunkDecoding): the
    /// baseline of decoding outside it. 0 for uncompressed shards.
    double hdf5_filters_one_thread_per_s = 0, hdf5_filters_all_threads_per_s = 0;
    DiskRate disk_one_thread, disk_all_threads;
  };
  std::vector<CodecRate> codecs;
  LoaderFootprint footprint;  ///< of the shards generated
  PlanMixing mixing;          ///< of one epoch's smart batches
};

/// Measures on existing shards: how many candidates, bytes on disk, footprint, one disk-read
/// epoch per thread count 1..max_threads, and the peak resident memory while loading.
struct LoaderOnDisk {
  std::int64_t candidates = 0;
  std::int64_t shards = 0;
  double bytes_per_candidate = 0;  ///< on disk
  LoaderFootprint footprint;
  PlanMixing mixing;
  std::vector<DiskRate> disk;
  std::int64_t peak_resident_bytes = 0;  ///< from opening the shards to the last epoch's end
};

/// Generates options.candidates thesis-like candidates into `directory` and measures there.
LoaderBenchmark measureLoader(const LoaderBenchmarkOptions& options, const std::string& directory);
LoaderOnDisk measureLoaderOn(const std::vector<std::string>& paths, const LoaderBenchmarkOptions& options);

}  // namespace tautrain::data
