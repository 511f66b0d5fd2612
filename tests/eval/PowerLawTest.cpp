#include "tautrain/eval/PowerLaw.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "support/TestData.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Random.hpp"

using namespace tautrain;
using namespace tautrain::eval;

namespace {

void points(double A, double alpha, double c, double noise, std::uint64_t seed, std::vector<double>& n,
            std::vector<double>& y) {
  Rng rng(seed);
  for (int k = 0; k < 10; ++k) {
    n.push_back(1000.0 * std::pow(2.0, k));
    y.push_back(A * std::pow(n.back(), -alpha) + c + noise * rng.normal());  // the same sigma everywhere
  }
}

}  // namespace

TEST(PowerLaw, RecoversExactParameters) {
  std::vector<double> n, y;
  points(3.0, 0.45, 0.002, 0, 1, n, y);
  const auto fit = fitPowerLaw(n, y, "exact");
  EXPECT_NEAR(fit.A, 3.0, 3e-5);
  EXPECT_NEAR(fit.alpha, 0.45, 1e-6);
  EXPECT_NEAR(fit.c, 0.002, 1e-8);
  EXPECT_LT(fit.chi2, 1e-16);
  EXPECT_EQ(fit.ndf, 7);
}

TEST(PowerLaw, RecoversNoisyParametersWithinTheirUncertainties) {
  int inside = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<double> n, y;
    points(3.0, 0.45, 0.002, 2e-4, seed, n, y);
    const auto fit = fitPowerLaw(n, y);
    ASSERT_GT(fit.alpha_err, 0);
    inside += std::abs(fit.alpha - 0.45) < 2 * fit.alpha_err;
    EXPECT_NEAR(fit.alpha, 0.45, 0.1) << seed;
    EXPECT_GE(fit.c, 0);
  }
  EXPECT_GE(inside, 16);  // ~95 % expected within 2 sigma
}

TEST(PowerLaw, WeightedFitsTakeTheUncertaintiesAsAbsolute) {
  // Equal sigmas: the same parameters as unweighted; the errors then come from sigma itself
  // (scipy's absolute_sigma=True) rather than from the scatter, and chi2 is the SSE / sigma^2.
  std::vector<double> n, y;
  points(3.0, 0.45, 0.002, 2e-4, 3, n, y);
  const auto plain = fitPowerLaw(n, y);
  const std::vector<double> sigma(n.size(), 2e-4);
  const auto weighted = fitPowerLaw(n, y, "w", sigma);
  EXPECT_TRUE(weighted.weighted);
  EXPECT_NEAR(weighted.alpha, plain.alpha, 1e-9);
  EXPECT_NEAR(weighted.A, plain.A, 1e-6 * plain.A);
  EXPECT_NEAR(weighted.chi2, plain.chi2 / (2e-4 * 2e-4), 1e-6 * weighted.chi2);
  EXPECT_NEAR(weighted.alpha_err, plain.alpha_err * 2e-4 / std::sqrt(plain.chi2 / plain.ndf), 1e-6 * weighted.alpha_err);
  // Noise of the stated size: chi2/ndf scatters around 1 and the pulls of alpha have unit
  // width, the meaning of absolute uncertainties. The last point is 5x noisier and says so.
  double chi2 = 0, pulls = 0;
  constexpr int kFits = 200;
  for (std::uint64_t seed = 1; seed <= kFits; ++seed) {
    Rng rng(1000 + seed);
    std::vector<double> nn, yy, ss;
    for (int k = 0; k < 10; ++k) {
      const double s = k == 9 ? 1e-3 : 2e-4;
      nn.push_back(1000.0 * std::pow(2.0, k));
      yy.push_back(3.0 * std::pow(nn.back(), -0.45) + 0.002 + s * rng.normal());
      ss.push_back(s);
    }
    const auto fit = fitPowerLaw(nn, yy, "", ss);
    chi2 += fit.chi2 / fit.ndf;
    pulls += std::pow((fit.alpha - 0.45) / fit.alpha_err, 2);
  }
  EXPECT_NEAR(chi2 / kFits, 1.0, 0.15);
  EXPECT_NEAR(std::sqrt(pulls / kFits), 1.0, 0.2);
}

