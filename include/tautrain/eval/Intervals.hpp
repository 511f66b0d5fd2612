#pragma once
// Statistical uncertainties of efficiencies (TPR, FPR) as docs/evaluation.md defines them.

namespace tautrain::eval {

/// The central 68.27 % interval (one standard deviation) unless asked otherwise.
inline constexpr double kOneSigma = 0.6826894921370859;

struct Interval {
  double low = 0, high = 1;
};

/// Clopper–Pearson interval of a fraction `passed` of `total` entries: the Beta quantiles
/// B((1 - coverage) / 2; k, n - k + 1) and B((1 + coverage) / 2; k + 1, n - k). Counts need
/// not be integers (effective entries); k = 0 gives low 0 and k = n high 1.
Interval clopperPearson(double passed, double total, double coverage = kOneSigma);

/// Interval of the fraction `rate` of a weighted sample whose weights sum to `weights` and
/// their squares to `squares`: Clopper–Pearson of the effective entries n_eff = weights^2 /
/// squares, of which rate x n_eff pass. For unit weights it is exactly Clopper–Pearson of the
/// counts.
Interval rateInterval(double rate, double weights, double squares, double coverage = kOneSigma);

/// x with I_x(a, b) = p: the quantile of the Beta(a, b) distribution.
double betaQuantile(double p, double a, double b);

}  // namespace tautrain::eval
