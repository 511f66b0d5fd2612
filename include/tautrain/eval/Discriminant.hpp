#pragma once
// Discriminants D_alpha = y_tau / (y_tau + y_alpha) and their exact ROC AUC (docs/physics.md §5).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tautrain/eval/Intervals.hpp"

namespace tautrain::eval {

/// Backgrounds of the three discriminants, in class-index terms: e, mu, jet.
inline constexpr std::array<int, 3> kBackgrounds = {0, 1, 3};
inline constexpr const char* kDiscriminantNames[3] = {"D_e", "D_mu", "D_jet"};

/// The exact ROC: one point per distinct score, from the highest threshold down; tied
/// scores form one point. tp and fp are cumulative weights, starting from (0, 0).
struct RocCurve {
  std::vector<double> tp{0.0}, fp{0.0};
  std::vector<float> threshold;  ///< score at or above which point k+1 accepts
  double signal = 0, background = 0;
  double signal_squares = 0, background_squares = 0;  ///< sums of squared weights, for intervals
};
RocCurve rocCurve(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
                  const std::vector<float>& weight = {});

/// Scores sorted once by falling value, so that the ROC of any subset of them costs one pass
/// instead of a sort: the evaluation's many selections of one discriminant share it.
class SortedScores {
 public:
  /// rows[k] names the candidate of score[k] (a ScoreTable row), for selecting subsets.
  SortedScores(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
               const std::vector<float>& weight, const std::vector<std::uint32_t>& rows);
  /// The ROC of the candidates whose row is selected (all when `selected` is empty); the same
  /// curve as rocCurve of those candidates.
  RocCurve curve(const std::vector<std::uint8_t>& selected = {}) const;

  struct Entry {
    float score, weight;
    std::uint32_t row;
    bool signal;
  };
  /// By falling score.
  const std::vector<Entry>& entries() const { return m_entries; }

 private:
  std::vector<Entry> m_entries;
};

/// Area under the ROC curve of `score` separating signal from background, with weights.
/// Tied scores count half (the trapezoid through the tied point). Sort-based: O(n log n).
double rocAuc(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
              const std::vector<float>& weight = {});
double rocAuc(const RocCurve& curve);

/// False-positive rate at a target true-positive rate. The ROC's points are the thresholds
/// between distinct scores, from high to low (tied scores form one point); between the two
/// points that bracket the target TPR the FPR is interpolated linearly in TPR.
double fprAtTpr(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal, double targetTpr,
                const std::vector<float>& weight = {});

/// One point of a ROC curve: cutting at score >= threshold gives tpr and fpr, each with its
/// 68 % interval (rateInterval of the curve's signal or background).
struct RocPoint {
  double tpr = 0, fpr = 0;
  double threshold = 0;
  Interval tpr_interval, fpr_interval;
};

/// The point (tpr, fpr, threshold) of `curve`, with the intervals of both rates.
RocPoint rocPoint(const RocCurve& curve, double tpr, double fpr, double threshold);

/// The working point at a target TPR. The FPR is interpolated linearly in TPR between the two
/// ROC points that bracket the target (the rule fprAtTpr documents); tpr is the target; the
/// threshold is that of the upper bracketing point, the tightest cut whose TPR reaches the
/// target. A target beyond every point's TPR gives FPR 1 and threshold -inf.
RocPoint pointAtTpr(const RocCurve& curve, double targetTpr);

/// The rates of the cut score >= threshold: a working point fixed on another sample, applied.
RocPoint pointAtThreshold(const RocCurve& curve, double threshold);

/// Knee point: the ROC point farthest from the diagonal TPR = FPR, i.e. with the largest
/// TPR - FPR; the tightest such point when several tie.
RocPoint kneePoint(const RocCurve& curve);

/// Spread of the AUC and the knee point over `replicates` Poisson-bootstrap resamples: each
/// candidate's weight times a Poisson(1) count drawn from (seed, replicate), the usual large-
/// sample stand-in for drawing n of n with replacement. The scores are sorted once, so a
/// resample costs one O(n) pass. Intervals: the 15.87 and 84.13 percentiles.
struct BootstrapSpread {
  int replicates = 0;
  Interval auc, knee_tpr, knee_fpr;
};
BootstrapSpread bootstrapAucAndKnee(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
                                    const std::vector<float>& weight, int replicates, std::uint64_t seed);

/// Points for plotting: a point is kept when TPR moved by `tprStep` or FPR grew by the
/// factor `fprFactor` since the last kept one (so low FPRs keep their resolution), plus the
/// end point and the two points that bracket each of `targets`, so every working point
/// drawn on the thinned curve lies where the full curve puts it.
std::vector<RocPoint> thinnedRoc(const RocCurve& curve, const std::vector<double>& targets = {}, double tprStep = 0.002,
                                 double fprFactor = 1.02);

/// Scores of D_alpha on taus and class `background` only, with their weights (empty when no
/// weights are given). `selected`, when not empty, picks the candidates that take part.
struct DiscriminantInput {
  std::vector<float> score, weight;
  std::vector<std::uint8_t> signal;
  std::vector<std::uint32_t> rows;  ///< the candidate (row) of each score
};

/// D_alpha of candidate `row`: y_tau / (y_tau + y_background), 0.5 where both are 0.
inline float discriminantScore(const std::vector<float>& probabilities, std::size_t row, int background) {
  const float tau = probabilities[row * 4 + 2], other = probabilities[row * 4 + static_cast<std::size_t>(background)];
  return tau + other > 0 ? tau / (tau + other) : 0.5f;
}
DiscriminantInput discriminantInput(const std::vector<float>& probabilities, const std::vector<std::int64_t>& labels,
                                    int background, const std::vector<float>& weights = {},
                                    const std::vector<std::uint8_t>& selected = {});

/// ROC of D_alpha = y_tau / (y_tau + y_alpha) on taus and class `background` only.
RocCurve discriminantRoc(const std::vector<float>& probabilities, const std::vector<std::int64_t>& labels,
                         int background, const std::vector<float>& weights = {});

/// CMS "Medium" working points (docs/physics.md §5) of D_e, D_mu, D_jet.
inline constexpr std::array<double, 3> kMediumTpr = {0.90, 0.998, 0.70};

/// The CMS DeepTau working points (docs/physics.md §5): target TPR of D_e, D_mu, D_jet; 0 where
/// a discriminant has no such point.
struct WorkingPoint {
  const char* name;
  std::array<double, 3> tpr;
};
inline constexpr std::array<WorkingPoint, 8> kWorkingPoints{{{"VVTight", {0.60, 0, 0.40}},
                                                             {"VTight", {0.70, 0, 0.50}},
                                                             {"Tight", {0.80, 0.995, 0.60}},
                                                             {"Medium", {0.90, 0.998, 0.70}},
                                                             {"Loose", {0.95, 0.999, 0.80}},
                                                             {"VLoose", {0.98, 0.9995, 0.90}},
                                                             {"VVLoose", {0.99, 0, 0.95}},
                                                             {"VVVLoose", {0.995, 0, 0.98}}}};

struct DiscriminantSummary {
  std::array<double, 3> auc{};         ///< D_e, D_mu, D_jet
  std::array<double, 3> medium_fpr{};  ///< FPR at the Medium working point of each
};

/// AUC and Medium-WP FPR of D_alpha for each background (e, mu, jet), each on taus plus that
/// background only. probabilities: [n, 4] row-major softmax outputs.
DiscriminantSummary summarizeDiscriminants(const std::vector<float>& probabilities,
                                           const std::vector<std::int64_t>& labels,
                                           const std::vector<float>& weights = {});

}  // namespace tautrain::eval
