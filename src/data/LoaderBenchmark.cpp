#include "tautrain/data/LoaderBenchmark.hpp"

#include <algorithm>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "tautrain/config/GeneratorConfig.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Measure.hpp"
#include "tautrain/data/Batching.hpp"
#include "tautrain/data/Convert.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"

namespace tautrain::data {

namespace fs = std::filesystem;

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

  const Dataset dataset(paths, schema);
  result.candidates = dataset.size();
  start = SteadyClock::now();
  const auto scaler = StandardScaler::fit(dataset, 1);
  result.scaler_fit_per_s = static_cast<double>(dataset.size()) / secondsSince(start);

  BatchingOptions smart;
  smart.batch_size = options.batch_size;
  smart.window_batches = options.window_batches;
  BatchingOptions random = smart;
  random.smart = false;
  const auto counts = dataset.tokenCounts({});
  const auto blocks = dataset.blocks(256);
  result.padding_efficiency_smart = paddingEfficiency(counts, planEpoch(counts, blocks, smart, /*seed=*/1, /*epoch=*/0));
  result.padding_efficiency_random = paddingEfficiency(counts, planEpoch(counts, blocks, random, /*seed=*/1, /*epoch=*/0));

  const int maxThreads =
      options.max_threads > 0 ? options.max_threads : static_cast<int>(std::thread::hardware_concurrency());
  const auto loaderRate = [&](const Dataset& shards, int threads) {
    LoaderOptions loaderOptions;
    loaderOptions.batching = smart;
    loaderOptions.threads = threads;
    Loader loader(shards, scaler, loaderOptions);
    const auto begin = SteadyClock::now();
    loader.startEpoch(0);
    std::int64_t candidates = 0;
    while (auto batch = loader.next()) candidates += batch->host.size;
    return static_cast<double>(candidates) / secondsSince(begin);
  };
  for (int threads = 1; threads <= maxThreads; ++threads) {
    const double rate = loaderRate(dataset, threads);
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
    rate.loader_one_thread_per_s = loaderRate(shards, 1);
    rate.loader_all_threads_per_s = loaderRate(shards, maxThreads);
    logger->info("{} level {}: {:.0f} bytes/candidate, loader {:.0f} candidates/s on 1 thread, {:.0f} on {}",
                 core::nameOf(compression.codec), compression.level, rate.bytes_per_candidate,
                 rate.loader_one_thread_per_s, rate.loader_all_threads_per_s, maxThreads);
    result.codecs.push_back(rate);
    fs::remove_all(rewrite.output_directory);
  }
  return result;
}

}  // namespace tautrain::data
