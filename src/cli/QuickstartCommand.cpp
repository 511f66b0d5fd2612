#include <filesystem>
#include <iostream>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Progress.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Summary.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"
#include "tautrain/eval/Evaluation.hpp"
#include "tautrain/train/Scoring.hpp"
#include "tautrain/train/Trainer.hpp"

namespace tautrain::cli {

namespace {

// The embedded synthetic default and a small model: about a minute and a half on two CPU cores
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

  logger->info("step 1/4: generate {} synthetic candidates into {}", config.generator.candidates, config.generator.output);
  ProgressMeter generateProgress(log::get("data"), "generate", config.generator.candidates);
  data::SyntheticGenerator(schema, config.generator).writeShards([&](std::int64_t done, std::int64_t) {
    generateProgress.update(done);
  });

  logger->info("step 2/4: train the TauTransformer for up to {} epochs", config.train.max_epochs);
  const auto result = train::runTraining(config);

  // An independent test set (another seed), a quarter the size of the training sample.
  auto testConfig = config.generator;
  testConfig.seed += 1000;
  testConfig.candidates = std::max<std::int64_t>(1, config.generator.candidates / 4);
  testConfig.output = (std::filesystem::path(config.output) / "test").string();
  logger->info("step 3/4: evaluate the best epoch on {} new candidates in {}", testConfig.candidates, testConfig.output);
  data::SyntheticGenerator(schema, testConfig).writeShards();
  const auto evaluationDir = (std::filesystem::path(config.output) / "evaluation").string();
  std::filesystem::create_directories(std::filesystem::path(evaluationDir) / "scores");
  auto scores = train::scoreCheckpoint((std::filesystem::path(config.output) / "best.pt").string(), {testConfig.output},
                                       config.train.device);
  scores.model = "quickstart";
  eval::writeScores((std::filesystem::path(evaluationDir) / "scores" / "quickstart.h5").string(), scores);
  const auto evaluation = eval::evaluateAndWrite(evaluationDir, {scores}, config.eval, /*plots=*/true);

  logger->info("step 4/4: results");
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
            << "\n== test set: " << testConfig.candidates << " new candidates, pT " << config.eval.pt_min << "-"
            << config.eval.pt_max << " GeV ==\n";
  for (const auto& r : evaluation) {
    if (r.selection != "window") continue;
    std::cout << r.discriminant << ": AUC " << r.auc << ", knee TPR " << r.knee.tpr << " FPR " << r.knee.fpr;
    for (const auto& [name, point] : r.working_points)
      if (name == "Medium") std::cout << ", Medium WP (TPR " << point.tpr << ") FPR " << point.fpr;
    std::cout << "\n";
  }
  std::cout << "\nrun directory: " << config.output << " (history.csv, best.pt, config.yaml, tautrain.log)\n"
            << "evaluation: " << evaluationDir << "/evaluation.md, plots in " << evaluationDir << "/plots\n";
}

}  // namespace

void addQuickstartCommand(CLI::App& app) {
  auto* command = app.add_subcommand("quickstart", "Generate the synthetic default, train a small TauT on it, evaluate it on a new test set");
  auto options = std::make_shared<RunOptions>();
  options->config.addTo(*command);
  command->add_option("-o,--out", options->output, "run directory (default runs/quickstart)");
  command->callback([options] { runQuickstart(*options); });
}

}  // namespace tautrain::cli
