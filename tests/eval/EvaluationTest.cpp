#include "tautrain/eval/Evaluation.hpp"
#include "tautrain/eval/RocBenchmark.hpp"
#include "tautrain/eval/Studies.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "support/TestData.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Random.hpp"

using namespace tautrain;
using namespace tautrain::eval;

namespace {

// Signal scores 0.9 0.8 0.7 0.6, background 0.85 0.5 0.4 0.3 (each one candidate, weight 1).
// ROC points from the top: (TPR, FPR) = (0.25, 0), (0.25, 0.25), (0.5, 0.25), (0.75, 0.25), (1, 0.25),
// (1, 0.5), (1, 0.75), (1, 1).
RocCurve handCurve() {
  return rocCurve({0.9f, 0.8f, 0.7f, 0.6f, 0.85f, 0.5f, 0.4f, 0.3f}, {1, 1, 1, 1, 0, 0, 0, 0});
}

}  // namespace

TEST(WorkingPoints, InterpolateFprLinearlyInTprBetweenTheBracketingPoints) {
  const auto curve = handCurve();
  // TPR 0.25 is reached at the first point, before the background at 0.85 passes.
  auto p = pointAtTpr(curve, 0.25);
  EXPECT_DOUBLE_EQ(p.fpr, 0.0);
  EXPECT_FLOAT_EQ(p.threshold, 0.9f);
  // TPR 0.4 lies between (0.25, 0.25) and (0.5, 0.25): FPR 0.25, threshold of the upper point 0.8.
  p = pointAtTpr(curve, 0.4);
  EXPECT_DOUBLE_EQ(p.fpr, 0.25);
  EXPECT_FLOAT_EQ(p.threshold, 0.8f);
  // TPR 0.1 lies between (0, 0) and (0.25, 0): FPR 0.
  EXPECT_DOUBLE_EQ(pointAtTpr(curve, 0.1).fpr, 0.0);
  // Interpolation across an FPR step: signal 0.9, 0.5; background 0.7, 0.1.
  // Points (0.5, 0), (0.5, 0.5), (1, 0.5): at TPR 0.75 the FPR is 0.5 (flat between the last two).
  const auto step = rocCurve({0.9f, 0.5f, 0.7f, 0.1f}, {1, 1, 0, 0});
  EXPECT_DOUBLE_EQ(pointAtTpr(step, 0.75).fpr, 0.5);
  // Tied signal and background at 0.5: points (0.5, 0), (1, 0.5). TPR 0.75 -> FPR 0.25.
  const auto tied = rocCurve({0.9f, 0.5f, 0.5f, 0.1f}, {1, 1, 0, 0});
  EXPECT_DOUBLE_EQ(pointAtTpr(tied, 0.75).fpr, 0.25);
  EXPECT_FLOAT_EQ(pointAtTpr(tied, 0.75).threshold, 0.5f);
}

TEST(WorkingPoints, KneeIsTheLargestTprMinusFpr) {
  const auto knee = kneePoint(handCurve());
  EXPECT_DOUBLE_EQ(knee.tpr, 1.0);
  EXPECT_DOUBLE_EQ(knee.fpr, 0.25);
  EXPECT_FLOAT_EQ(knee.threshold, 0.6f);
}

