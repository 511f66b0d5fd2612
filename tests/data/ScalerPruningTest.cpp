#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "support/TestData.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Random.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Pruning.hpp"
#include "tautrain/data/Scaler.hpp"

using namespace tautrain;
using data::RunningMoments;
using data::StandardScaler;

TEST(Scaler, StreamingMomentsMatchTwoPassAndMergeExactly) {
  Rng rng(5);
  std::vector<double> x(10001);
  for (auto& v : x) v = 1e6 + rng.normal(3.0, 2.0);  // a large offset: naive sums lose precision
  RunningMoments all, left, right;
  for (std::size_t i = 0; i < x.size(); ++i) {
    all.add(x[i]);
    (i < 3000 ? left : right).add(x[i]);
  }
  double mean = 0;
  for (double v : x) mean += v;
  mean /= x.size();
  double var = 0;
  for (double v : x) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / x.size());
  EXPECT_NEAR(all.mean, mean, 1e-9 * mean);
  EXPECT_NEAR(all.stddev(), sd, 1e-9);
  left.merge(right);
  EXPECT_EQ(left.count, all.count);
  EXPECT_NEAR(left.mean, all.mean, 1e-12 * all.mean);
  EXPECT_NEAR(left.stddev(), all.stddev(), 1e-9);
}

TEST(Scaler, FitIgnoresInvalidValuesAndCategoricals) {
  test::TempDir dir;
  const auto schema = test::tinySchema();
  const data::Dataset dataset(test::writeTinyShards(dir, 2, 40), schema);
  const auto scaler = StandardScaler::fit(dataset, 2);
  const auto& pf = scaler.collections()[1].features;
  // dxy is 0.01 * (k + 1) for even k (valid) and -999 otherwise (invalid): the mean stays small.
  EXPECT_GT(pf[3].mean, 0.0);
  EXPECT_LT(pf[3].mean, 0.1);
  EXPECT_EQ(pf[1].mean, 0.0);  // particle_type: categorical, not scaled
  EXPECT_EQ(pf[1].std, 1.0);
  // Every token counted once: candidate i has (i % 7) + 1 pf tokens.
  std::int64_t tokens = 0;
  for (int i = 0; i < 80; ++i) tokens += i % 7 + 1;
  EXPECT_EQ(pf[0].count, tokens);
  // A constant feature gets std 1, not 0.
  EXPECT_EQ(scaler.collections()[2].features[0].std, 1.0);
}

TEST(Scaler, SaveLoadRoundTripAndMismatchIsDetected) {
  test::TempDir dir;
  const auto schema = test::tinySchema();
  const data::Dataset dataset(test::writeTinyShards(dir, 1, 30), schema);
  const auto scaler = StandardScaler::fit(dataset);
  scaler.save(dir.file("scaler.json"));
  const auto loaded = StandardScaler::load(dir.file("scaler.json"));
  EXPECT_EQ(loaded.toJson(), scaler.toJson());
  EXPECT_NO_THROW(loaded.checkMatches(schema, "scaler.json"));
  EXPECT_THROW(loaded.checkMatches(data::FeatureSchema::builtin(), "scaler.json"), DataError);
  EXPECT_NEAR(loaded.apply(1, 2, static_cast<float>(loaded.collections()[1].features[2].mean)), 0.0f, 1e-5);
}

TEST(Pruning, DeltaRCutAndRandomCap) {
  const auto schema = test::tinySchema();
  const auto block = test::tinyBlock(6, 1);  // candidate 6: 7 pf tokens with r = 0, 0.1, ..., 0.6
  std::vector<std::int64_t> kept;

  data::PruningConfig cut;
  cut.max_dr = 0.35;
  data::TokenPruner(schema, cut, 1).select(1, block.collections[1], 0, 6, 0, kept);
  EXPECT_EQ(kept, (std::vector<std::int64_t>{0, 1, 2, 3}));
  data::TokenPruner(schema, cut, 1).select(0, block.collections[0], 0, 6, 0, kept);
  EXPECT_EQ(kept.size(), 1u);  // the global token has no dR and is never cut

  data::PruningConfig cap;
  cap.max_tokens["pf"] = 3;
  const data::TokenPruner pruner(schema, cap, 1);
  pruner.select(1, block.collections[1], 0, 6, 0, kept);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_TRUE(std::is_sorted(kept.begin(), kept.end()));
  std::vector<std::int64_t> again;
  pruner.select(1, block.collections[1], 0, 6, 0, again);
  EXPECT_EQ(kept, again);
  bool differs = false;
  for (int epoch = 1; epoch < 10 && !differs; ++epoch) {
    pruner.select(1, block.collections[1], 0, 6, epoch, again);
    differs = again != kept;
  }
  EXPECT_TRUE(differs) << "the random cap should change between epochs";

  data::PruningConfig wrong;
  wrong.max_tokens["photons"] = 3;
  EXPECT_THROW(data::TokenPruner(schema, wrong, 1), ConfigError);
}
