#pragma once
// Working-point and knee tables and ROC curves of D_e, D_mu, D_jet per model and selection
// (docs/physics.md §5), and the files they are written to.
#include <map>
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
  /// Working points whose thresholds were fixed on another sample (--thresholds), applied here.
  std::vector<std::pair<std::string, RocPoint>> fixed_points;
  BootstrapSpread bootstrap;  ///< with eval.bootstrap > 0
};

/// Working-point thresholds fixed on one sample, to be applied to others as an analysis does:
/// model -> discriminant -> working point -> threshold (cut: discriminant >= threshold).
struct Thresholds {
  std::map<std::string, std::map<std::string, std::map<std::string, double>>> by_model;
  std::string source;  ///< what they were derived from
};

/// The thresholds of every working point of the "window" rows of `results`.
Thresholds workingPointThresholds(const std::vector<DiscriminantResult>& results, const std::string& source);
void writeThresholds(const std::string& path, const Thresholds& thresholds);
/// DataError naming the file and the key when it is not a thresholds file.
Thresholds readThresholds(const std::string& path);
/// The thresholds of `model`; a ConfigError naming --thresholds and the models it has otherwise.
const std::map<std::string, std::map<std::string, double>>& thresholdsOf(const Thresholds& thresholds,
                                                                         const std::string& model);

/// The evaluation window: 1 for candidates with pT in [pt_min, pt_max] and, when abs_eta_max
/// is set, |eta| up to it.
std::vector<std::uint8_t> windowSelection(const ScoreTable& scores, const EvalConfig& config);

/// Selections: "window" (pT in [pt_min, pt_max], |eta| below abs_eta_max when set); "DM<k>"
/// for each of config.decay_modes: taus of that generator decay mode against every background
/// candidate in the window; "pt<lo>-<hi>" per pT bin (pT in [lo, hi), the window's |eta| cut)
/// and "eta<lo>-<hi>" per |eta| bin (|eta| in [lo, hi), the window's pT range). With `fixed`
/// (this model's thresholds), every selection also gets the rates of those fixed cuts.
std::vector<DiscriminantResult> evaluate(const ScoreTable& scores, const EvalConfig& config,
                                         const Thresholds* fixed = nullptr);

/// Efficiency (TPR, taus) and misidentification rate (FPR, the discriminant's background) of
/// fixed working-point cuts in bins of one variable, with 68 % intervals.
struct BinnedRate {
  std::string model, discriminant, wp, variable;  ///< variable: pt, abs_eta or decay_mode
  double low = 0, high = 0;                       ///< the bin; a decay mode is [k, k]
  double threshold = 0;
  RocPoint rates;  ///< tpr, fpr and their intervals; fpr is NaN for decay-mode bins
  double signal = 0, background = 0;
};
/// Rates of `thresholds` (of this model) versus pT (the window's |eta| cut), |eta| (the
/// window's pT range) and the taus' decay mode (in the window).
std::vector<BinnedRate> ratesVersusVariables(const ScoreTable& scores, const EvalConfig& config,
                                             const std::map<std::string, std::map<std::string, double>>& thresholds);

/// Writes wp.csv, knee.csv, roc.csv, evaluation.json and evaluation.md into `directory`
/// (created), wp-fixed.csv when there are fixed working points and efficiency.csv when there
/// are binned rates; the Markdown puts the models side by side, one FPR column each.
void writeEvaluation(const std::string& directory, const std::vector<DiscriminantResult>& results,
                     const std::vector<BinnedRate>& binned = {});

/// A ConfigError naming --reference when `reference` is set and not one of `models`.
void requireModel(const std::vector<std::string>& models, const std::string& reference);

/// Everything `tautrain evaluate` and `roc` write for a set of models: the tables of each in
/// DIR/<model>/, the merged tables in DIR, and (with `plots`) the ROC and score plots in
/// DIR/plots. Returns the merged results.
/// The working points' rates versus pT, |eta| and decay mode use `fixed` where given (the
/// thresholds of another sample), else each model's own window thresholds.
std::vector<DiscriminantResult> evaluateAndWrite(const std::string& directory, const std::vector<ScoreTable>& tables,
                                                 const EvalConfig& config, bool plots, const std::string& reference = "",
                                                 const Thresholds* fixed = nullptr);

/// Efficiency and misidentification rate versus each variable, one plot per discriminant and
/// variable (DIR/plots/rates-<D>-<variable>.png|pdf): TPR above, FPR (log) below, one curve
/// per working point with its interval; every model when several.
bool plotRatesVersusVariables(const std::string& directory, const std::vector<BinnedRate>& rates);

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
