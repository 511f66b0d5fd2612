#include "tautrain/eval/Discriminant.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Random.hpp"

namespace tautrain::eval {

namespace {

/// The 15.87 and 84.13 percentiles (one standard deviation's worth of a normal) of `values`.
Interval centralInterval(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  const auto at = [&](double q) { return values[static_cast<std::size_t>(std::lround(q * (values.size() - 1)))]; };
  const double tail = (1 - kOneSigma) / 2;
  return {at(tail), at(1 - tail)};
}

}  // namespace

RocCurve rocCurve(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
                  const std::vector<float>& weight) {
  return SortedScores(score, isSignal, weight, {}).curve();
}

SortedScores::SortedScores(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
                           const std::vector<float>& weight, const std::vector<std::uint32_t>& rows) {
  const std::size_t n = score.size();
  TAUTRAIN_CHECK(isSignal.size() == n && (weight.empty() || weight.size() == n) && (rows.empty() || rows.size() == n),
                 Error, "ROC: ", n, " scores, ", isSignal.size(), " labels, ", weight.size(), " weights and ",
                 rows.size(), " rows");
  // Sorting the values themselves, not indices into them, keeps the sort in cache.
  m_entries.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    m_entries[i] = {score[i], weight.empty() ? 1.0f : weight[i], rows.empty() ? 0u : rows[i], isSignal[i] != 0};
  std::sort(m_entries.begin(), m_entries.end(), [](const Entry& a, const Entry& b) { return a.score > b.score; });
}

RocCurve SortedScores::curve(const std::vector<std::uint8_t>& selected) const {
  const auto& entries = m_entries;
  const std::size_t n = entries.size();
  RocCurve roc;
  for (std::size_t i = 0; i < n;) {
    double tp = roc.tp.back(), fp = roc.fp.back();
    bool any = false;
    std::size_t j = i;
    for (; j < n && entries[j].score == entries[i].score; ++j) {
      if (!selected.empty() && !selected[entries[j].row]) continue;
      const double w = entries[j].weight;
      (entries[j].signal ? tp : fp) += w;
      (entries[j].signal ? roc.signal_squares : roc.background_squares) += w * w;
      any = true;
    }
    if (any) {  // a score none of the selected candidates has is no point of their curve
      roc.tp.push_back(tp);
      roc.fp.push_back(fp);
      roc.threshold.push_back(entries[i].score);
    }
    i = j;
  }
  roc.signal = roc.tp.back();
  roc.background = roc.fp.back();
  return roc;
}

BootstrapSpread bootstrapAucAndKnee(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal,
                                    const std::vector<float>& weight, int replicates, std::uint64_t seed) {
  const SortedScores sorted(score, isSignal, weight, {});
  const auto& entries = sorted.entries();
  BootstrapSpread spread;
  spread.replicates = replicates;
  std::vector<double> aucs, kneeTprs, kneeFprs, tp, fp;
  for (int r = 0; r < replicates; ++r) {
    Rng rng(streamSeed(seed, 0xb007, static_cast<std::uint64_t>(r)));
    tp.assign(1, 0.0), fp.assign(1, 0.0);
    for (std::size_t i = 0; i < entries.size();) {  // one point per group of tied scores, as rocCurve
      double t = tp.back(), f = fp.back();
      for (const float group = entries[i].score; i < entries.size() && entries[i].score == group; ++i)
        (entries[i].signal ? t : f) += entries[i].weight * rng.poisson(1.0);
      tp.push_back(t), fp.push_back(f);
    }
    const double signal = tp.back(), background = fp.back();
    if (signal <= 0 || background <= 0) continue;
    double area = 0, best = -1, kneeTpr = 0, kneeFpr = 0;
    for (std::size_t k = 1; k < tp.size(); ++k) {
      area += (fp[k] - fp[k - 1]) * 0.5 * (tp[k] + tp[k - 1]);
      if (tp[k] / signal - fp[k] / background > best)
        best = tp[k] / signal - fp[k] / background, kneeTpr = tp[k] / signal, kneeFpr = fp[k] / background;
    }
    aucs.push_back(area / (signal * background)), kneeTprs.push_back(kneeTpr), kneeFprs.push_back(kneeFpr);
  }
  spread.auc = centralInterval(aucs), spread.knee_tpr = centralInterval(kneeTprs);
  spread.knee_fpr = centralInterval(kneeFprs);
  return spread;
}

RocPoint rocPoint(const RocCurve& roc, double tpr, double fpr, double threshold) {
  return {tpr, fpr, threshold, rateInterval(tpr, roc.signal, roc.signal_squares),
          rateInterval(fpr, roc.background, roc.background_squares)};
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
  if (roc.signal <= 0 || roc.background <= 0) return rocPoint(roc, targetTpr, 0.0, 0.0);
  for (std::size_t k = 1; k < roc.tp.size(); ++k) {
    const double tprBefore = roc.tp[k - 1] / roc.signal, tprAfter = roc.tp[k] / roc.signal;
    if (tprAfter >= targetTpr && tprAfter > tprBefore) {
      const double fraction = std::max(0.0, (targetTpr - tprBefore) / (tprAfter - tprBefore));
      return rocPoint(roc, targetTpr, (roc.fp[k - 1] + fraction * (roc.fp[k] - roc.fp[k - 1])) / roc.background,
                      roc.threshold[k - 1]);
    }
  }
  return rocPoint(roc, targetTpr, 1.0, -std::numeric_limits<double>::infinity());
}

double fprAtTpr(const std::vector<float>& score, const std::vector<std::uint8_t>& isSignal, double targetTpr,
                const std::vector<float>& weight) {
  return pointAtTpr(rocCurve(score, isSignal, weight), targetTpr).fpr;
}

RocPoint pointAtThreshold(const RocCurve& roc, double threshold) {
  // Thresholds fall along the curve: the cut accepts the first k points' candidates.
  const auto k = static_cast<std::size_t>(
      std::upper_bound(roc.threshold.begin(), roc.threshold.end(), threshold, std::greater<double>()) -
      roc.threshold.begin());
  return rocPoint(roc, roc.signal > 0 ? roc.tp[k] / roc.signal : 0, roc.background > 0 ? roc.fp[k] / roc.background : 0,
                  threshold);
}

RocPoint kneePoint(const RocCurve& roc) {
  if (roc.signal <= 0 || roc.background <= 0) return {};
  double best = -1;
  std::size_t knee = 1;
  for (std::size_t k = 1; k < roc.tp.size(); ++k) {
    const double tpr = roc.tp[k] / roc.signal, fpr = roc.fp[k] / roc.background;
    if (tpr - fpr > best) best = tpr - fpr, knee = k;
  }
  return rocPoint(roc, roc.tp[knee] / roc.signal, roc.fp[knee] / roc.background, roc.threshold[knee - 1]);
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
    points.push_back(rocPoint(roc, tpr, fpr, roc.threshold[k - 1]));
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
    in.score.push_back(discriminantScore(probabilities, i, background));
    in.signal.push_back(labels[i] == 2);
    in.rows.push_back(static_cast<std::uint32_t>(i));
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
