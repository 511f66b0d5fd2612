#pragma once
// Studies over several models (docs/physics.md §5): the spread of a seed ensemble, and which
// epoch early stopping with a given patience would have kept.
#include <string>
#include <vector>

#include "tautrain/config/EvalConfig.hpp"
#include "tautrain/eval/Scores.hpp"

namespace tautrain::eval {

/// FPR statistics over the runs of an ensemble at one TPR of one discriminant.
struct EnsemblePoint {
  std::string discriminant, wp;  ///< wp empty on the TPR grid
  double tpr = 0;
  double mean = 0, stddev = 0;  ///< sample standard deviation
  double low = 0, high = 0;     ///< 68 % band: 16th and 84th percentiles (linear interpolation)
  double relative_spread() const { return mean > 0 ? stddev / mean : 0; }
};

/// On the evaluation window of every run: each discriminant at `gridPoints` TPRs spread
/// evenly over [0.2, 1] and at every working point. Needs at least two runs.
std::vector<EnsemblePoint> ensembleSpread(const std::vector<ScoreTable>& runs, const EvalConfig& config,
                                          int gridPoints = 161);

/// Writes ensemble.csv (every point), ensemble-wp.md (the WPs: mean, std, relative spread)
/// and, with gnuplot, plots/ensemble-D_*.png|pdf: the mean with its 68 % band.
void writeEnsemble(const std::string& directory, const std::vector<EnsemblePoint>& points, std::size_t runs);

/// The epoch early stopping on validation loss with `patience` would have kept: the best
/// epoch up to the first one that has seen `patience` epochs without improvement (or the
/// last epoch). `validLoss[e]` belongs to epoch e + 1.
int epochKeptWithPatience(const std::vector<double>& validLoss, int patience);

}  // namespace tautrain::eval
