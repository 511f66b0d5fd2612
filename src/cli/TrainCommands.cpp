#include <iostream>
#include <nlohmann/json.hpp>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/io/Json.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/Trainer.hpp"

namespace tautrain::cli {

namespace {

struct SummaryOptions {
  ConfigOptions config;
  std::string json;
};

}  // namespace

void addTrainCommands(CLI::App& app) {
  auto* trainCommand = app.add_subcommand("train", "Train the TauTransformer (config sections data, model, train)");
  auto trainOptions = std::make_shared<RunOptions>();
  trainOptions->config.addTo(*trainCommand);
  trainCommand->add_option("-o,--out", trainOptions->output, "run directory (output)");
  trainCommand->callback([trainOptions] {
    std::vector<std::string> extra;
    if (!trainOptions->output.empty()) extra.push_back("output=" + trainOptions->output);
    const auto config = trainOptions->config.load(extra);
    if (trainOptions->config.dump) {
      std::cout << config::dumpRunConfig(config);
      return;
    }
    prepareOutputDirectory(config.output, config, "config");
    const auto result = train::runTraining(config);
    const auto& best = result.history.at(result.best_epoch - 1);
    std::cout << "best epoch " << best.epoch << ": valid loss " << best.valid_loss << ", accuracy "
              << best.valid_accuracy << ", AUC D_e " << best.auc[0] << ", D_mu " << best.auc[1] << ", D_jet "
              << best.auc[2] << "\nrun directory: " << config.output << "\n";
  });

  auto* summary = app.add_subcommand("model-summary", "Print the model's trainable parameters per block");
  auto summaryOptions = std::make_shared<SummaryOptions>();
  summaryOptions->config.addTo(*summary);
  summary->add_option("--json", summaryOptions->json, "also write the counts as JSON");
  summary->callback([summaryOptions] {
    const auto config = summaryOptions->config.load();
    const model::TauTransformer model(data::FeatureSchema::fromSpec(config.data.features), config.model);
    nlohmann::json json;
    for (const auto& [block, count] : model->parameterCounts()) {
      std::cout << block << "\t" << count << "\n";
      json["blocks"][block] = count;
    }
    json["total"] = model->parameterCount();
    std::cout << "total\t" << model->parameterCount() << "\n";
    if (!summaryOptions->json.empty()) io::writeJson(summaryOptions->json, json);
  });
}

}  // namespace tautrain::cli
