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
  std::vector<double> pt_bins{20, 25, 30, 35, 40, 50, 60, 80, 100, 150, 200, 1000};
  std::vector<double> abs_eta_bins{0, 0.5, 1.0, 1.479, 2.0, 2.3};
  int bootstrap = 0;
  std::uint64_t bootstrap_seed = 1;

  template <class V>
  void describe(V& v) {
    v("pt_min", pt_min, "evaluation window in candidate pT (GeV)");
    v("pt_max", pt_max, "");
    v("abs_eta_max", abs_eta_max, "|eta| cut of the window (0: none)");
    v("decay_modes", decay_modes, "generator decay modes with their own rows (taus of that mode vs all backgrounds)");
    v("extra_tpr", extra_tpr, "further target TPRs evaluated for every discriminant, besides the CMS ones");
    v("pt_bins", pt_bins,
      "bin edges (GeV): a ROC and WP table per pT bin (|eta| cut of the window), and efficiency versus pT");
    v("abs_eta_bins", abs_eta_bins, "bin edges: a ROC and WP table per |eta| bin (pT window), and efficiency versus |eta|");
    v("bootstrap", bootstrap, "Poisson-bootstrap resamples for intervals of the AUC and the knee point (0: off)");
    v("bootstrap_seed", bootstrap_seed, "seed of the resamples (the same seed gives the same intervals)");
  }
  void validate() const {
    TAUTRAIN_CHECK_KEY(pt_min >= 0 && pt_max > pt_min, "pt_max", "needs 0 <= pt_min < pt_max");
    TAUTRAIN_CHECK_KEY(abs_eta_max >= 0, "abs_eta_max", "must be >= 0");
    for (double t : extra_tpr) TAUTRAIN_CHECK_KEY(t > 0 && t <= 1, "extra_tpr", "target TPRs are in (0, 1], got ", t);
    TAUTRAIN_CHECK_KEY(bootstrap >= 0, "bootstrap", "must be >= 0");
    checkEdges(pt_bins, "pt_bins");
    checkEdges(abs_eta_bins, "abs_eta_bins");
  }
  static void checkEdges(const std::vector<double>& edges, const char* key) {
    TAUTRAIN_CHECK_KEY(edges.empty() || edges.size() >= 2, key, "needs at least two edges (or none: no bins)");
    for (std::size_t i = 0; i < edges.size(); ++i)
      TAUTRAIN_CHECK_KEY(edges[i] >= 0 && (i == 0 || edges[i] > edges[i - 1]), key,
                         "edges must be >= 0 and increasing, got ", edges[i], " at position ", i);
  }
};

}  // namespace tautrain::eval
