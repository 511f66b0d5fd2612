#include "tautrain/eval/Intervals.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "tautrain/core/Random.hpp"
#include "tautrain/eval/Discriminant.hpp"

using namespace tautrain::eval;

namespace {

/// P(X >= k) for X ~ Binomial(n, p), summed term by term: an independent route to the
/// Clopper–Pearson bounds, which solve P(X >= k | low) = P(X <= k | high) = (1 - coverage) / 2.
double upperTail(int k, int n, double p) {
  double sum = 0;
  for (int j = k; j <= n; ++j)
    sum += std::exp(std::lgamma(n + 1) - std::lgamma(j + 1) - std::lgamma(n - j + 1) + j * std::log(p) +
                    (n - j) * std::log1p(-p));
  return sum;
}

}  // namespace

TEST(Intervals, ClopperPearsonSolvesTheBinomialTailsSummedDirectly) {
  const double tail = (1 - kOneSigma) / 2;
  for (const auto& [k, n] : std::vector<std::pair<int, int>>{{1, 10}, {3, 10}, {7, 20}, {50, 100}, {99, 100}}) {
    const auto interval = clopperPearson(k, n);
    EXPECT_NEAR(upperTail(k, n, interval.low), tail, 1e-9) << k << "/" << n;
    EXPECT_NEAR(1 - upperTail(k + 1, n, interval.high), tail, 1e-9) << k << "/" << n;
    EXPECT_LT(interval.low, static_cast<double>(k) / n);
    EXPECT_GT(interval.high, static_cast<double>(k) / n);
  }
}

TEST(Intervals, ClopperPearsonAtZeroAndAllHasTheClosedForm) {
  const double tail = (1 - kOneSigma) / 2;
  // k = 0: high solves (1 - p)^n = tail; k = n: low solves p^n = tail.
  for (const int n : {1, 4, 30, 1000}) {
    EXPECT_EQ(clopperPearson(0, n).low, 0.0);
    EXPECT_NEAR(clopperPearson(0, n).high, 1 - std::pow(tail, 1.0 / n), 1e-10) << n;
    EXPECT_NEAR(clopperPearson(n, n).low, std::pow(tail, 1.0 / n), 1e-10) << n;
    EXPECT_EQ(clopperPearson(n, n).high, 1.0);
  }
  // 95 %, the textbook case 0 of 10: upper bound 1 - 0.025^(1/10) = 0.3085.
  EXPECT_NEAR(clopperPearson(0, 10, 0.95).high, 0.308497, 1e-6);
}

TEST(Intervals, WeightedRatesUseEffectiveEntriesAndReduceToCountsForUnitWeights) {
  // Unit weights: the counts themselves.
  const auto unit = rateInterval(0.3, 10, 10);
  EXPECT_DOUBLE_EQ(unit.low, clopperPearson(3, 10).low);
  EXPECT_DOUBLE_EQ(unit.high, clopperPearson(3, 10).high);
  // Ten entries of weight 2: the same effective sample as ten of weight 1.
  const auto doubled = rateInterval(0.3, 20, 40);
  EXPECT_NEAR(doubled.low, unit.low, 1e-12);
  // Five entries of weight 1 and five of weight 3: n_eff = 20^2 / 50 = 8, k_eff = 2.4.
  const auto mixed = rateInterval(0.3, 20, 50);
  EXPECT_NEAR(mixed.low, clopperPearson(2.4, 8).low, 1e-12);
  EXPECT_GT(mixed.high - mixed.low, unit.high - unit.low) << "fewer effective entries, a wider interval";
}

TEST(Intervals, EveryRocPointCarriesTheIntervalsOfItsCounts) {
  // Signal 0.9 0.8 0.7 0.6, background 0.85 0.5 0.4 0.3: the knee (TPR 1, FPR 0.25) is 4 of 4
  // taus and 1 of 4 background candidates.
  const auto curve = rocCurve({0.9f, 0.8f, 0.7f, 0.6f, 0.85f, 0.5f, 0.4f, 0.3f}, {1, 1, 1, 1, 0, 0, 0, 0});
  const auto knee = kneePoint(curve);
  EXPECT_DOUBLE_EQ(knee.tpr_interval.low, clopperPearson(4, 4).low);
  EXPECT_DOUBLE_EQ(knee.fpr_interval.high, clopperPearson(1, 4).high);
  // A threshold fixed elsewhere: the cut at 0.75 keeps taus 0.9 and 0.8 and background 0.85.
  const auto fixed = pointAtThreshold(curve, 0.75);
  EXPECT_DOUBLE_EQ(fixed.tpr, 0.5);
  EXPECT_DOUBLE_EQ(fixed.fpr, 0.25);
  EXPECT_DOUBLE_EQ(fixed.tpr_interval.low, clopperPearson(2, 4).low);
  // A threshold equal to a score keeps that score; one above every score keeps nothing.
  EXPECT_DOUBLE_EQ(pointAtThreshold(curve, 0.8).tpr, 0.5);
  EXPECT_DOUBLE_EQ(pointAtThreshold(curve, 2.0).fpr, 0.0);
  EXPECT_DOUBLE_EQ(pointAtThreshold(curve, -1.0).fpr, 1.0);
}

TEST(Intervals, BootstrapSpreadOfTheAucMatchesItsStandardErrorAndRepeatsWithTheSeed) {
  // Two well-separated Gaussian score populations: the AUC's standard error from Hanley and
  // McNeil's formula, an independent estimate, against the bootstrap's 68 % interval.
  tautrain::Rng rng(5);
  std::vector<float> score;
  std::vector<std::uint8_t> signal;
  constexpr int kEach = 2000;
  for (int i = 0; i < 2 * kEach; ++i) {
    signal.push_back(i < kEach);
    score.push_back(static_cast<float>(rng.normal() + (i < kEach ? 1.0 : 0.0)));
  }
  const double auc = rocAuc(score, signal);
  const double q1 = auc / (2 - auc), q2 = 2 * auc * auc / (1 + auc);
  const double hanleyMcNeil =
      std::sqrt((auc * (1 - auc) + (kEach - 1) * (q1 - auc * auc) + (kEach - 1) * (q2 - auc * auc)) / (kEach * kEach));
  const auto spread = bootstrapAucAndKnee(score, signal, {}, 200, 9);
  EXPECT_EQ(spread.replicates, 200);
  EXPECT_LT(spread.auc.low, auc);
  EXPECT_GT(spread.auc.high, auc);
  EXPECT_NEAR(0.5 * (spread.auc.high - spread.auc.low), hanleyMcNeil, 0.25 * hanleyMcNeil);
  EXPECT_LT(spread.knee_fpr.low, spread.knee_fpr.high);
  const auto again = bootstrapAucAndKnee(score, signal, {}, 200, 9);
  EXPECT_EQ(again.auc.low, spread.auc.low);
  EXPECT_EQ(again.knee_tpr.high, spread.knee_tpr.high);
  EXPECT_NE(bootstrapAucAndKnee(score, signal, {}, 200, 10).auc.low, spread.auc.low);
}
