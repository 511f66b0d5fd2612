#include "tautrain/eval/Discriminant.hpp"

#include <algorithm>
#include <limits>

#include "tautrain/core/Error.hpp"

namespace tautrain::eval {

RocCurve rocCurve(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
                  const std::vector<float>& weight) {
  const std::size_t n = score.size();
  TAUTRAIN_CHECK(isSignal.size() == n && (weight.empty() || weight.size() == n), Error, "ROC: ", n, " scores, ",
                 isSignal.size(), " labels and ", weight.size(), " weights");
  // Sorting the values themselves, not indices into them, keeps the sort in cache.
  struct Entry {
    float score, weight;
    bool signal;
  };
  std::vector<Entry> entries(n);
  for (std::size_t i = 0; i < n; ++i) entries[i] = {score[i], weight.empty() ? 1.0f : weight[i], isSignal[i] != 0};
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.score > b.score; });
  RocCurve roc;
  for (std::size_t i = 0; i < n;) {
    double tp = roc.tp.back(), fp = roc.fp.back();
    std::size_t j = i;
    for (; j < n && entries[j].score == entries[i].score; ++j) (entries[j].signal ? tp : fp) += entries[j].weight;
    roc.tp.push_back(tp);
    roc.fp.push_back(fp);
    roc.threshold.push_back(entries[i].score);
    i = j;
  }
  roc.signal = roc.tp.back();
  roc.background = roc.fp.back();
  return roc;
}

double rocAuc(const RocCurve& roc) {
  if (roc.signal <= 0 || roc.background <= 0) return 0.5;
  double area = 0;  // trapezoids in (FPR, TPR); a tied group is a diagonal step
  for (std::size_t k = 1; k < roc.tp.size(); ++k) area += (roc.fp[k] - roc.fp[k - 1]) * 0.5 * (roc.tp[k] + roc.tp[k - 1]);
  return area / (roc.signal * roc.background);
}

double rocAuc(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
              const std::vector<float>& weight) {
  return rocAuc(rocCurve(score, isSignal, weight));
}

RocPoint pointAtTpr(const RocCurve& roc, double targetTpr) {
  if (roc.signal <= 0 || roc.background <= 0) return {targetTpr, 0.0, 0.0};
  for (std::size_t k = 1; k < roc.tp.size(); ++k) {
    const double tprBefore = roc.tp[k - 1] / roc.signal, tprAfter = roc.tp[k] / roc.signal;
    if (tprAfter >= targetTpr && tprAfter > tprBefore) {
      const double fraction = std::max(0.0, (targetTpr - tprBefore) / (tprAfter - tprBefore));
      return {targetTpr, (roc.fp[k - 1] + fraction * (roc.fp[k] - roc.fp[k - 1])) / roc.background,
              roc.threshold[k - 1]};
    }
  }
  return {targetTpr, 1.0, -std::numeric_limits<double>::infinity()};
}

double fprAtTpr(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal, double targetTpr,
                const std::vector<float>& weight) {
  return pointAtTpr(rocCurve(score, isSignal, weight), targetTpr).fpr;
}

RocPoint kneePoint(const RocCurve& roc) {
  RocPoint knee;
  if (roc.signal <= 0 || roc.background <= 0) return knee;
  double best = -1;
  for (std::size_t k = 1; k < roc.tp.size(); ++k) {
    const double tpr = roc.tp[k] / roc.signal, fpr = roc.fp[k] / roc.background;
    if (tpr - fpr > best) best = tpr - fpr, knee = {tpr, fpr, roc.threshold[k - 1]};
  }
  return knee;
}

std::vector<RocPoint> thinnedRoc(const RocCurve& roc, const std::vector<double>& targets, double tprStep,
                                 double fprFactor) {
  std::vector<RocPoint> points;
  if (roc.signal <= 0 || roc.background <= 0) return points;
  std::vector<std::uint8_t> keep(roc.tp.size(), 0);
  for (double target : targets)
    for (std::size_t k = 1; k < roc.tp.size(); ++k)
      if (roc.tp[k] / roc.signal >= target) {
        keep[k - 1] = keep[k] = 1;
        break;
      }
  double lastTpr = -1, lastFpr = -1;
  for (std::size_t k = 1; k < roc.tp.size(); ++k) {
    const double tpr = roc.tp[k] / roc.signal, fpr = roc.fp[k] / roc.background;
    const bool end = k + 1 == roc.tp.size();
    if (!end && !keep[k] && tpr - lastTpr < tprStep && fpr <= lastFpr * fprFactor) continue;
    points.push_back({tpr, fpr, roc.threshold[k - 1]});
    lastTpr = tpr, lastFpr = fpr;
  }
  return points;
}

DiscriminantInput discriminantInput(const std::vector<float>& probabilities, const std::vector<std::int64_t>& labels,
                                    int background, const std::vector<float>& weights,
                                    const std::vector<std::uint8_t>& selected) {
  DiscriminantInput in;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if ((labels[i] != 2 && labels[i] != background) || (!selected.empty() && !selected[i])) continue;
    const float tau = probabilities[i * 4 + 2], other = probabilities[i * 4 + background];
    in.score.push_back(tau + other > 0 ? tau / (tau + other) : 0.5f);
    in.signal.push_back(labels[i] == 2);
    if (!weights.empty()) in.weight.push_back(weights[i]);
  }
  return in;
}

RocCurve discriminantRoc(const std::vector<float>& probabilities, const std::vector<std::int64_t>& labels,
                         int background, const std::vector<float>& weights) {
  const auto in = discriminantInput(probabilities, labels, background, weights);
  return rocCurve(in.score, in.signal, in.weight);
}

DiscriminantSummary summarizeDiscriminants(const std::vector<float>& probabilities,
                                           const std::vector<std::int64_t>& labels, const std::vector<float>& weights) {
  DiscriminantSummary result;
  for (std::size_t d = 0; d < kBackgrounds.size(); ++d) {
    const auto curve = discriminantRoc(probabilities, labels, kBackgrounds[d], weights);
    result.auc[d] = rocAuc(curve);
    result.medium_fpr[d] = pointAtTpr(curve, kMediumTpr[d]).fpr;
  }
  return result;
}

}  // namespace tautrain::eval
