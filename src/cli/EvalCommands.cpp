#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <fstream>
#include <iostream>
#include <map>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/data/Shard.hpp"
#include "tautrain/eval/Evaluation.hpp"
#include "tautrain/eval/PowerLaw.hpp"
#include "tautrain/eval/Studies.hpp"
#include "tautrain/train/History.hpp"
#include "tautrain/io/Json.hpp"
#include "tautrain/train/Scoring.hpp"

namespace tautrain::cli {

namespace fs = std::filesystem;

namespace {

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

}  // namespace

std::vector<std::pair<std::string, std::string>> namedCheckpoints(const std::vector<std::string>& specs) {
  std::vector<std::pair<std::string, std::string>> models;
  std::map<std::string, std::string> seen;
  for (const auto& checkpoint : checkpointPaths(specs)) {
    const auto name = modelName(checkpoint);
    // Two models of one name would share one score file and one row name.
    const auto [other, fresh] = seen.emplace(name, checkpoint);
    TAUTRAIN_CHECK_KEY(fresh, "--checkpoints", other->second, " and ", checkpoint, " would both be named '", name,
                       "'; evaluate them separately with --name");
    models.emplace_back(name, checkpoint);
  }
  return models;
}

namespace {

struct FitOptions {
  std::string input, out;
  std::vector<std::string> runs;
  std::string selection = "window";
  bool plots = true;
  bool weighted = false;
};

/// Writes PREFIX.csv, PREFIX.json and the plot (or prints the CSV without a prefix).
/// An output prefix such as study/fit may name a directory that does not exist yet.
void createParentDirectory(const std::string& prefix) {
  const auto parent = fs::path(prefix).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
}

void writeFits(const FitOptions& options, const std::vector<eval::PowerLawFit>& fits) {
  const auto csv = eval::powerLawCsv(fits);
  std::cout << csv;
  if (options.out.empty()) return;
  createParentDirectory(options.out);
  io::writeFileAtomic(options.out + ".csv", csv);
  nlohmann::json json = nlohmann::json::array();
  const auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  for (const auto& f : fits)
    json.push_back({{"series", f.series}, {"A", f.A}, {"A_err", number(f.A_err)}, {"alpha", f.alpha},
                    {"alpha_err", number(f.alpha_err)}, {"c", f.c}, {"c_err", number(f.c_err)}, {"chi2", f.chi2},
                    {"ndf", f.ndf}, {"chi2_ndf", number(f.ndf > 0 ? f.chi2 / f.ndf : NAN)}, {"weighted", f.weighted}});
  io::writeJson(options.out + ".json", json);
  if (options.plots) eval::plotPowerLaws(options.out, fits);
}

struct EvaluateOptions {
  ConfigOptions config;
  std::vector<std::string> checkpoints, data, scores;
  std::string run, reference, name, thresholds;
  std::vector<int> patience{1, 3, 6, 10};
  std::string out = "evaluation";
  std::string device = "cpu";
  bool force = false;
  bool plots = true;
};

/// Score files OUT/scores/NAME.h5 of (name, checkpoint) pairs, scored now or reused.
std::vector<eval::ScoreTable> scoreAll(const EvaluateOptions& options,
                                       const std::vector<std::pair<std::string, std::string>>& models) {
  std::vector<eval::ScoreTable> tables;
  fs::create_directories(fs::path(options.out) / "scores");
  for (const auto& [name, checkpoint] : models) {
    const auto file = (fs::path(options.out) / "scores" / (name + ".h5")).string();
    if (options.force || !fs::exists(file)) {
      eval::writeScores(file, train::scoreCheckpoint(checkpoint, options.data, options.device));
    } else {
      log::get("eval")->info("{}: reusing {} (--force scores again)", checkpoint, file);
    }
    tables.push_back(eval::readScores(file));
  }
  return tables;
}

void report(const EvaluateOptions& options, const std::vector<eval::ScoreTable>& tables) {
  std::optional<eval::Thresholds> fixed;
  if (!options.thresholds.empty()) fixed = eval::readThresholds(options.thresholds);
  eval::evaluateAndWrite(options.out, tables, options.config.load().eval, options.plots, options.reference,
                         fixed ? &*fixed : nullptr);
  std::cout << "tables: " << (fs::path(options.out) / "evaluation.md").string() << " (also wp.csv, knee.csv, roc.csv, "
            << "efficiency.csv, " << (fixed ? "wp-fixed.csv, " : "") << "evaluation.json; one subdirectory per model)\n";
}

/// Options shared by the commands that score checkpoints (scoring) and write tables.
void addReportOptions(CLI::App* command, EvaluateOptions& options, bool scoring) {
  options.config.addTo(*command);
  command->add_option("-o,--out", options.out, "output directory")->capture_default_str();
  command->add_flag("!--no-plots", options.plots, "skip the gnuplot plots");
  command->add_option("--reference", options.reference, "model whose FPR the others are divided by in a ratio panel");
  command->add_option("--thresholds", options.thresholds,
                      "working-point thresholds fixed on another sample (tautrain wp derive): their TPR and FPR here "
                      "go to wp-fixed.csv, and the rates versus pT, |eta| and decay mode use them")
      ->check(CLI::ExistingFile);
  if (!scoring) return;
  command->add_option("--data", options.data, "test shards: files, directories or globs")->required();
  command->add_option("--device", options.device, "cpu, cuda or cuda:K")->capture_default_str();
  command->add_flag("--force", options.force, "score again even where a score file exists");
}

}  // namespace

void addEvalCommands(CLI::App& app) {
  auto* evaluate = app.add_subcommand("evaluate", "Score checkpoints on test shards, then write ROC, WP and knee tables");
  auto options = std::make_shared<EvaluateOptions>();
  evaluate->add_option("--checkpoints", options->checkpoints, "checkpoint files, globs, run directories or @LIST")
      ->required();
  evaluate->add_option("--name", options->name, "model name of a single checkpoint (default: from its path)");
  addReportOptions(evaluate, *options, true);
  evaluate->callback([options] {
    prepareOutputDirectory(options->out, options->config.load(), "evaluate");
    auto models = namedCheckpoints(options->checkpoints);
    TAUTRAIN_CHECK_KEY(options->name.empty() || models.size() == 1, "--name", "names one checkpoint, ", models.size(),
                       " given");
    if (!options->name.empty()) models.front().first = options->name;
    std::vector<std::string> names;
    for (const auto& model : models) names.push_back(model.first);
    eval::requireModel(names, options->reference);  // before the scoring, which takes long
    report(*options, scoreAll(*options, models));
  });

  auto* roc = app.add_subcommand("roc", "ROC, WP and knee tables (and plots) from existing score files");
  auto rocOptions = std::make_shared<EvaluateOptions>();
  roc->add_option("--scores", rocOptions->scores, "score files (HDF5, docs/data-format.md), globs or directories")
      ->required();
  addReportOptions(roc, *rocOptions, false);
  roc->callback([rocOptions] {
    prepareOutputDirectory(rocOptions->out, rocOptions->config.load(), "roc");
    std::vector<eval::ScoreTable> tables;
    for (const auto& file : data::expandPaths(rocOptions->scores)) tables.push_back(eval::readScores(file));
    report(*rocOptions, tables);
  });

  auto* wp = app.add_subcommand("wp", "Working points fixed on one sample, for use on others");
  wp->require_subcommand(1);
  auto* derive = wp->add_subcommand("derive", "The threshold of every working point of each model (window selection)");
  auto deriveOptions = std::make_shared<EvaluateOptions>();
  deriveOptions->config.addTo(*derive);
  derive->add_option("--scores", deriveOptions->scores, "score files (HDF5), globs or directories")->required();
  derive->add_option("-o,--out", deriveOptions->out, "thresholds file to write (JSON)")->required();
  derive->callback([deriveOptions] {
    // Thresholds come from the window alone: no decay-mode or binned selections to evaluate.
    auto config = deriveOptions->config.load().eval;
    config.decay_modes.clear(), config.pt_bins.clear(), config.abs_eta_bins.clear();
    std::vector<eval::DiscriminantResult> results;
    std::string source;
    for (const auto& file : data::expandPaths(deriveOptions->scores)) {
      const auto part = eval::evaluate(eval::readScores(file), config);
      results.insert(results.end(), part.begin(), part.end());
      source += (source.empty() ? "" : ", ") + file;
    }
    createParentDirectory(deriveOptions->out);
    eval::writeThresholds(deriveOptions->out, eval::workingPointThresholds(results, source));
    std::cout << "thresholds: " << deriveOptions->out << " (use with tautrain roc/evaluate --thresholds)\n";
  });

  auto* ensemble = app.add_subcommand("ensemble", "Mean, spread and 68 % band of FPR over TPR across runs' score files");
  auto ensembleOptions = std::make_shared<EvaluateOptions>();
  ensembleOptions->config.addTo(*ensemble);
  ensemble->add_option("--scores", ensembleOptions->scores, "one score file per run: files, globs or directories")
      ->required();
  ensemble->add_option("-o,--out", ensembleOptions->out, "output directory")->capture_default_str();
  ensemble->callback([ensembleOptions] {
    prepareOutputDirectory(ensembleOptions->out, ensembleOptions->config.load(), "ensemble");
    std::vector<eval::ScoreTable> runs;
    for (const auto& file : data::expandPaths(ensembleOptions->scores)) runs.push_back(eval::readScores(file));
    eval::writeEnsemble(ensembleOptions->out, eval::ensembleSpread(runs, ensembleOptions->config.load().eval),
                        runs.size());
    std::cout << "ensemble of " << runs.size() << " runs: " << ensembleOptions->out << "/ensemble-wp.md\n";
  });

  auto* patience = app.add_subcommand(
      "patience", "Evaluate the epochs early stopping would have kept for each patience, from one run's checkpoints");
  auto patienceOptions = std::make_shared<EvaluateOptions>();
  patience->add_option("--run", patienceOptions->run, "run directory (history.json, checkpoints/epoch-NNN.pt)")
      ->required()
      ->check(CLI::ExistingDirectory);
  patience->add_option("--patience", patienceOptions->patience, "patience values")->capture_default_str();
  addReportOptions(patience, *patienceOptions, true);
  patience->callback([patienceOptions] {
    const auto& options = *patienceOptions;
    prepareOutputDirectory(options.out, options.config.load(), "patience");
    const auto historyFile = (fs::path(options.run) / "history.json").string();
    std::vector<double> validLoss;
    for (const auto& record : train::historyFromJson(io::readJson(historyFile), historyFile))
      validLoss.push_back(record.valid_loss);
    std::vector<std::pair<std::string, std::string>> epochs;  // each kept epoch is scored once
    std::vector<std::pair<int, std::size_t>> kept;             // (patience, index into epochs)
    for (const int p : options.patience) {
      const int epoch = eval::epochKeptWithPatience(validLoss, p);
      const auto name = fmt::format("epoch-{:03d}", epoch);
      const auto checkpoint = (fs::path(options.run) / "checkpoints" / (name + ".pt")).string();
      TAUTRAIN_CHECK(fs::exists(checkpoint), DataError, checkpoint, ": patience ", p, " keeps epoch ", epoch,
                     " but its checkpoint is gone (train.keep_checkpoints: 0 keeps every epoch)");
      std::cout << "patience " << p << ": epoch " << epoch << "\n";
      const auto found = std::find(epochs.begin(), epochs.end(), std::make_pair(name, checkpoint));
      kept.emplace_back(p, static_cast<std::size_t>(found - epochs.begin()));
      if (found == epochs.end()) epochs.emplace_back(name, checkpoint);
    }
    const auto scored = scoreAll(options, epochs);
    std::vector<eval::ScoreTable> tables;
    for (const auto& [p, index] : kept) {
      tables.push_back(scored[index]);
      tables.back().model = fmt::format("patience-{}-{}", p, epochs[index].first);
    }
    report(options, tables);
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
  powerLaw->add_flag("--weighted", fitOptions->weighted,
                     "weight each point by its uncertainty (column <series>_err; absolute, as scipy's absolute_sigma)");
  powerLaw->callback(
      [fitOptions] { writeFits(*fitOptions, eval::fitPowerLawCsv(fitOptions->input, fitOptions->weighted)); });

  auto* scaling = fit->add_subcommand(
      "data-scaling", "Power-law fits of every WP's FPR and the knee's 1-TPR and FPR over runs trained on N candidates");
  auto scalingOptions = std::make_shared<FitOptions>();
  scaling->add_option("--run", scalingOptions->runs, "N=DIR: a model's evaluation directory (OUT/<model>) per N")
      ->required();
  scaling->add_option("--selection", scalingOptions->selection, "which selection's rows")->capture_default_str();
  scaling->add_option("--out", scalingOptions->out, "PREFIX: PREFIX-points.csv, PREFIX.csv, PREFIX.json, plots")
      ->required();
  scaling->add_flag("!--no-plots", scalingOptions->plots, "skip the gnuplot plot");
  scaling->add_flag("--weighted", scalingOptions->weighted,
                    "weight each point by its 68 % interval (half its width), from the evaluation tables");
  scaling->callback([scalingOptions] {
    std::vector<std::pair<double, std::string>> runs;
    for (const auto& spec : scalingOptions->runs) {
      const auto eq = spec.find('=');
      double n = 0;
      try {
        n = std::stod(spec.substr(0, eq));
      } catch (const std::exception&) {
      }
      TAUTRAIN_CHECK_KEY(eq != std::string::npos && n > 0, "--run", "expects N=DIR with N > 0, got '", spec, "'");
      runs.emplace_back(n, spec.substr(eq + 1));
    }
    createParentDirectory(scalingOptions->out);
    const auto points = scalingOptions->out + "-points.csv";
    io::writeFileAtomic(points, eval::dataScalingPoints(runs, scalingOptions->selection));
    writeFits(*scalingOptions, eval::fitPowerLawCsv(points, scalingOptions->weighted));
  });
}

}  // namespace tautrain::cli
