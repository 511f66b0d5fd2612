#pragma once
// Data-scaling fits y(N) = A * N^(-alpha) + c with c >= 0 (docs/physics.md §5).
#include <string>
#include <vector>

namespace tautrain::eval {

struct PowerLawFit {
  std::string series;
  double A = 0, A_err = 0;
  double alpha = 0, alpha_err = 0;
  double c = 0, c_err = 0;
  double chi2 = 0;  ///< sum of squared residuals, over sigma^2 when weighted
  int ndf = 0;      ///< points - 3
  bool weighted = false;
  std::vector<double> n, y, sigma;  ///< the points fitted (sigma: when weighted)
};

/// Least squares with c >= 0, found globally: for fixed alpha the model is linear in (A, c),
/// solved exactly (with c clamped to 0 when it would be negative), which leaves a 1-D problem
/// in alpha, scanned on a grid over [0, 5] and refined by golden-section search around the
/// best grid point. Uncertainties: the covariance (J^T J)^-1 at the solution scaled by
/// chi2 / ndf (the convention of scipy's curve_fit); NaN when ndf < 1.
/// With `sigma` (each point's uncertainty), residuals are divided by it and the covariance is
/// (J^T W J)^-1 unscaled, with W = 1/sigma^2: scipy's absolute_sigma=True; chi2/ndf then says
/// whether the points scatter as their uncertainties say.
PowerLawFit fitPowerLaw(const std::vector<double>& n, const std::vector<double>& y, const std::string& series = "",
                        const std::vector<double>& sigma = {});

/// Reads a CSV whose first column is `n` and each further column a series (empty cells are
/// skipped) and fits every series; a column `<series>_err` holds that series' uncertainties,
/// used when `weighted` (then required) and never fitted itself. Errors name the file and line.
std::vector<PowerLawFit> fitPowerLawCsv(const std::string& path, bool weighted = false);

/// The points of a data-scaling study as a CSV for fitPowerLawCsv: for each (N, evaluation
/// directory of one model), the FPR at every WP and the knee point's 1 - TPR and FPR of
/// `selection`, one column per series ("D_jet Medium FPR", "D_jet knee 1-TPR", ...), and
/// where the tables have intervals a `<series>_err` column: half the 68 % interval's width.
std::string dataScalingPoints(const std::vector<std::pair<double, std::string>>& runs, const std::string& selection);

/// Points and fitted curves on log-log axes through gnuplot (PREFIX.png, PREFIX.pdf); warns
/// and returns false without gnuplot.
bool plotPowerLaws(const std::string& prefix, const std::vector<PowerLawFit>& fits);

/// CSV with a header `series,A,A_err,alpha,alpha_err,c,c_err,chi2,ndf,weighted` and a row per fit.
std::string powerLawCsv(const std::vector<PowerLawFit>& fits);

}  // namespace tautrain::eval
