#include "tautrain/eval/Discriminant.hpp"

#include <algorithm>
#include <numeric>

#include "tautrain/core/Error.hpp"

namespace tautrain::eval {

double rocAuc(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
              const std::vector<float>& weight) {
  const std::size_t n = score.size();
  TAUTRAIN_CHECK(isSignal.size() == n && (weight.empty() || weight.size() == n), Error, "rocAuc: size mismatch");
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });
  // Walk thresholds from high to low; each group of tied scores is one ROC step.
  double tp = 0, fp = 0, area = 0;
  for (std::size_t i = 0; i < n;) {
    double dtp = 0, dfp = 0;
    std::size_t j = i;
    for (; j < n && score[order[j]] == score[order[i]]; ++j) {
      const double w = weight.empty() ? 1.0 : weight[order[j]];
      (isSignal[order[j]] ? dtp : dfp) += w;
    }
    area += dfp * (tp + 0.5 * dtp);
    tp += dtp;
    fp += dfp;
    i = j;
  }
  return tp > 0 && fp > 0 ? area / (tp * fp) : 0.5;
}

double fprAtTpr(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal, double targetTpr,
                const std::vector<float>& weight) {
  const std::size_t n = score.size();
  TAUTRAIN_CHECK(isSignal.size() == n && (weight.empty() || weight.size() == n), Error, "fprAtTpr: size mismatch");
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });
  double signal = 0, background = 0;
  for (std::size_t i = 0; i < n; ++i) (isSignal[i] ? signal : background) += weight.empty() ? 1.0 : weight[i];
  if (signal <= 0 || background <= 0) return 0.0;
  double tp = 0, fp = 0;  // the point before the current group
  for (std::size_t i = 0; i < n;) {
    double dtp = 0, dfp = 0;
    std::size_t j = i;
    for (; j < n && score[order[j]] == score[order[i]]; ++j) (isSignal[order[j]] ? dtp : dfp) += weight.empty() ? 1.0 : weight[order[j]];
    const double tprBefore = tp / signal, tprAfter = (tp + dtp) / signal;
    if (tprAfter >= targetTpr && dtp > 0) {
      const double fraction = (targetTpr - tprBefore) / (tprAfter - tprBefore);
      return (fp + std::max(0.0, fraction) * dfp) / background;
    }
    tp += dtp;
    fp += dfp;
    i = j;
  }
  return 1.0;
}

DiscriminantSummary summarizeDiscriminants(const std::vector<float>& probabilities,
                                           const std::vector<std::int64_t>& labels, const std::vector<float>& weights) {
  DiscriminantSummary result;
  for (std::size_t d = 0; d < kBackgrounds.size(); ++d) {
    const int background = kBackgrounds[d];
    std::vector<float> score, w;
    std::vector<std::uint8_t> signal;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] != 2 && labels[i] != background) continue;
      const float tau = probabilities[i * 4 + 2], other = probabilities[i * 4 + background];
      score.push_back(tau + other > 0 ? tau / (tau + other) : 0.5f);
      signal.push_back(labels[i] == 2);
      if (!weights.empty()) w.push_back(weights[i]);
    }
    result.auc[d] = rocAuc(score, signal, w);
    result.medium_fpr[d] = fprAtTpr(score, signal, kMediumTpr[d], w);
  }
  return result;
}

}  // namespace tautrain::eval
