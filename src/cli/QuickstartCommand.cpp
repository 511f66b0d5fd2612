#include <iostream>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Progress.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Summary.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"
#include "tautrain/train/Trainer.hpp"

namespace tautrain::cli {

namespace {

// The embedded synthetic default and a small model: a few minutes on two CPU cores
// (configs/quickstart.yaml spells out the same values).
const std::vector<std::string> kQuickstartDefaults = {
    "output=runs/quickstart", "generator.candidates=20000", "generator.shard_size=2500",
    "generator.output=runs/quickstart/data", "data.files=[runs/quickstart/data]",
    "model.d_model=32", "model.heads=4", "model.layers=2", "model.embed_hidden=64", "model.d_ff=64",
    "model.decoder_hidden1=64", "model.decoder_hidden2=32", "train.max_epochs=3", "train.learning_rate=0.001"};

void runQuickstart(const RunOptions& options) {
  std::vector<std::string> extra;
  if (!options.output.empty())
    extra = {"output=" + options.output, "generator.output=" + options.output + "/data",
             "data.files=[" + options.output + "/data]"};
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

  logger->info("step 2/3: train the TauTransformer for up to {} epochs", config.train.max_epochs);
  const auto result = train::runTraining(config);

  logger->info("step 3/3: results");
  const auto split = data::splitFiles(config.data);
  const data::Dataset train(split.train, schema, data::readOptions(config.data));
  const auto& best = result.history.at(result.best_epoch - 1);
  std::cout << "\n== training data (" << split.train.size() << " shards) ==\n"
            << data::summarize(train).toText() << "\n== validation, best epoch " << best.epoch << " of "
            << result.history.size() << " ==\n"
            << "loss " << best.valid_loss << ", accuracy " << best.valid_accuracy << " (e " << best.class_accuracy[0]
            << ", mu " << best.class_accuracy[1] << ", tau " << best.class_accuracy[2] << ", jet "
            << best.class_accuracy[3] << ")\n"
            << "AUC: D_e " << best.auc[0] << ", D_mu " << best.auc[1] << ", D_jet " << best.auc[2] << "\n"
            << "FPR at the Medium working points (TPR 0.9 / 0.998 / 0.7): D_e " << best.medium_fpr[0] << ", D_mu "
            << best.medium_fpr[1] << ", D_jet " << best.medium_fpr[2] << "\n"
            << "run directory: " << config.output << " (history.csv, best.pt, scaler.json, config.yaml, tautrain.log)\n";
}

}  // namespace

void addQuickstartCommand(CLI::App& app) {
  auto* command = app.add_subcommand("quickstart", "Generate the synthetic default, train a small TauT on it, report");
  auto options = std::make_shared<RunOptions>();
  options->config.addTo(*command);
  command->add_option("-o,--out", options->output, "run directory (default runs/quickstart)");
  command->callback([options] { runQuickstart(*options); });
}

}  // namespace tautrain::cli
