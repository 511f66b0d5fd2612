#include <iostream>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Progress.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Scaler.hpp"
#include "tautrain/data/Summary.hpp"
#include "tautrain/io/Json.hpp"

namespace tautrain::cli {

namespace {

struct InspectOptions {
  std::vector<std::string> files;
  std::string features = "builtin";
  std::string json;
};

}  // namespace

void addDataCommands(CLI::App& app) {
  auto* inspect = app.add_subcommand("inspect", "Validate shards and print their statistics (classes, token counts, pT)");
  auto inspectOptions = std::make_shared<InspectOptions>();
  inspect->add_option("files", inspectOptions->files, "shard files, directories or glob patterns")->required();
  inspect->add_option("--features", inspectOptions->features, "feature schema: builtin or a YAML path");
  inspect->add_option("--json", inspectOptions->json, "also write the statistics as JSON");
  inspect->callback([inspectOptions] {
    const auto schema = data::FeatureSchema::fromSpec(inspectOptions->features);
    const data::Dataset dataset(data::expandPaths(inspectOptions->files), schema);
    const auto summary = data::summarize(dataset);
    std::cout << summary.toText();
    if (!inspectOptions->json.empty()) io::writeJson(inspectOptions->json, summary.toJson());
  });

  auto* scaler = app.add_subcommand("fit-scaler", "Fit the standard scaler on the training shards of a config");
  auto scalerOptions = std::make_shared<RunOptions>();
  scalerOptions->config.addTo(*scaler);
  scaler->add_option("-o,--out", scalerOptions->output, "scaler JSON to write")->required();
  scaler->callback([scalerOptions] {
    const auto config = scalerOptions->config.load();
    const auto schema = data::FeatureSchema::fromSpec(config.data.features);
    const auto split = data::splitFiles(config.data);
    const data::Dataset train(split.train, schema, data::readOptions(config.data));
    auto logger = log::get("data");
    ProgressMeter progress(logger, "fit scaler", train.size());
    const auto fitted = data::StandardScaler::fit(train, config.data.threads,
                                                  [&](std::int64_t done, std::int64_t) { progress.update(done); });
    fitted.save(scalerOptions->output);
    logger->info("scaler of {} training candidates written to {}", train.size(), scalerOptions->output);
  });
}

}  // namespace tautrain::cli
