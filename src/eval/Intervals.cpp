#include "tautrain/eval/Intervals.hpp"

#include <unsupported/Eigen/SpecialFunctions>

#include <algorithm>
#include <cmath>

namespace tautrain::eval {

namespace {

/// erf^-1 by Newton on std::erf from Giles' single-precision start: enough for a start value.
double inverseErf(double y) {
  y = std::clamp(y, -1 + 1e-16, 1 - 1e-16);
  const double w = -std::log((1 - y) * (1 + y));
  double x;
  if (w < 5) {
    const double v = w - 2.5;
    x = y * (1.50140941 + v * (0.246640727 + v * (-0.00417768164 + v * (-0.00125372503 + v * 0.00021858087))));
  } else {
    const double v = std::sqrt(w) - 3;
    x = y * (2.83297682 + v * (1.00167406 + v * (0.00943887047 + v * (-0.0076224613 + v * 0.00573950773))));
  }
  for (int i = 0; i < 2; ++i) x -= (std::erf(x) - y) / (2 / std::sqrt(M_PI) * std::exp(-x * x));
  return x;
}

}  // namespace

double betaQuantile(double p, double a, double b) {
  // Newton on I_x(a, b) = p from the Cornish–Fisher approximation of the quantile, kept inside
  // a shrinking bracket (bisecting when a step leaves it): a few incomplete-beta evaluations
  // instead of the ~45 of plain bisection, which matters on ROC curves of 10^3 points.
  const double n = a + b, mean = a / n, sd = std::sqrt(a * b / (n * n * (n + 1)));
  const double skew = 2 * (b - a) * std::sqrt(n + 1) / ((n + 2) * std::sqrt(a * b));
  const double z = std::sqrt(2.0) * inverseErf(2 * p - 1);
  double low = 0, high = 1;
  double x = std::clamp(mean + sd * (z + skew * (z * z - 1) / 6), 1e-300, 1 - 1e-16);
  const double logBeta = std::lgamma(a) + std::lgamma(b) - std::lgamma(n);
  for (int i = 0; i < 200; ++i) {
    const double f = Eigen::numext::betainc(a, b, x) - p;
    (f < 0 ? low : high) = x;
    const double density = std::exp((a - 1) * std::log(x) + (b - 1) * std::log1p(-x) - logBeta);
    double next = density > 0 ? x - f / density : 0.5 * (low + high);
    if (!(next > low && next < high)) next = 0.5 * (low + high);
    if (std::abs(next - x) <= 1e-14 * x || high - low <= 1e-15) return next;
    x = next;
  }
  return x;
}

Interval clopperPearson(double passed, double total, double coverage) {
  if (total <= 0) return {0, 1};
  const double k = std::clamp(passed, 0.0, total), tail = 0.5 * (1 - coverage);
  return {k > 0 ? betaQuantile(tail, k, total - k + 1) : 0.0,
          k < total ? betaQuantile(1 - tail, k + 1, total - k) : 1.0};
}

Interval rateInterval(double rate, double weights, double squares, double coverage) {
  if (weights <= 0 || squares <= 0) return {0, 1};
  const double effective = weights * weights / squares;
  return clopperPearson(rate * effective, effective, coverage);
}

}  // namespace tautrain::eval
