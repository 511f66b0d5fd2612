#include "tautrain/eval/Studies.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "tautrain/core/Error.hpp"
#include "tautrain/eval/Discriminant.hpp"
#include "tautrain/eval/Evaluation.hpp"
#include "tautrain/io/Gnuplot.hpp"
#include "tautrain/io/Json.hpp"

namespace tautrain::eval {

namespace fs = std::filesystem;

namespace {

double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const auto above = std::min(below + 1, values.size() - 1);
  return values[below] + (position - static_cast<double>(below)) * (values[above] - values[below]);
}

EnsemblePoint statistics(const std::string& discriminant, const std::string& wp, double tpr,
                         const std::vector<double>& fpr) {
  EnsemblePoint p{discriminant, wp, tpr};
  for (double v : fpr) p.mean += v / static_cast<double>(fpr.size());
  for (double v : fpr) p.stddev += (v - p.mean) * (v - p.mean) / static_cast<double>(fpr.size() - 1);
  p.stddev = std::sqrt(p.stddev);
  p.low = percentile(fpr, 0.16), p.high = percentile(fpr, 0.84);
  return p;
}

}  // namespace

std::vector<EnsemblePoint> ensembleSpread(const std::vector<ScoreTable>& runs, const EvalConfig& config, int gridPoints) {
  TAUTRAIN_CHECK(runs.size() >= 2, DataError, "an ensemble needs at least two score files, got ", runs.size());
  std::vector<EnsemblePoint> points;
  for (std::size_t d = 0; d < kBackgrounds.size(); ++d) {
    std::vector<RocCurve> curves;
    for (const auto& run : runs) {
      const auto in =
          discriminantInput(run.probabilities, run.label, kBackgrounds[d], run.weight, windowSelection(run, config));
      curves.push_back(rocCurve(in.score, in.signal, in.weight));
    }
    const auto at = [&](double tpr) {
      std::vector<double> fpr;
      for (const auto& curve : curves) fpr.push_back(pointAtTpr(curve, tpr).fpr);
      return fpr;
    };
    for (int k = 0; k < gridPoints; ++k) {
      const double tpr = 0.2 + 0.8 * k / std::max(1, gridPoints - 1);
      points.push_back(statistics(kDiscriminantNames[d], "", tpr, at(tpr)));
    }
    for (const auto& wp : kWorkingPoints)
      if (wp.tpr[d] > 0) points.push_back(statistics(kDiscriminantNames[d], wp.name, wp.tpr[d], at(wp.tpr[d])));
  }
  return points;
}

void writeEnsemble(const std::string& directory, const std::vector<EnsemblePoint>& points, std::size_t runs) {
  fs::create_directories(fs::path(directory) / "plots");
  std::string csv = "discriminant,wp,tpr,fpr_mean,fpr_std,fpr_low68,fpr_high68,relative_spread\n";
  std::string md = fmt::format("# Ensemble of {} runs\n\nFPR at each working point: mean, sample standard deviation, "
                               "68 % band (16th-84th percentile) and relative spread (std / mean).\n\n"
                               "| discriminant | WP | TPR | FPR mean | std | 68 % band | relative spread |\n"
                               "|---|---|---|---|---|---|---|\n",
                               runs);
  for (const auto& p : points) {
    csv += fmt::format("{},{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.4g}\n", p.discriminant, p.wp, p.tpr, p.mean, p.stddev,
                       p.low, p.high, p.relative_spread());
    if (!p.wp.empty())
      md += fmt::format("| {} | {} | {:g} | {:.4g} | {:.2g} | {:.4g} - {:.4g} | {:.1f} % |\n", p.discriminant, p.wp,
                        p.tpr, p.mean, p.stddev, p.low, p.high, 100 * p.relative_spread());
  }
  io::writeFileAtomic((fs::path(directory) / "ensemble.csv").string(), csv);
  io::writeFileAtomic((fs::path(directory) / "ensemble-wp.md").string(), md);

  for (const char* discriminant : kDiscriminantNames) {
    std::string data;
    for (const auto& p : points)
      if (p.discriminant == discriminant && p.wp.empty() && p.low > 0)
        data += fmt::format("{:.6g} {:.6g} {:.6g} {:.6g}\n", p.tpr, p.mean, p.low, p.high);
    const auto stem = (fs::path(directory) / "plots" / (std::string("ensemble-") + discriminant)).string();
    io::writeFileAtomic(stem + ".dat", data);
    io::runGnuplot(stem, fmt::format("set logscale y\nset xlabel 'TPR (genuine tau_h)'\nset ylabel 'FPR'\nset grid\n"
                                     "set key top left\nset title '{0}: mean of {1} runs with 68 % band' noenhanced\n"
                                     "set terminal pngcairo size 900,650\nset output '{2}.png'\n"
                                     "plot '{2}.dat' using 1:3:4 with filledcurves fs transparent solid 0.3 lc 1 "
                                     "title '68 % band', '' using 1:2 with lines lw 2 lc 1 title 'mean'\n"
                                     "set terminal pdfcairo size 6in,4.3in\nset output '{2}.pdf'\nreplot\n",
                                     discriminant, runs, stem));
  }
}

int epochKeptWithPatience(const std::vector<double>& validLoss, int patience) {
  TAUTRAIN_CHECK(!validLoss.empty(), DataError, "patience study: the history has no epochs");
  TAUTRAIN_CHECK_KEY(patience > 0, "--patience", "values must be positive, got ", patience);
  int best = 1, stalled = 0;
  for (int epoch = 1; epoch <= static_cast<int>(validLoss.size()); ++epoch) {
    if (epoch == 1 || validLoss[epoch - 1] < validLoss[best - 1]) {
      best = epoch, stalled = 0;
    } else if (++stalled >= patience) {
      break;
    }
  }
  return best;
}

}  // namespace tautrain::eval
