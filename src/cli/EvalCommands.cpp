#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/data/Shard.hpp"
#include "tautrain/eval/Evaluation.hpp"
#include "tautrain/eval/PowerLaw.hpp"
#include "tautrain/io/Json.hpp"
#include "tautrain/train/Scoring.hpp"

namespace tautrain::cli {

namespace fs = std::filesystem;

namespace {

struct FitOptions {
  std::string input, out;
  bool plots = true;
};

struct EvaluateOptions {
  ConfigOptions config;
  std::vector<std::string> checkpoints, data, scores;
  std::string out = "evaluation";
  std::string device = "cpu";
  bool force = false;
  bool plots = true;
};

/// Checkpoint arguments: files, globs, directories (their *.pt) or @LIST files (one per line).
std::vector<std::string> checkpointPaths(const std::vector<std::string>& specs) {
  std::vector<std::string> expanded;
  for (const auto& spec : specs) {
    if (spec.rfind('@', 0) != 0) {
      expanded.push_back(spec);
      continue;
    }
    std::ifstream list(spec.substr(1));
    TAUTRAIN_CHECK(list, DataError, spec.substr(1), ": cannot read the checkpoint list");
    for (std::string line; std::getline(list, line);)
      if (!line.empty() && line[0] != '#') expanded.push_back(line);
  }
  return data::expandPaths(expanded, ".pt");
}

/// A readable, unique-enough name: runs/a/best.pt -> a-best, runs/a/checkpoints/epoch-003.pt -> a-epoch-003.
std::string modelName(const fs::path& checkpoint) {
  auto parent = checkpoint.parent_path();
  if (parent.filename() == "checkpoints") parent = parent.parent_path();
  const auto run = parent.filename().string();
  return (run.empty() ? "" : run + "-") + checkpoint.stem().string();
}

void report(const EvaluateOptions& options, const std::vector<eval::ScoreTable>& tables) {
  const auto config = options.config.load();
  std::vector<eval::DiscriminantResult> all;
  for (const auto& table : tables) {
    auto results = eval::evaluate(table, config.eval);
    eval::writeEvaluation((fs::path(options.out) / table.model).string(), results);
    all.insert(all.end(), results.begin(), results.end());
  }
  eval::writeEvaluation(options.out, all);
  if (options.plots) eval::plotRocCurves(options.out, all);
  std::cout << "tables: " << (fs::path(options.out) / "evaluation.md").string() << " (also wp.csv, knee.csv, roc.csv, "
            << "evaluation.json; one subdirectory per model)\n";
}

}  // namespace

void addEvalCommands(CLI::App& app) {
  auto* evaluate = app.add_subcommand("evaluate", "Score checkpoints on test shards, then write ROC, WP and knee tables");
  auto options = std::make_shared<EvaluateOptions>();
  options->config.addTo(*evaluate);
  evaluate->add_option("--checkpoints", options->checkpoints, "checkpoint files, globs, run directories or @LIST")
      ->required();
  evaluate->add_option("--data", options->data, "test shards: files, directories or globs")->required();
  evaluate->add_option("-o,--out", options->out, "output directory")->capture_default_str();
  evaluate->add_option("--device", options->device, "cpu, cuda or cuda:K")->capture_default_str();
  evaluate->add_flag("--force", options->force, "score again even where a score file exists");
  evaluate->add_flag("!--no-plots", options->plots, "skip the gnuplot plots");
  evaluate->callback([options] {
    prepareOutputDirectory(options->out, options->config.load(), "evaluate");
    std::vector<eval::ScoreTable> tables;
    fs::create_directories(fs::path(options->out) / "scores");
    for (const auto& checkpoint : checkpointPaths(options->checkpoints)) {
      const auto name = modelName(checkpoint);
      const auto file = (fs::path(options->out) / "scores" / (name + ".h5")).string();
      if (options->force || !fs::exists(file)) {
        auto table = train::scoreCheckpoint(checkpoint, options->data, options->device);
        eval::writeScores(file, table);
      } else {
        log::get("eval")->info("{}: reusing {} (--force scores again)", checkpoint, file);
      }
      tables.push_back(eval::readScores(file));
    }
    report(*options, tables);
  });

  auto* roc = app.add_subcommand("roc", "ROC, WP and knee tables (and plots) from existing score files");
  auto rocOptions = std::make_shared<EvaluateOptions>();
  rocOptions->config.addTo(*roc);
  roc->add_option("--scores", rocOptions->scores, "score files (HDF5, docs/data-format.md), globs or directories")
      ->required();
  roc->add_option("-o,--out", rocOptions->out, "output directory")->capture_default_str();
  roc->add_flag("!--no-plots", rocOptions->plots, "skip the gnuplot plots");
  roc->callback([rocOptions] {
    prepareOutputDirectory(rocOptions->out, rocOptions->config.load(), "roc");
    std::vector<eval::ScoreTable> tables;
    for (const auto& file : data::expandPaths(rocOptions->scores)) tables.push_back(eval::readScores(file));
    report(*rocOptions, tables);
  });

  auto* fit = app.add_subcommand("fit", "Fits to evaluation results");
  fit->require_subcommand(1);
  auto* powerLaw = fit->add_subcommand("power-law", "Fit y(N) = A N^-alpha + c (c >= 0) to every series of a CSV");
  auto fitOptions = std::make_shared<FitOptions>();
  powerLaw->add_option("--input", fitOptions->input, "CSV: column n, then one column per series")
      ->required()
      ->check(CLI::ExistingFile);
  powerLaw->add_option("--out", fitOptions->out, "write PREFIX.csv, PREFIX.json and plots (default: CSV to stdout)");
  powerLaw->add_flag("!--no-plots", fitOptions->plots, "skip the gnuplot plot");
  powerLaw->callback([fitOptions] {
    const auto fits = eval::fitPowerLawCsv(fitOptions->input);
    const auto csv = eval::powerLawCsv(fits);
    if (fitOptions->out.empty()) {
      std::cout << csv;
      return;
    }
    io::writeFileAtomic(fitOptions->out + ".csv", csv);
    nlohmann::json json = nlohmann::json::array();
    const auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
    for (const auto& f : fits)
      json.push_back({{"series", f.series}, {"A", f.A}, {"A_err", number(f.A_err)}, {"alpha", f.alpha},
                      {"alpha_err", number(f.alpha_err)}, {"c", f.c}, {"c_err", number(f.c_err)}, {"chi2", f.chi2},
                      {"ndf", f.ndf}});
    io::writeJson(fitOptions->out + ".json", json);
    if (fitOptions->plots) eval::plotPowerLaws(fitOptions->out, fits);
    std::cout << csv;
  });
}

}  // namespace tautrain::cli