TEST(PowerLaw, WeightedCsvFitsNeedAnErrorColumnPerSeries) {
  test::TempDir dir;
  std::ofstream(dir.file("e.csv")) << "n,a,a_err,b\n1000,0.30,0.01,0.5\n2000,0.22,0.01,0.4\n4000,0.17,0.01,0.3\n"
                                      "8000,0.14,0.01,0.25\n";
  const auto plain = fitPowerLawCsv(dir.file("e.csv"));
  ASSERT_EQ(plain.size(), 2u) << "a_err is no series of its own";
  EXPECT_FALSE(plain[0].weighted);
  try {
    fitPowerLawCsv(dir.file("e.csv"), true);
    ADD_FAILURE() << "b has no b_err";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("'b_err'"), std::string::npos) << e.what();
  }
  std::ofstream(dir.file("w.csv")) << "n,a,a_err\n1000,0.30,0.01\n2000,0.22,0.01\n4000,0.17,0.01\n8000,0.14,0.01\n";
  const auto weighted = fitPowerLawCsv(dir.file("w.csv"), true);
  ASSERT_EQ(weighted.size(), 1u);
  EXPECT_TRUE(weighted[0].weighted);
  EXPECT_EQ(weighted[0].sigma, std::vector<double>(4, 0.01));
}

TEST(PowerLaw, KeepsTheOffsetNonNegative) {
  std::vector<double> n, y;
  points(2.0, 0.6, 0.0, 2e-4, 5, n, y);
  for (auto& v : y) v -= 5e-4;  // the free optimum of c is then about -5e-4
  const auto fit = fitPowerLaw(n, y);
  EXPECT_EQ(fit.c, 0.0);
  EXPECT_NEAR(fit.alpha, 0.6, 0.1);
}

TEST(PowerLaw, CsvSeriesAndBadInput) {
  test::TempDir dir;
  std::vector<double> n, y;
  points(3.0, 0.45, 0.002, 0, 1, n, y);
  {
    std::ofstream csv(dir.file("points.csv"));
    csv << "n,fpr_medium,other\n";
    for (std::size_t i = 0; i < n.size(); ++i) csv << n[i] << "," << y[i] << "," << (i % 2 ? "" : "0.5") << "\n";
  }
  const auto fits = fitPowerLawCsv(dir.file("points.csv"));
  ASSERT_EQ(fits.size(), 2u);
  EXPECT_EQ(fits[0].series, "fpr_medium");
  EXPECT_NEAR(fits[0].alpha, 0.45, 1e-4);  // the CSV rounds to 6 digits
  EXPECT_EQ(fits[1].n.size(), 5u);         // empty cells skipped
  EXPECT_EQ(powerLawCsv(fits).substr(0, 44), "series,A,A_err,alpha,alpha_err,c,c_err,chi2,");

  std::ofstream(dir.file("bad.csv")) << "n,a\n1000,0.1\n2000,zero\n";
  try {
    fitPowerLawCsv(dir.file("bad.csv"));
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:3"), std::string::npos) << e.what();
  }
  std::ofstream(dir.file("few.csv")) << "n,a\n1000,0.1\n2000,0.05\n";
  EXPECT_THROW(fitPowerLawCsv(dir.file("few.csv")), DataError);
}

TEST(PowerLaw, DataScalingFitsEveryWorkingPointAndTheKnee) {
  test::TempDir dir;
  std::vector<std::pair<double, std::string>> runs;
  for (int k = 0; k < 5; ++k) {
    const double n = 1000 * std::pow(4.0, k);
    const auto run = dir.path() / ("n" + std::to_string(k));
    std::filesystem::create_directories(run);
    std::ofstream(run / "wp.csv") << "model,selection,discriminant,wp,target_tpr,fpr,threshold,signal,background\n"
                                  << "m,window,D_jet,Medium,0.7," << 2 * std::pow(n, -0.5) + 0.001 << ",0.5,10,10\n"
                                  << "m,DM0,D_jet,Medium,0.7,0.9,0.5,10,10\n";
    std::ofstream(run / "knee.csv") << "model,selection,discriminant,auc,knee_tpr,knee_fpr,knee_threshold,signal,background\n"
                                    << "m,window,D_jet,0.9," << 1 - 0.5 * std::pow(n, -0.3) << ","
                                    << 0.3 * std::pow(n, -0.22) << ",0.4,10,10\n";
    runs.emplace_back(n, run.string());
  }
  std::ofstream(dir.file("points.csv")) << dataScalingPoints(runs, "window");
  const auto fits = fitPowerLawCsv(dir.file("points.csv"));
  ASSERT_EQ(fits.size(), 3u);
  EXPECT_EQ(fits[0].series, "D_jet Medium FPR");
  EXPECT_NEAR(fits[0].alpha, 0.5, 1e-3);
  EXPECT_NEAR(fits[0].c, 0.001, 1e-5);
  EXPECT_EQ(fits[1].series, "D_jet knee 1-TPR");
  EXPECT_NEAR(fits[1].alpha, 0.3, 1e-3);
  EXPECT_EQ(fits[2].series, "D_jet knee FPR");
  EXPECT_NEAR(fits[2].alpha, 0.22, 1e-3);

  std::ofstream(dir.path() / "n0" / "wp.csv", std::ios::app) << "other,window,D_jet,Medium,0.7,0.1,0.5,10,10\n";
  EXPECT_THROW(dataScalingPoints(runs, "window"), DataError);
}
