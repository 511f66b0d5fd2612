#pragma once
// The `eval` section: the evaluation window and extra working points (docs/physics.md §5).
#include <cstdint>
#include <vector>

#include "tautrain/core/Error.hpp"

namespace tautrain::eval {

struct EvalConfig {
  double pt_min = 20;
  double pt_max = 120;
  double abs_eta_max = 0;
  std::vector<std::int64_t> decay_modes{0, 1, 2, 10, 11};
  std::vector<double> extra_tpr;

  template <class V>
  void describe(V& v) {
    v("pt_min", pt_min, "evaluation window in candidate pT (GeV)");
    v("pt_max", pt_max, "");
    v("abs_eta_max", abs_eta_max, "|eta| cut of the window (0: none)");
    v("decay_modes", decay_modes, "generator decay modes with their own rows (taus of that mode vs all backgrounds)");
    v("extra_tpr", extra_tpr, "further target TPRs evaluated for every discriminant, besides the CMS ones");
  }
  void validate() const {
    TAUTRAIN_CHECK_KEY(pt_min >= 0 && pt_max > pt_min, "pt_max", "needs 0 <= pt_min < pt_max");
    TAUTRAIN_CHECK_KEY(abs_eta_max >= 0, "abs_eta_max", "must be >= 0");
    for (double t : extra_tpr) TAUTRAIN_CHECK_KEY(t > 0 && t <= 1, "extra_tpr", "target TPRs are in (0, 1], got ", t);
  }
};

}  // namespace tautrain::eval
