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
  EvalConfig unbinned;
  unbinned.pt_bins.clear(), unbinned.abs_eta_bins.clear();
  const auto results = evaluate(smallTable(), unbinned);
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
  narrow.pt_bins = {20, 100, 200};
  narrow.abs_eta_bins = {};
  const auto cut = evaluate(smallTable(), narrow);
  ASSERT_EQ(cut.size(), 9u);
  EXPECT_EQ(cut[3].selection, "pt20-100");
  EXPECT_EQ(cut[6].selection, "pt100-200");
  EXPECT_DOUBLE_EQ(cut[6].signal, 1) << "the tau at pT 150, outside the window, is in its pT bin";
  EXPECT_DOUBLE_EQ(cut[6].background, 0);
  EXPECT_DOUBLE_EQ(cut[0].signal, 1);  // the tau at eta 2.0 is out
  EXPECT_EQ(cut[0].working_points.back().first, "TPR=0.5");
}

TEST(Evaluation, ThresholdsFixedOnOneSampleTravelExactlyAndGiveTheirRatesOnAnother) {
  // Derived on a random sample, written, read back, and applied to the same sample: each cut
  // is the tightest reaching its target TPR, so the TPR it gives is at least the target.
  const auto sample = syntheticScores(4000);
  EvalConfig config;
  const auto derived = workingPointThresholds(evaluate(sample, config), "sample");
  test::TempDir dir;
  writeThresholds(dir.file("t.json"), derived);
  const auto read = readThresholds(dir.file("t.json"));
  EXPECT_EQ(read.by_model, derived.by_model) << "thresholds must travel bit-exactly";
  EXPECT_EQ(read.source, "sample");
  const auto applied = evaluate(sample, config, &read);
  const auto& window = applied[2];  // D_jet, window
  ASSERT_EQ(window.discriminant, "D_jet");
  ASSERT_EQ(window.fixed_points.size(), 8u);
  EXPECT_EQ(window.fixed_points.front().first, "VVTight") << "tightest cut first";
  for (const auto& [name, fixed] : window.fixed_points) {
    const auto wp = std::find_if(window.working_points.begin(), window.working_points.end(),
                                 [&](const auto& p) { return p.first == name; });
    ASSERT_NE(wp, window.working_points.end()) << name;
    EXPECT_GE(fixed.tpr, wp->second.tpr) << name;
    EXPECT_LT(fixed.tpr, wp->second.tpr + 0.01) << name << ": a few candidates past the target at most";
    EXPECT_LE(fixed.tpr_interval.low, fixed.tpr);
    EXPECT_GE(fixed.fpr_interval.high, fixed.fpr);
  }
  // Another model's thresholds are refused, naming the option and what the file has.
  auto other = sample;
  other.model = "other";
  try {
    evaluate(other, config, &read);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--thresholds"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'other'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("synthetic"), std::string::npos) << e.what();
  }
  std::ofstream(dir.file("junk.json")) << "{\"models\": 3}";
  EXPECT_THROW(readThresholds(dir.file("junk.json")), DataError);
}

TEST(Evaluation, RatesVersusPtEtaAndDecayModeCountTheCandidatesOfEachBin) {
  // smallTable's D_jet: taus score 0.7/0.8 = 0.875 (pT 50, eta 2.0, DM0), 0.6/0.8 = 0.75 (pT 60,
  // DM10), 0.1/0.2 = 0.5 (pT 150, DM1); the jet 0.2/0.8 = 0.25 (pT 70, eta 1.5).
  EvalConfig config;
  config.pt_bins = {40, 55, 100, 200};
  config.abs_eta_bins = {0, 1, 2.5};
  const std::map<std::string, std::map<std::string, double>> cuts{{"D_jet", {{"Cut", 0.8}}}};
  const auto rates = ratesVersusVariables(smallTable(), config, cuts);
  const auto find = [&](const std::string& variable, double low) {
    const auto r = std::find_if(rates.begin(), rates.end(),
                                [&](const BinnedRate& b) { return b.variable == variable && b.low == low; });
    EXPECT_NE(r, rates.end()) << variable << " " << low;
    return *r;
  };
  EXPECT_DOUBLE_EQ(find("pt", 40).rates.tpr, 1.0);   // the tau at 50 passes 0.8
  EXPECT_DOUBLE_EQ(find("pt", 55).rates.tpr, 0.0);   // the tau at 60 (0.75) fails
  EXPECT_DOUBLE_EQ(find("pt", 55).rates.fpr, 0.0);   // the jet at 70 fails
  EXPECT_DOUBLE_EQ(find("pt", 55).background, 1.0);
  EXPECT_DOUBLE_EQ(find("pt", 100).signal, 1.0);     // pT bins ignore the pT window
  EXPECT_DOUBLE_EQ(find("abs_eta", 1).signal, 1.0);  // the tau at |eta| 2.0
  EXPECT_DOUBLE_EQ(find("abs_eta", 1).rates.tpr, 1.0);
  EXPECT_DOUBLE_EQ(find("decay_mode", 10).rates.tpr, 0.0);
  EXPECT_DOUBLE_EQ(find("decay_mode", 0).rates.tpr, 1.0);
  EXPECT_DOUBLE_EQ(find("decay_mode", 1).signal, 0.0) << "decay-mode bins keep the pT window";
  EXPECT_TRUE(std::isnan(find("decay_mode", 0).rates.fpr)) << "backgrounds have no decay mode";
  // One tau of one passes: the interval is Clopper–Pearson's of 1 of 1.
  EXPECT_DOUBLE_EQ(find("pt", 40).rates.tpr_interval.low, clopperPearson(1, 1).low);
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
  EXPECT_EQ(header, "model,selection,discriminant,wp,target_tpr,fpr,threshold,signal,background,fpr_low,fpr_high");
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
  EXPECT_EQ(r.window_and_modes_rocs, 18) << "3 discriminants on the window and 5 decay modes";
  EXPECT_EQ(r.rocs, 66) << "those, and 11 pT and 5 |eta| bins";
  // Which part takes longer depends on the machine's load: a unit test does not compare times.
  for (const double seconds : {r.one_discriminant_s, r.sort_only_s, r.window_and_modes_s, r.full_evaluation_s,
                               r.bootstrap_resample_s})
    EXPECT_TRUE(std::isfinite(seconds) && seconds > 0) << seconds;
}