TEST(WorkingPoints, PropertiesOnARandomSample) {
  Rng rng(11);
  std::vector<float> score;
  std::vector<std::uint8_t> signal;
  std::vector<float> weight;
  for (int i = 0; i < 20000; ++i) {
    const bool s = rng.uniform() < 0.4;
    score.push_back(static_cast<float>(std::round((rng.normal() + (s ? 1.5 : 0)) * 200) / 200));  // many ties
    signal.push_back(s);
    weight.push_back(static_cast<float>(0.5 + rng.uniform()));
  }
  const auto curve = rocCurve(score, signal, weight);
  for (std::size_t k = 1; k < curve.tp.size(); ++k) {
    ASSERT_GE(curve.tp[k], curve.tp[k - 1]);
    ASSERT_GE(curve.fp[k], curve.fp[k - 1]);
  }
  double previous = 0;
  for (double tpr = 0.01; tpr <= 1.0; tpr += 0.01) {
    const double fpr = pointAtTpr(curve, tpr).fpr;
    EXPECT_GE(fpr, previous) << tpr;
    previous = fpr;
  }
  // The knee is one of the curve's points.
  const auto knee = kneePoint(curve);
  bool onCurve = false;
  for (std::size_t k = 0; k < curve.tp.size(); ++k)
    onCurve |= curve.tp[k] / curve.signal == knee.tpr && curve.fp[k] / curve.background == knee.fpr;
  EXPECT_TRUE(onCurve);
  // Thinning keeps far fewer points, but the two around every target.
  const auto thin = thinnedRoc(curve, {0.9});
  EXPECT_LT(thin.size(), curve.tp.size() / 2);
  const auto wp = pointAtTpr(curve, 0.9);
  bool below = false, above = false;
  for (const auto& p : thin) below |= p.tpr < 0.9 && p.tpr > 0.88, above |= p.tpr >= 0.9 && p.threshold == wp.threshold;
  EXPECT_TRUE(below && above);
}

namespace {

ScoreTable smallTable() {
  ScoreTable t;
  t.model = "hand";
  // e, mu, tau (DM 0 and 10), jet; one tau outside the pT window.
  const std::vector<std::array<float, 4>> p{{0.7f, 0.1f, 0.1f, 0.1f}, {0.1f, 0.7f, 0.1f, 0.1f},
                                            {0.1f, 0.1f, 0.7f, 0.1f}, {0.1f, 0.1f, 0.6f, 0.2f},
                                            {0.1f, 0.1f, 0.2f, 0.6f}, {0.4f, 0.4f, 0.1f, 0.1f}};
  for (const auto& row : p) t.probabilities.insert(t.probabilities.end(), row.begin(), row.end());
  t.label = {0, 1, 2, 2, 3, 2};
  t.decay_mode = {-1, -1, 0, 10, -1, 1};
  t.pt = {30, 40, 50, 60, 70, 150};
  t.eta = {0.1f, -1.0f, 2.0f, 0.5f, 1.5f, 0.0f};
  t.weight = {1, 1, 1, 1, 1, 1};
  return t;
}

}  // namespace

TEST(Evaluation, SelectionsAndTables) {
  const auto results = evaluate(smallTable(), EvalConfig{});
  // window + 5 decay modes, 3 discriminants each.
  ASSERT_EQ(results.size(), 18u);
  const auto& window = results[0];
  EXPECT_EQ(window.selection, "window");
  EXPECT_EQ(window.discriminant, "D_e");
  EXPECT_DOUBLE_EQ(window.signal, 2);  // the tau at pT 150 is outside
  EXPECT_DOUBLE_EQ(window.background, 1);
  EXPECT_DOUBLE_EQ(window.auc, 1.0);
  ASSERT_EQ(window.working_points.size(), 8u);
  EXPECT_EQ(window.working_points[3].first, "Medium");
  const auto& dm10 = results[3 * 4];  // window, DM0, DM1, DM2, DM10
  EXPECT_EQ(dm10.selection, "DM10");
  EXPECT_DOUBLE_EQ(dm10.signal, 1);
  EXPECT_DOUBLE_EQ(dm10.background, 1);

  EvalConfig narrow;
  narrow.abs_eta_max = 1.0;
  narrow.extra_tpr = {0.5};
  narrow.decay_modes = {};
  const auto cut = evaluate(smallTable(), narrow);
  ASSERT_EQ(cut.size(), 3u);
  EXPECT_DOUBLE_EQ(cut[0].signal, 1);  // the tau at eta 2.0 is out
  EXPECT_EQ(cut[0].working_points.back().first, "TPR=0.5");
}

