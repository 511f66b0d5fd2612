#include <fmt/ranges.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/io/Json.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/jobs/Condor.hpp"
#include "tautrain/dist/Launcher.hpp"
#include "tautrain/dist/RankInfo.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/Checkpoint.hpp"
#include "tautrain/train/Trainer.hpp"

namespace tautrain::cli {

namespace {

struct TrainOptions {
  RunOptions run;
  std::string resume, device;
  bool autoResume = false;
};

/// The config stored in a run's last.pt, for --resume (--set may still change keys).
config::RunConfig resumeConfig(const TrainOptions& options, const std::string& runDirectory) {
  TAUTRAIN_CHECK_KEY(options.autoResume || options.run.config.files.empty(), "--resume",
                     "takes the config from the checkpoint; change keys with --set instead of --config");
  auto overrides = options.run.config.overrides;
  if (!options.device.empty()) overrides.push_back("train.device=" + options.device);
  const auto checkpoint = (std::filesystem::path(runDirectory) / "last.pt").string();
  auto config = config::parseRunConfig(train::readCheckpointState(checkpoint).config_yaml, checkpoint, overrides);
  config.output = runDirectory;
  return config;
}

struct SummaryOptions {
  ConfigOptions config;
  std::string json;
};

}  // namespace

void addTrainCommands(CLI::App& app) {
  auto* trainCommand = app.add_subcommand("train", "Train the TauTransformer (config sections data, model, train)");
  auto trainOptions = std::make_shared<TrainOptions>();
  trainOptions->run.config.addTo(*trainCommand);
  trainCommand->add_option("-o,--out", trainOptions->run.output, "run directory (output)");
  trainCommand->add_option("--device", trainOptions->device, "cpu, cuda or cuda:K (shortcut for --set train.device=)");
  trainCommand->add_option("--resume", trainOptions->resume, "continue the run in this directory from its last.pt")
      ->check(CLI::ExistingDirectory);
  trainCommand->add_flag("--auto-resume", trainOptions->autoResume,
                         "continue from OUT/last.pt when it exists, else start (jobs that a batch system restarts)");
  trainCommand->callback([trainOptions] {
    const auto& options = *trainOptions;
    // Rank 0 alone writes the run directory of a data-parallel run.
    const bool lead = dist::rankFromEnvironment().rank == 0;
    if (const auto job = jobs::condorJobFromEnvironment(); job.inside && lead)
      log::get("train")->info("HTCondor job {} in {}, GPUs [{}]", job.id(), job.scratch, fmt::join(job.gpus, ", "));
    config::RunConfig config;
    std::string checkpoint, resume = options.resume;
    std::vector<std::string> extra;
    if (!options.run.output.empty()) extra.push_back("output=" + options.run.output);
    if (!options.device.empty()) extra.push_back("train.device=" + options.device);
    if (options.autoResume) {
      TAUTRAIN_CHECK_KEY(resume.empty(), "--auto-resume", "give either --resume DIR or --auto-resume");
      config = options.run.config.load(extra);
      if (std::filesystem::exists(std::filesystem::path(config.output) / "last.pt")) resume = config.output;
    }
    if (!resume.empty()) {
      checkpoint = (std::filesystem::path(resume) / "last.pt").string();
      config = resumeConfig(options, resume);
      if (lead) log::addFile((std::filesystem::path(config.output) / "tautrain.log").string());
    } else {
      config = options.run.config.load(extra);
      if (options.run.config.dump) {
        std::cout << config::dumpRunConfig(config);
        return;
      }
      if (lead) prepareOutputDirectory(config.output, config, "config");
    }
    const auto result = train::runTraining(config, checkpoint);
    if (result.interrupted) {
      if (lead) std::cout << "stopped with a checkpoint; continue with: tautrain train --resume " << config.output << "\n";
      throw ExitRequest{config.train.checkpoint_exit_code};
    }
    if (result.best_epoch == 0 || !lead) return;
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

void addLaunchCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "launch", "Start the local ranks of a data-parallel run and supervise them (like torchrun): "
                "tautrain launch --nproc-per-node 4 -- train -c run.yaml");
  auto options = std::make_shared<dist::LaunchOptions>();
  command->add_option("--nproc-per-node", options->nproc_per_node, "ranks on this node (one GPU each)")
      ->capture_default_str();
  command->add_option("--nnodes", options->nnodes, "nodes in the run")->capture_default_str();
  command->add_option("--node-rank", options->node_rank, "index of this node")->capture_default_str();
  command->add_option("--master-addr", options->master_addr, "address of node 0 (rendezvous)")->capture_default_str();
  command->add_option("--master-port", options->master_port, "rendezvous port; 0: a free one (one node)")
      ->capture_default_str();
  command->add_option("--grace", options->grace_s, "seconds the ranks get after SIGTERM before SIGKILL")
      ->capture_default_str();
  command->add_option("command", options->arguments, "tautrain command the ranks run, after --")->required();
  command->callback([options] {
    const int code = dist::launch(*options);
    if (code != 0) throw ExitRequest{code};
  });
}

}  // namespace tautrain::cli
