#include "tautrain/eval/PowerLaw.hpp"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <limits>
#include <optional>

#include "tautrain/core/Error.hpp"
#include "tautrain/io/Csv.hpp"
#include "tautrain/io/Gnuplot.hpp"
#include "tautrain/io/Json.hpp"

namespace tautrain::eval {

namespace {

struct Linear {
  double A = 0, c = 0, sse = 0;
};

/// Best (A, c >= 0) for a fixed alpha; rows divided by sigma when there is one.
Linear solveLinear(const std::vector<double>& n, const std::vector<double>& y, const std::vector<double>& sigma,
                   double alpha) {
  const auto m = static_cast<Eigen::Index>(n.size());
  Eigen::MatrixXd X(m, 2);
  Eigen::VectorXd Y(m);
  for (Eigen::Index i = 0; i < m; ++i) {
    const double scale = sigma.empty() ? 1.0 : 1.0 / sigma[i];
    X(i, 0) = std::pow(n[i], -alpha) * scale, X(i, 1) = scale, Y(i) = y[i] * scale;
  }
  Linear best;
  const Eigen::Vector2d free = X.colPivHouseholderQr().solve(Y);
  if (free(1) >= 0) {
    best.A = free(0), best.c = free(1);
  } else {
    best.A = X.col(0).dot(Y) / X.col(0).squaredNorm();
  }
  best.sse = (X.col(0) * best.A + X.col(1) * best.c - Y).squaredNorm();
  return best;
}

}  // namespace

PowerLawFit fitPowerLaw(const std::vector<double>& n, const std::vector<double>& y, const std::string& series,
                        const std::vector<double>& sigma) {
  TAUTRAIN_CHECK(n.size() == y.size() && n.size() >= 3, DataError, "power-law fit of '", series,
                 "' needs at least 3 points, got ", n.size());
  TAUTRAIN_CHECK(sigma.empty() || sigma.size() == n.size(), DataError, "power-law fit of '", series, "': ",
                 sigma.size(), " uncertainties for ", n.size(), " points");
  for (double v : n) TAUTRAIN_CHECK(v > 0, DataError, "power-law fit of '", series, "': n must be positive, got ", v);
  for (double s : sigma)
    TAUTRAIN_CHECK(s > 0, DataError, "power-law fit of '", series, "': uncertainties must be positive, got ", s);
  const auto sse = [&](double alpha) { return solveLinear(n, y, sigma, alpha).sse; };
  // Grid scan, then golden section in the cells around the best grid point.
  constexpr int kGrid = 500;
  constexpr double kMaxAlpha = 5.0;
  int bestIndex = 0;
  double bestSse = std::numeric_limits<double>::infinity();
  for (int k = 0; k <= kGrid; ++k)
    if (const double s = sse(kMaxAlpha * k / kGrid); s < bestSse) bestSse = s, bestIndex = k;
  double lo = kMaxAlpha * std::max(0, bestIndex - 1) / kGrid, hi = kMaxAlpha * std::min(kGrid, bestIndex + 1) / kGrid;
  const double ratio = (std::sqrt(5.0) - 1) / 2;
  double a = hi - ratio * (hi - lo), b = lo + ratio * (hi - lo);
  double fa = sse(a), fb = sse(b);
  for (int iteration = 0; iteration < 100 && hi - lo > 1e-12; ++iteration) {
    if (fa < fb) hi = b, b = a, fb = fa, a = hi - ratio * (hi - lo), fa = sse(a);
    else lo = a, a = b, fa = fb, b = lo + ratio * (hi - lo), fb = sse(b);
  }
  PowerLawFit fit;
  fit.series = series;
  fit.alpha = (lo + hi) / 2;
  const auto linear = solveLinear(n, y, sigma, fit.alpha);
  fit.A = linear.A, fit.c = linear.c, fit.chi2 = linear.sse;
  fit.ndf = static_cast<int>(n.size()) - 3;
  fit.weighted = !sigma.empty();
  fit.n = n, fit.y = y, fit.sigma = sigma;

  const auto m = static_cast<Eigen::Index>(n.size());
  Eigen::MatrixXd J(m, 3);
  for (Eigen::Index i = 0; i < m; ++i) {
    const double power = std::pow(n[i], -fit.alpha);
    const double scale = sigma.empty() ? 1.0 : 1.0 / sigma[i];
    J(i, 0) = power * scale, J(i, 1) = -fit.A * std::log(n[i]) * power * scale, J(i, 2) = scale;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (fit.ndf < 1) {
    fit.A_err = fit.alpha_err = fit.c_err = nan;
    return fit;
  }
  const Eigen::Matrix3d covariance = (J.transpose() * J).inverse() * (fit.weighted ? 1.0 : fit.chi2 / fit.ndf);
  fit.A_err = std::sqrt(covariance(0, 0)), fit.alpha_err = std::sqrt(covariance(1, 1)), fit.c_err = std::sqrt(covariance(2, 2));
  return fit;
}

std::vector<PowerLawFit> fitPowerLawCsv(const std::string& path, bool weighted) {
  const auto table = io::readCsv(path);
  TAUTRAIN_CHECK(table.header.size() >= 2 && table.header[0] == "n", DataError, path,
                 ":1: the header must be n followed by one column per series");
  const auto isError = [](const std::string& name) {
    return name.size() > 4 && name.compare(name.size() - 4, 4, "_err") == 0;
  };
  std::vector<PowerLawFit> fits;
  for (std::size_t s = 1; s < table.header.size(); ++s) {
    const auto& name = table.header[s];
    if (isError(name)) continue;
    const auto errors = std::find(table.header.begin(), table.header.end(), name + "_err");
    TAUTRAIN_CHECK(!weighted || errors != table.header.end(), DataError, path, ": a weighted fit needs a column '",
                   name, "_err' with the uncertainties of '", name, "'");
    const auto e = static_cast<std::size_t>(errors - table.header.begin());
    std::vector<double> n, y, sigma;
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
      const auto& cells = table.rows[r];
      if (s >= cells.size() || cells[s].empty()) continue;
      n.push_back(table.number(r, 0)), y.push_back(table.number(r, s));
      if (weighted) {
        TAUTRAIN_CHECK(e < cells.size() && !cells[e].empty(), DataError, path, ":", r + 2, ": '", name,
                       "' has a value but no uncertainty in '", name, "_err'");
        sigma.push_back(table.number(r, e));
      }
    }
    fits.push_back(fitPowerLaw(n, y, name, sigma));
  }
  return fits;
}

std::string dataScalingPoints(const std::vector<std::pair<double, std::string>>& runs, const std::string& selection) {
  std::vector<std::string> series;
  std::vector<std::map<std::string, double>> values;
  const auto add = [&](std::map<std::string, double>& row, const std::string& name, double value) {
    if (std::find(series.begin(), series.end(), name) == series.end()) series.push_back(name);
    row[name] = value;
  };
  for (const auto& [n, directory] : runs) {
    std::map<std::string, double> row;
    std::string model;
    for (const char* file : {"wp.csv", "knee.csv"}) {
      const auto table = io::readCsv((std::filesystem::path(directory) / file).string());
      const auto modelColumn = table.column("model"), selectionColumn = table.column("selection"),
                 discriminant = table.column("discriminant");
      for (std::size_t r = 0; r < table.rows.size(); ++r) {
        const auto& cells = table.rows[r];
        if (cells[selectionColumn] != selection) continue;
        if (model.empty()) model = cells[modelColumn];
        TAUTRAIN_CHECK(cells[modelColumn] == model, DataError, table.path, ": holds models '", model, "' and '",
                       cells[modelColumn], "'; give one model's directory (OUT/<model>) per N");
        const auto& d = cells[discriminant];
        // Half the 68 % interval, where the table has one (tables before intervals do not).
        const auto halfWidth = [&](const std::string& prefix) -> std::optional<double> {
          const auto low = std::find(table.header.begin(), table.header.end(), prefix + "_low");
          if (low == table.header.end()) return std::nullopt;
          return 0.5 * (table.number(r, table.column(prefix + "_high")) -
                        table.number(r, static_cast<std::size_t>(low - table.header.begin())));
        };
        const auto addWithError = [&](const std::string& name, double value, const std::string& prefix) {
          add(row, name, value);
          if (const auto error = halfWidth(prefix)) add(row, name + "_err", *error);
        };
        if (file[0] == 'w') {
          addWithError(d + " " + cells[table.column("wp")] + " FPR", table.number(r, table.column("fpr")), "fpr");
        } else {
          addWithError(d + " knee 1-TPR", 1 - table.number(r, table.column("knee_tpr")), "knee_tpr");
          addWithError(d + " knee FPR", table.number(r, table.column("knee_fpr")), "knee_fpr");
        }
      }
    }
    TAUTRAIN_CHECK(!row.empty(), DataError, directory, ": no rows of selection '", selection, "'");
    values.push_back(std::move(row));
  }
  std::string csv = "n";
  for (const auto& name : series) csv += "," + name;
  csv += "\n";
  for (std::size_t r = 0; r < runs.size(); ++r) {
    csv += fmt::format("{:g}", runs[r].first);
    for (const auto& name : series) {
      const auto found = values[r].find(name);
      csv += found == values[r].end() ? "," : fmt::format(",{:.10g}", found->second);
    }
    csv += "\n";
  }
  return csv;
}

bool plotPowerLaws(const std::string& prefix, const std::vector<PowerLawFit>& fits) {
  std::string data, plots;
  for (std::size_t s = 0; s < fits.size(); ++s) {
    const auto& f = fits[s];
    for (std::size_t i = 0; i < f.n.size(); ++i)
      data += fmt::format("{:.10g} {:.10g} {:.10g}\n", f.n[i], f.y[i], f.weighted ? f.sigma[i] : 0.0);
    data += "\n\n";
    plots += fmt::format("{}'{}.dat' index {} using 1:2{} with {} pt 7 lc {} title '{}' noenhanced, "
                         "{:.10g} * x**(-{:.10g}) + {:.10g} with lines lc {} notitle",
                         s == 0 ? "" : ", ", prefix, s, f.weighted ? ":3" : "", f.weighted ? "yerrorbars" : "points",
                         s + 1, f.series, f.A, f.alpha, f.c, s + 1);
  }
  io::writeFileAtomic(prefix + ".dat", data);
  return io::runGnuplot(prefix, fmt::format("set logscale xy\nset xlabel 'training candidates N'\nset ylabel 'y'\n"
                                            "set title 'y = A N^{{-alpha}} + c'\nset key outside right\nset grid\n"
                                            "set terminal pngcairo size 1000,650\nset output '{0}.png'\nplot {1}\n"
                                            "set terminal pdfcairo size 7in,4.5in\nset output '{0}.pdf'\nreplot\n",
                                            prefix, plots));
}

std::string powerLawCsv(const std::vector<PowerLawFit>& fits) {
  std::string csv = "series,A,A_err,alpha,alpha_err,c,c_err,chi2,ndf,weighted\n";
  for (const auto& f : fits)
    csv += fmt::format("{},{:.8g},{:.4g},{:.8g},{:.4g},{:.8g},{:.4g},{:.6g},{},{}\n", f.series, f.A, f.A_err, f.alpha,
                       f.alpha_err, f.c, f.c_err, f.chi2, f.ndf, f.weighted ? 1 : 0);
  return csv;
}

}  // namespace tautrain::eval
