#pragma once
// Working-point and knee tables and ROC curves of D_e, D_mu, D_jet per model and selection
// (docs/physics.md §5), and the files they are written to.
#include <string>
#include <vector>

#include "tautrain/eval/Discriminant.hpp"
#include "tautrain/config/EvalConfig.hpp"
#include "tautrain/eval/Scores.hpp"

namespace tautrain::eval {

/// One discriminant of one model on one selection.
struct DiscriminantResult {
  std::string model, selection, discriminant;
  double signal = 0, background = 0;  ///< weighted counts
  double auc = 0;
  RocPoint knee;
  std::vector<std::pair<std::string, RocPoint>> working_points;  ///< (name, point)
  std::vector<RocPoint> curve;                                   ///< thinned, exact at every WP
};

/// The evaluation window: 1 for candidates with pT in [pt_min, pt_max] and, when abs_eta_max
/// is set, |eta| up to it.
std::vector<std::uint8_t> windowSelection(const ScoreTable& scores, const EvalConfig& config);

/// Selections: "window" (pT in [pt_min, pt_max], |eta| below abs_eta_max when set), then
/// "DM<k>" for each of config.decay_modes: taus of that generator decay mode against every
/// background candidate in the window.
std::vector<DiscriminantResult> evaluate(const ScoreTable& scores, const EvalConfig& config);

/// Writes wp.csv, knee.csv, roc.csv, evaluation.json and evaluation.md into `directory`
/// (created); the Markdown puts the models side by side, one FPR column each.
void writeEvaluation(const std::string& directory, const std::vector<DiscriminantResult>& results);

/// A ConfigError naming --reference when `reference` is set and not one of `models`.
void requireModel(const std::vector<std::string>& models, const std::string& reference);

/// Everything `tautrain evaluate` and `roc` write for a set of models: the tables of each in
/// DIR/<model>/, the merged tables in DIR, and (with `plots`) the ROC and score plots in
/// DIR/plots. Returns the merged results.
std::vector<DiscriminantResult> evaluateAndWrite(const std::string& directory, const std::vector<ScoreTable>& tables,
                                                 const EvalConfig& config, bool plots, const std::string& reference = "");

/// ROC plots of the "window" selection through gnuplot into DIR/plots, one per discriminant
/// (PNG and PDF): log FPR over TPR, every model overlaid, WPs as dashed lines, knee points as
/// circles; with a `reference` model, a lower panel shows each FPR over the reference's.
/// Without gnuplot, warns and returns false; the tables do not depend on it.
bool plotRocCurves(const std::string& directory, const std::vector<DiscriminantResult>& results,
                   const std::string& reference = "");

/// Distributions of D_e, D_mu, D_jet for taus and for each background in the window, one
/// three-panel plot per model (DIR/plots/scores-<model>.png|pdf).
bool plotScoreDistributions(const std::string& directory, const ScoreTable& scores, const EvalConfig& config);

}  // namespace tautrain::eval
