#pragma once
// Discriminants D_alpha = y_tau / (y_tau + y_alpha) and their exact ROC AUC (REFERENCE.md §5).
#include <array>
#include <cstdint>
#include <vector>

namespace tautrain::eval {

/// Backgrounds of the three discriminants, in class-index terms: e, mu, jet.
inline constexpr std::array<int, 3> kBackgrounds = {0, 1, 3};
inline constexpr const char* kDiscriminantNames[3] = {"D_e", "D_mu", "D_jet"};

/// Area under the ROC curve of `score` separating signal from background, with weights.
/// Tied scores count half (the trapezoid through the tied point). Sort-based: O(n log n).
double rocAuc(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
              const std::vector<float>& weight = {});

/// AUC of D_alpha for each background (e, mu, jet), using only taus and that background.
/// probabilities: [n, 4] row-major softmax outputs.
std::array<double, 3> discriminantAucs(const std::vector<float>& probabilities, const std::vector<std::int64_t>& labels,
                                       const std::vector<float>& weights = {});

}  // namespace tautrain::eval
