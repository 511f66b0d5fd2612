#pragma once
// Subcommands of the tautrain executable; apps/tautrain.cpp only calls run().
#include <CLI/CLI.hpp>

#include <string>
#include <utility>
#include <vector>

#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Names.hpp"

namespace tautrain::cli {

/// --config FILE... and --set key=value..., shared by every command that reads a RunConfig.
struct ConfigOptions {
  std::vector<std::string> files;
  std::vector<std::string> overrides;
  bool dump = false;

  void addTo(CLI::App& command);
  /// Loads the config; `extra` overrides (command-line shortcuts) win over --set, and
  /// `defaults` (a command's own defaults) lose to the files.
  config::RunConfig load(const std::vector<std::string>& extra = {}, const std::vector<std::string>& defaults = {}) const;
};

/// An option that takes one of the names of enum E (core/Names.hpp); others are refused listing them.
template <typename E>
CLI::Option* addNamedOption(CLI::App& command, const std::string& name, E& target, const std::string& help) {
  const auto toNumber = [](std::string& text) -> std::string {
    const auto value = core::parseName<E>(text);
    if (!value) return "must be " + core::allowedNames<E>() + ", not '" + text + "'";
    text = std::to_string(static_cast<int>(*value));  // CLI11 reads an enum as its number
    return "";
  };
  return command.add_option(name, target, help + ": " + core::allowedNames<E>())
      ->transform(CLI::Validator(toNumber, "NAME"));
}

/// Thrown by a command that ends on purpose with a specific exit code (a checkpoint after
/// SIGTERM, for HTCondor's checkpoint_exit_code).
struct ExitRequest {
  int code;
};

/// A command that reads a RunConfig and writes into an output directory.
struct RunOptions {
  ConfigOptions config;
  std::string output;
};

/// Creates the run directory, writes the effective config there as NAME.yaml and starts
/// logging to DIR/tautrain.log.
void prepareOutputDirectory(const std::string& directory, const config::RunConfig& config, const std::string& name);

/// (model name, checkpoint) for --checkpoints arguments (files, globs, directories, @LIST):
/// runs/a/best.pt is a-best, runs/a/checkpoints/epoch-003.pt a-epoch-003. Two checkpoints of one
/// name are refused, naming both.
std::vector<std::pair<std::string, std::string>> namedCheckpoints(const std::vector<std::string>& specs);

void addGenerateCommand(CLI::App& app);
void addDataCommands(CLI::App& app);
void addBenchCommand(CLI::App& app);
void addQuickstartCommand(CLI::App& app);
void addConfigCommand(CLI::App& app);
void addTrainCommands(CLI::App& app);
void addLaunchCommand(CLI::App& app);
void addCondorCommand(CLI::App& app);
void addEvalCommands(CLI::App& app);
#ifdef TAUTRAIN_HAVE_ONNX
void addExportCommand(CLI::App& app);
#endif

/// Parses the command line and runs the command; returns the process exit code:
/// 0 success, 1 runtime error, 2 bad configuration or usage, 3 bad input data.
int run(int argc, char** argv);

}  // namespace tautrain::cli
