#include "tautrain/eval/RocBenchmark.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>

#include "tautrain/config/EvalConfig.hpp"
#include "tautrain/core/Measure.hpp"
#include "tautrain/core/Random.hpp"
#include "tautrain/eval/Discriminant.hpp"
#include "tautrain/eval/Evaluation.hpp"

namespace tautrain::eval {

ScoreTable syntheticScores(std::int64_t n) {
  ScoreTable t;
  t.model = "synthetic";
  Rng rng(3);
  t.probabilities.resize(4 * n);
  t.label.resize(n), t.decay_mode.resize(n), t.weight.assign(n, 1.0f), t.pt.resize(n), t.eta.resize(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto label = static_cast<std::int64_t>(rng.below(4));
    double logits[4], sum = 0;
    for (int k = 0; k < 4; ++k) sum += logits[k] = std::exp(rng.normal() + (k == label ? 2.0 : 0.0));
    for (int k = 0; k < 4; ++k) t.probabilities[4 * i + k] = static_cast<float>(logits[k] / sum);
    t.label[i] = label;
    t.decay_mode[i] = label == 2 ? std::array<std::int64_t, 5>{0, 1, 2, 10, 11}[rng.below(5)] : -1;
    t.pt[i] = static_cast<float>(rng.uniform(20, 150));
    t.eta[i] = static_cast<float>(rng.uniform(-2.3, 2.3));
  }
  return t;
}

RocBenchmark measureRoc(const ScoreTable& table) {
  RocBenchmark result;
  // One discriminant on all candidates: taus and jets, about half of them.
  auto start = SteadyClock::now();
  const auto in = discriminantInput(table.probabilities, table.label, 3, table.weight);
  const auto curve = rocCurve(in.score, in.signal, in.weight);
  rocAuc(curve);
  kneePoint(curve);
  for (const auto& wp : kWorkingPoints) pointAtTpr(curve, wp.tpr[2]);
  result.one_discriminant_s = secondsSince(start);
  result.scores = static_cast<std::int64_t>(in.score.size());
  // The window and decay-mode selections alone (what the evaluation was before its bins).
  EvalConfig unbinned;
  unbinned.pt_bins.clear(), unbinned.abs_eta_bins.clear();
  start = SteadyClock::now();
  result.window_and_modes_rocs = static_cast<std::int64_t>(evaluate(table, unbinned).size());
  result.window_and_modes_s = secondsSince(start);
  // Everything `tautrain roc` computes.
  start = SteadyClock::now();
  const auto results = evaluate(table, EvalConfig{});
  ratesVersusVariables(table, EvalConfig{}, workingPointThresholds(results, "").by_model[table.model]);
  result.full_evaluation_s = secondsSince(start);
  result.rocs = static_cast<std::int64_t>(results.size());
  // The bootstrap's cost per resample: its one sort shared out over 10 resamples is left in.
  constexpr int kResamples = 10;
  start = SteadyClock::now();
  bootstrapAucAndKnee(in.score, in.signal, in.weight, kResamples, 1);
  result.bootstrap_resample_s = secondsSince(start) / kResamples;
  auto sorted = in.score;
  start = SteadyClock::now();
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  result.sort_only_s = secondsSince(start);
  return result;
}

}  // namespace tautrain::eval
