#include "tautrain/data/LoaderBenchmark.hpp"

#include <algorithm>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "tautrain/config/GeneratorConfig.hpp"
#include "tautrain/core/Machine.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Measure.hpp"
#include "tautrain/data/Batching.hpp"
#include "tautrain/data/Convert.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"
#include "tautrain/io/Hdf5.hpp"
#include "tautrain/io/PageCache.hpp"

namespace tautrain::data {

namespace fs = std::filesystem;

namespace {

BatchingOptions smartBatching(const LoaderBenchmarkOptions& options) {
  BatchingOptions smart;
  smart.batch_size = options.batch_size;
  smart.window_batches = options.window_batches;
  return smart;
}

int threadsUpTo(const LoaderBenchmarkOptions& options) {
  return options.max_threads > 0 ? options.max_threads : static_cast<int>(std::thread::hardware_concurrency());
}

/// Candidates/s of one epoch.
double epochRate(const Dataset& shards, const StandardScaler& scaler, const BatchingOptions& batching,
                 std::int64_t blockSize, int threads) {
  LoaderOptions loaderOptions;
  loaderOptions.batching = batching;
  loaderOptions.block_size = blockSize;
  loaderOptions.threads = threads;
  Loader loader(shards, scaler, loaderOptions);
  const auto begin = SteadyClock::now();
  loader.startEpoch(0);
  std::int64_t candidates = 0;
  while (auto batch = loader.next()) candidates += batch->host.size;
  return static_cast<double>(candidates) / secondsSince(begin);
}

std::uintmax_t totalBytes(const std::vector<std::string>& paths) {
  std::uintmax_t bytes = 0;
  for (const auto& path : paths) bytes += fs::file_size(path);
  return bytes;
}

/// One epoch with every shard evicted from the page cache first.
DiskRate diskRate(const std::vector<std::string>& paths, const Dataset& shards, const StandardScaler& scaler,
                  const BatchingOptions& batching, std::int64_t blockSize, int threads) {
  DiskRate rate;
  rate.threads = threads;
  double cachedBytes = 0;
  for (const auto& path : paths)
    cachedBytes += io::evictFromPageCache(path) * static_cast<double>(fs::file_size(path));
  rate.cached_fraction_before = cachedBytes / static_cast<double>(totalBytes(paths));
  const std::int64_t readBefore = io::bytesReadFromStorage();
  const auto begin = SteadyClock::now();
  rate.candidates_per_s = epochRate(shards, scaler, batching, blockSize, threads);
  const double seconds = secondsSince(begin);
  // Counted after the loader's threads ended: the kernel adds theirs to the process then.
  const auto read = static_cast<double>(io::bytesReadFromStorage() - readBefore);
  rate.read_bytes_per_candidate = read / static_cast<double>(shards.size());
  rate.megabytes_per_s = read / seconds / 1e6;
  return rate;
}

LoaderFootprint footprintOf(const Dataset& shards, std::size_t planBytes, double openSeconds) {
  const auto n = static_cast<double>(shards.size());
  return {static_cast<double>(shards.indexBytes()) / n, static_cast<double>(sizeof(TokenCount)),
          static_cast<double>(planBytes) / n, openSeconds};
}

}  // namespace

LoaderBenchmark measureLoader(const LoaderBenchmarkOptions& options, const std::string& directory) {
  auto logger = log::get("bench");
  LoaderBenchmark result;
  const auto schema = FeatureSchema::builtin();
  GeneratorConfig generatorConfig;
  generatorConfig.candidates = options.candidates;
  generatorConfig.shard_size = std::max<std::int64_t>(1, options.candidates / 4);
  generatorConfig.output = directory;
  // Generation alone (one thread, in memory), then with shard writing on all threads.
  const SyntheticGenerator generator(schema, generatorConfig);
  auto start = SteadyClock::now();
  const std::int64_t chunk = 2048, chunks = 10;  // the chunk size writeShards uses
  for (std::int64_t k = 0; k < chunks; ++k) generator.generate(k * chunk, chunk);
  result.generate_one_thread_per_s = static_cast<double>(chunk * chunks) / secondsSince(start);
  start = SteadyClock::now();
  const auto paths = generator.writeShards();
  const double generateSeconds = secondsSince(start);
  result.generate_writing_shards_per_s = static_cast<double>(options.candidates) / generateSeconds;
  logger->info("generated {} thesis-like candidates in {:.1f}s", options.candidates, generateSeconds);

  start = SteadyClock::now();
  const Dataset dataset(paths, schema);
  const double openSeconds = secondsSince(start);
  result.candidates = dataset.size();
  start = SteadyClock::now();
  const auto scaler = StandardScaler::fit(dataset, 1);
  result.scaler_fit_per_s = static_cast<double>(dataset.size()) / secondsSince(start);

  const BatchingOptions smart = smartBatching(options);
  BatchingOptions random = smart;
  random.smart = false;
  const auto counts = dataset.tokenCounts({});
  const auto blocks = dataset.blocks(options.block_size);
  const auto smartPlan = planEpoch(counts, blocks, smart, /*seed=*/1, /*epoch=*/0);
  result.padding_efficiency_smart = paddingEfficiency(counts, smartPlan);
  result.mixing = measureMixing(smartPlan, dataset);
  result.footprint = footprintOf(dataset, smartPlan.bytes(), openSeconds);
  result.padding_efficiency_random = paddingEfficiency(counts, planEpoch(counts, blocks, random, /*seed=*/1, /*epoch=*/0));

  const int maxThreads = threadsUpTo(options);
  for (int threads = 1; threads <= maxThreads; ++threads) {
    const double rate = epochRate(dataset, scaler, smart, options.block_size, threads);
    result.loader.push_back({threads, rate});
    logger->info("loader, {} thread(s): {:.0f} candidates/s ({:.0f} per thread)", threads, rate, rate / threads);
  }

  for (const auto& compression : options.codecs) {
    ConvertOptions rewrite;
    rewrite.output_directory = (fs::path(directory) / fmt::format("{}-{}", core::nameOf(compression.codec), compression.level)).string();
    rewrite.compression = compression;
    start = SteadyClock::now();
    rewriteShards(paths, schema, rewrite);
    LoaderBenchmark::CodecRate rate;
    rate.compression = compression;
    rate.rewrite_per_s = static_cast<double>(dataset.size()) / secondsSince(start);
    std::vector<std::string> rewritten;
    std::uintmax_t bytes = 0;
    for (const auto& path : paths) {
      rewritten.push_back((fs::path(rewrite.output_directory) / fs::path(path).filename()).string());
      bytes += fs::file_size(rewritten.back());
    }
    rate.bytes_per_candidate = static_cast<double>(bytes) / static_cast<double>(dataset.size());
    const Dataset shards(rewritten, schema);
    rate.loader_one_thread_per_s = epochRate(shards, scaler, smart, options.block_size, 1);
    rate.loader_all_threads_per_s = epochRate(shards, scaler, smart, options.block_size, maxThreads);
    if (compression.codec != io::Codec::kNone) {
      const io::h5::ScopedChunkDecoding throughHdf5(io::h5::ChunkDecoding::kThroughHdf5);
      rate.hdf5_filters_one_thread_per_s = epochRate(shards, scaler, smart, options.block_size, 1);
      rate.hdf5_filters_all_threads_per_s = epochRate(shards, scaler, smart, options.block_size, maxThreads);
    }
    rate.disk_one_thread = diskRate(rewritten, shards, scaler, smart, options.block_size, 1);
    rate.disk_all_threads = diskRate(rewritten, shards, scaler, smart, options.block_size, maxThreads);
    logger->info("{} level {}: {:.0f} bytes/candidate, loader {:.0f} candidates/s on 1 thread, {:.0f} on {} "
                 "({:.0f} and {:.0f} decoded by HDF5); from disk {:.0f} and {:.0f}",
                 core::nameOf(compression.codec), compression.level, rate.bytes_per_candidate,
                 rate.loader_one_thread_per_s, rate.loader_all_threads_per_s, maxThreads,
                 rate.hdf5_filters_one_thread_per_s, rate.hdf5_filters_all_threads_per_s,
                 rate.disk_one_thread.candidates_per_s, rate.disk_all_threads.candidates_per_s);
    result.codecs.push_back(rate);
    fs::remove_all(rewrite.output_directory);
  }
  return result;
}

LoaderOnDisk measureLoaderOn(const std::vector<std::string>& paths, const LoaderBenchmarkOptions& options) {
  auto logger = log::get("bench");
  const auto schema = FeatureSchema::builtin();
  LoaderOnDisk result;
  resetPeakResidentBytes();
  auto start = SteadyClock::now();
  const Dataset dataset(paths, schema);
  const double openSeconds = secondsSince(start);
  result.candidates = dataset.size();
  result.shards = static_cast<std::int64_t>(dataset.shardCount());
  result.bytes_per_candidate = static_cast<double>(totalBytes(paths)) / static_cast<double>(dataset.size());
  logger->info("opened {} shards, {} candidates, in {:.1f}s; index {:.2f} bytes/candidate", result.shards,
               result.candidates, openSeconds, static_cast<double>(dataset.indexBytes()) / result.candidates);
  // Scales do not change the speed: the first shard's are enough.
  const auto scaler = StandardScaler::fit(Dataset({paths.front()}, schema), 1);
  const BatchingOptions smart = smartBatching(options);
  const auto plan = planEpoch(dataset.tokenCounts({}), dataset.blocks(options.block_size), smart, 1, 0);
  result.footprint = footprintOf(dataset, plan.bytes(), openSeconds);
  result.mixing = measureMixing(plan, dataset);
  for (int threads = 1; threads <= threadsUpTo(options); ++threads) {
    result.disk.push_back(diskRate(paths, dataset, scaler, smart, options.block_size, threads));
    const auto& rate = result.disk.back();
    logger->info("from disk, {} thread(s): {:.0f} candidates/s, {:.0f} MB/s, {:.0f} bytes read per candidate "
                 "({:.0f} % cached before)",
                 threads, rate.candidates_per_s, rate.megabytes_per_s, rate.read_bytes_per_candidate,
                 100 * rate.cached_fraction_before);
  }
  result.peak_resident_bytes = peakResidentBytes();
  return result;
}

}  // namespace tautrain::data
