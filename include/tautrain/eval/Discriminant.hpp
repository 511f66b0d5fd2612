#pragma once
// Discriminants D_alpha = y_tau / (y_tau + y_alpha) and their exact ROC AUC (REFERENCE.md §5).
#include <array>
#include <cstdint>
#include <vector>

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
};
RocCurve rocCurve(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
                  const std::vector<float>& weight = {});

/// Area under the ROC curve of `score` separating signal from background, with weights.
/// Tied scores count half (the trapezoid through the tied point). Sort-based: O(n log n).
double rocAuc(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
              const std::vector<float>& weight = {});

/// False-positive rate at a target true-positive rate. The ROC's points are the thresholds
/// between distinct scores, from high to low (tied scores form one point); between the two
/// points that bracket the target TPR the FPR is interpolated linearly in TPR.
double fprAtTpr(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal, double targetTpr,
                const std::vector<float>& weight = {});

/// ROC of D_alpha = y_tau / (y_tau + y_alpha) on taus and class `background` only.
RocCurve discriminantRoc(const std::vector<float>& probabilities, const std::vector<std::int64_t>& labels,
                         int background, const std::vector<float>& weights = {});

/// CMS "Medium" working points (REFERENCE.md §5) of D_e, D_mu, D_jet.
inline constexpr std::array<double, 3> kMediumTpr = {0.90, 0.998, 0.70};

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
