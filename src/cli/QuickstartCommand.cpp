#include <filesystem>
#include <iostream>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Progress.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/Summary.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"

namespace tautrain::cli {

namespace {

struct QuickstartOptions {
  ConfigOptions config;
  std::string output;
};

// The embedded synthetic default: small enough for two CPU cores, big enough to split by file.
const std::vector<std::string> kQuickstartDefaults = {
    "output=runs/quickstart", "generator.candidates=20000", "generator.shard_size=2500",
    "generator.output=runs/quickstart/data", "data.files=[runs/quickstart/data]"};

void runQuickstart(const QuickstartOptions& options) {
  std::vector<std::string> extra;
  if (!options.output.empty()) {
    extra = {"output=" + options.output, "generator.output=" + options.output + "/data",
             "data.files=[" + options.output + "/data]"};
  }
  const auto config = options.config.load(extra, kQuickstartDefaults);
  if (options.config.dump) {
    std::cout << config::dumpRunConfig(config);
    return;
  }
  prepareOutputDirectory(config.output, config, "config");
  auto logger = log::get("cli");
  const auto schema = data::FeatureSchema::fromSpec(config.data.features);

  logger->info("step 1/3: generate {} synthetic candidates into {}", config.generator.candidates, config.generator.output);
  ProgressMeter generateProgress(log::get("data"), "generate", config.generator.candidates);
  data::SyntheticGenerator(schema, config.generator).writeShards([&](std::int64_t done, std::int64_t) {
    generateProgress.update(done);
  });

  logger->info("step 2/3: split by file and fit the standard scaler on the training shards");
  const auto split = data::splitFiles(config.data);
  const data::Dataset train(split.train, schema, data::readOptions(config.data));
  const data::Dataset valid(split.valid, schema, data::readOptions(config.data));
  const auto scaler = data::StandardScaler::fit(train, config.data.threads);
  const std::string scalerPath = (std::filesystem::path(config.output) / "scaler.json").string();
  scaler.save(scalerPath);

  logger->info("step 3/3: one epoch of smart batches over the training shards");
  data::Loader loader(train, scaler, data::LoaderOptions::fromConfig(config.data, config.seed));
  loader.startEpoch(0);
  std::int64_t candidates = 0, real = 0, padded = 0;
  ProgressMeter batchProgress(log::get("data"), "batches", loader.batchesInEpoch(), "batches");
  while (auto batch = loader.next()) {
    candidates += batch->host.size;
    real += batch->host.realTokens();
    padded += batch->host.paddedTokens();
    batchProgress.update(batch->host.index + 1);
  }

  std::cout << "\n== training data (" << split.train.size() << " shards) ==\n"
            << data::summarize(train).toText() << "\n== validation data (" << split.valid.size() << " shards) ==\n"
            << data::summarize(valid).toText() << "\n== smart batching ==\n"
            << loader.batchesInEpoch() << " batches of up to " << config.data.batch_size << " candidates, " << candidates
            << " candidates, padding efficiency " << (padded ? double(real) / padded : 0.0) << "\n"
            << "scaler: " << scalerPath << "\nrun directory: " << config.output << "\n";
}

}  // namespace

void addQuickstartCommand(CLI::App& app) {
  auto* command = app.add_subcommand("quickstart", "Generate the synthetic default and run it through the data pipeline");
  auto options = std::make_shared<QuickstartOptions>();
  options->config.addTo(*command);
  command->add_option("-o,--out", options->output, "run directory (default runs/quickstart)");
  command->callback([options] { runQuickstart(*options); });
}

}  // namespace tautrain::cli
