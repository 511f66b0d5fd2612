#pragma once
// What `tautrain bench roc` measures: the ROC of one discriminant with its AUC, knee and
// working points, and a whole evaluation, against sorting the same scores (the O(n log n)
// floor of any exact ROC), all in one run.
#include <cstdint>

#include "tautrain/eval/Scores.hpp"

namespace tautrain::eval {

/// Synthetic classifier outputs of `n` candidates: each class's probabilities lean towards
/// its own class; taus get decay modes, every candidate a pT and an eta.
ScoreTable syntheticScores(std::int64_t n);

struct RocBenchmark {
  std::int64_t scores = 0;            ///< of the one discriminant: its taus and jets
  double one_discriminant_s = 0;      ///< ROC, AUC, knee and the 8 working points of D_jet
  double sort_only_s = 0;             ///< sorting those scores alone
  double window_and_modes_s = 0;      ///< the window and decay-mode rows alone, with intervals
  std::int64_t window_and_modes_rocs = 0;
  double full_evaluation_s = 0;       ///< everything `tautrain roc` computes: those, the pT and
                                      ///< |eta| bins, and the rates versus pT, |eta| and decay mode
  std::int64_t rocs = 0;              ///< in the full evaluation, besides the rates' per-bin ones
  double bootstrap_resample_s = 0;    ///< one bootstrap resample of D_jet (AUC and knee), after its sort
};

RocBenchmark measureRoc(const ScoreTable& table);

}  // namespace tautrain::eval
