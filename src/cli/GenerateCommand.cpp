#include <iostream>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Progress.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"

namespace tautrain::cli {

namespace {

struct GenerateOptions {
  ConfigOptions config;
  std::string output;
  std::int64_t candidates = 0;
  std::int64_t shardSize = 0;
  std::uint64_t seed = 0;
  int threads = -1;

  std::vector<std::string> shortcuts() const {
    std::vector<std::string> set;
    if (!output.empty()) set.push_back("generator.output=" + output);
    if (candidates > 0) set.push_back("generator.candidates=" + std::to_string(candidates));
    if (shardSize > 0) set.push_back("generator.shard_size=" + std::to_string(shardSize));
    if (seed > 0) set.push_back("generator.seed=" + std::to_string(seed));
    if (threads >= 0) set.push_back("generator.threads=" + std::to_string(threads));
    return set;
  }
};

}  // namespace

void addGenerateCommand(CLI::App& app) {
  auto* command = app.add_subcommand("generate", "Write synthetic tau candidates as HDF5 shards (docs/synthetic-data.md)");
  auto options = std::make_shared<GenerateOptions>();
  options->config.addTo(*command);
  command->add_option("-o,--out", options->output, "output directory (generator.output)");
  command->add_option("-n,--candidates", options->candidates, "number of candidates (generator.candidates)");
  command->add_option("--shard-size", options->shardSize, "candidates per shard (generator.shard_size)");
  command->add_option("--seed", options->seed, "generator seed (generator.seed)");
  command->add_option("-j,--threads", options->threads, "threads, 0 = all cores (generator.threads)");
  command->callback([options] {
    const auto config = options->config.load(options->shortcuts());
    if (options->config.dump) {
      std::cout << config::dumpRunConfig(config);
      return;
    }
    const auto schema = data::FeatureSchema::fromSpec(config.data.features);
    prepareOutputDirectory(config.generator.output, config, "generator");
    auto logger = log::get("data");
    logger->info("generating {} candidates into {} (seed {})", config.generator.candidates, config.generator.output,
                 config.generator.seed);
    data::SyntheticGenerator generator(schema, config.generator);
    ProgressMeter progress(logger, "generate", config.generator.candidates);
    const auto paths = generator.writeShards([&](std::int64_t done, std::int64_t) { progress.update(done); });
    logger->info("wrote {} shards, {:.0f} candidates/s", paths.size(), progress.rate());
  });
}

}  // namespace tautrain::cli
