#include "tautrain/data/LoaderBenchmark.hpp"

#include <algorithm>
#include <thread>

#include "tautrain/config/GeneratorConfig.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Measure.hpp"
#include "tautrain/data/Batching.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"

namespace tautrain::data {

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
  for (int threads = 1; threads <= maxThreads; ++threads) {
    LoaderOptions loaderOptions;
    loaderOptions.batching = smart;
    loaderOptions.threads = threads;
    Loader loader(dataset, scaler, loaderOptions);
    start = SteadyClock::now();
    loader.startEpoch(0);
    std::int64_t candidates = 0;
    while (auto batch = loader.next()) candidates += batch->host.size;
    const double rate = static_cast<double>(candidates) / secondsSince(start);
    result.loader.push_back({threads, rate});
    logger->info("loader, {} thread(s): {:.0f} candidates/s ({:.0f} per thread)", threads, rate, rate / threads);
  }
  return result;
}

}  // namespace tautrain::data