TEST(Evaluation, ScoreFilesRoundTripAndTablesAreWritten) {
  test::TempDir dir;
  auto table = smallTable();
  table.checkpoint = "runs/x/best.pt";
  writeScores(dir.file("hand.h5"), table);
  const auto back = readScores(dir.file("hand.h5"));
  EXPECT_EQ(back.probabilities, table.probabilities);
  EXPECT_EQ(back.label, table.label);
  EXPECT_EQ(back.decay_mode, table.decay_mode);
  EXPECT_EQ(back.pt, table.pt);
  EXPECT_EQ(back.checkpoint, "runs/x/best.pt");
  EXPECT_EQ(back.model, "hand");

  writeEvaluation(dir.file("out"), evaluate(back, EvalConfig{}));
  for (const char* file : {"wp.csv", "knee.csv", "roc.csv", "evaluation.json", "evaluation.md"})
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "out" / file)) << file;
  std::ifstream wp(dir.path() / "out" / "wp.csv");
  std::string header, first;
  std::getline(wp, header);
  std::getline(wp, first);
  EXPECT_EQ(header, "model,selection,discriminant,wp,target_tpr,fpr,threshold,signal,background");
  EXPECT_EQ(first.rfind("hand,window,D_e,VVTight,0.6,0,", 0), 0u) << first;

  std::ofstream(dir.file("junk.h5")) << "junk";
  EXPECT_THROW(readScores(dir.file("junk.h5")), DataError);
  table.label[1] = 7;
  writeScores(dir.file("badlabel.h5"), table);
  try {
    readScores(dir.file("badlabel.h5"));
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("badlabel.h5"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("label 7"), std::string::npos) << e.what();
  }
}

TEST(Studies, PatienceKeepsTheBestEpochBeforeStopping) {
  // Losses by epoch 1..8: best at 2, a worse stretch, a new best at 6.
  const std::vector<double> loss{1.0, 0.8, 0.85, 0.9, 0.82, 0.7, 0.75, 0.72};
  EXPECT_EQ(epochKeptWithPatience(loss, 1), 2);   // stops at epoch 3
  EXPECT_EQ(epochKeptWithPatience(loss, 3), 2);   // stops at epoch 5
  EXPECT_EQ(epochKeptWithPatience(loss, 4), 6);   // epoch 6 improves before the 4th stalled epoch
  EXPECT_EQ(epochKeptWithPatience(loss, 10), 6);  // never stops: best of all
  EXPECT_THROW(epochKeptWithPatience(loss, 0), ConfigError);
}

TEST(Studies, EnsembleSpreadOfIdenticalAndShiftedRuns) {
  auto a = smallTable();
  EXPECT_THROW(ensembleSpread({a}, EvalConfig{}), DataError);
  auto same = ensembleSpread({a, a, a}, EvalConfig{}, 5);
  for (const auto& p : same) EXPECT_EQ(p.stddev, 0.0) << p.discriminant << " " << p.tpr;
  // Second run: the jet now outscores one tau on D_jet, so at TPR 1 its FPR is 1 instead of 0.
  auto b = a;
  b.probabilities[4 * 4 + 2] = 0.65f, b.probabilities[4 * 4 + 3] = 0.05f;  // jet candidate: tau-like
  const auto spread = ensembleSpread({a, b}, EvalConfig{}, 5);
  const auto last = std::find_if(spread.begin(), spread.end(),
                                 [](const EnsemblePoint& p) { return p.discriminant == "D_jet" && p.wp == "VVVLoose"; });
  ASSERT_NE(last, spread.end());
  EXPECT_DOUBLE_EQ(last->mean, 0.5);
  EXPECT_NEAR(last->stddev, std::sqrt(0.5), 1e-12);
  EXPECT_DOUBLE_EQ(last->low, 0.16);
  EXPECT_DOUBLE_EQ(last->high, 0.84);
}

TEST(RocBenchmark, TimesOneDiscriminantTheWholeEvaluationAndItsSortBaseline) {
  const auto table = tautrain::eval::syntheticScores(20000);
  const auto tausAndJets = std::count_if(table.label.begin(), table.label.end(), [](auto l) { return l == 2 || l == 3; });
  const auto r = tautrain::eval::measureRoc(table);
  EXPECT_EQ(r.scores, tausAndJets) << "D_jet sees taus and jets only";
  EXPECT_EQ(r.rocs, 18) << "3 discriminants on the window and on 5 decay modes";
  EXPECT_GT(r.one_discriminant_s, 0);
  EXPECT_GT(r.sort_only_s, 0);
  EXPECT_GT(r.full_evaluation_s, r.one_discriminant_s);
}
