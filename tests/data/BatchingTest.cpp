#include "tautrain/data/Batching.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tautrain/core/Random.hpp"

using namespace tautrain::data;

namespace {

std::set<std::vector<std::int64_t>> asSet(const EpochPlan& plan) { return {plan.batches.begin(), plan.batches.end()}; }

/// Thesis-like token counts: median near 85, a tail to a few hundred.
std::vector<TokenCount> randomCounts(int n, std::uint64_t seed) {
  tautrain::Rng rng(seed);
  std::vector<TokenCount> counts(n);
  for (auto& c : counts) c = 2 + static_cast<TokenCount>(rng.logNormal(83, 0.3));
  return counts;
}

}  // namespace

TEST(Batching, LengthBucketsAddAtMostAQuarterAndAreFew) {
  std::set<std::int64_t> buckets;
  std::int64_t previous = 0;
  for (std::int64_t length = 1; length <= 300; ++length) {
    const auto bucket = lengthBucket(length);
    EXPECT_GE(bucket, length);
    EXPECT_GE(bucket, previous);  // never shorter for a longer candidate
    EXPECT_LE(bucket, length > 64 ? length + (length - 1) / 4 : length + 7) << length;
    EXPECT_EQ(lengthBucket(bucket), bucket);  // a bucket is its own bucket
    buckets.insert(bucket), previous = bucket;
  }
  EXPECT_EQ(buckets, (std::set<std::int64_t>{8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}));
}

TEST(Batching, SmartBatchesGroupSimilarLengthsExactly) {
  const std::vector<TokenCount> counts{5, 1, 4, 2, 3, 6};
  BatchingOptions options;
  options.batch_size = 2;
  options.window_batches = 3;
  const auto plan = planEpoch(counts, {{0, 6}}, options, 7, 0);
  const std::set<std::vector<std::int64_t>> expected{{1, 3}, {4, 2}, {0, 5}};
  EXPECT_EQ(asSet(plan), expected);
}

TEST(Batching, TokenBudgetCutsWhenPaddedTokensWouldExceedIt) {
  const std::vector<TokenCount> counts{5, 1, 4, 2, 3, 6};
  BatchingOptions options;
  options.batch_size = 0;
  options.token_budget = 8;
  options.window_batches = 3;
  const auto plan = planEpoch(counts, {{0, 6}}, options, 7, 0);
  const std::set<std::vector<std::int64_t>> expected{{1, 3}, {4, 2}, {0}, {5}};
  EXPECT_EQ(asSet(plan), expected);
}

TEST(Batching, AttentionBudgetCutsWhenSizeTimesLongestSquaredWouldExceedIt) {
  const std::vector<TokenCount> counts{5, 1, 4, 2, 3, 6};
  BatchingOptions options;
  options.batch_size = 0;
  options.attention_budget = 20;
  options.window_batches = 6;  // one window: 20 / 3.5² allows one candidate of mean length
  const auto plan = planEpoch(counts, {{0, 6}}, options, 7, 0);
  // 1 and 2 tokens: 2 x 2² = 8; 3 alone (adding 4 would be 2 x 16); 5 and 6 over it alone.
  const std::set<std::vector<std::int64_t>> expected{{1, 3}, {4}, {2}, {0}, {5}};
  EXPECT_EQ(asSet(plan), expected);
}

TEST(Batching, AttentionBudgetShrinksOnlyTheLongTailsBatches) {
  auto counts = randomCounts(20000, 4);
  for (std::size_t i = 0; i < counts.size(); i += 97) counts[i] = static_cast<TokenCount>(300 + i % 700);  // a tail
  const auto blocks = makeBlocks({20000}, 256);
  BatchingOptions options;  // batch 350
  options.attention_budget = 350LL * 120 * 120;
  const auto plan = planEpoch(counts, blocks, options, 3, 0);
  std::vector<std::int64_t> seen;
  std::size_t fullShort = 0;
  for (const auto& batch : plan.batches) {
    std::int64_t longest = 0;
    for (auto i : batch) longest = std::max<std::int64_t>(longest, counts[i]);
    const auto size = static_cast<std::int64_t>(batch.size());
    EXPECT_LE(size, 350);
    if (size > 1) EXPECT_LE(size * longest * longest, options.attention_budget) << "batch of " << size << " x " << longest;
    if (longest <= 120 && size == 350) ++fullShort;
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  EXPECT_GT(fullShort, plan.batches.size() / 2) << "batches of typical lengths stay full";
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), counts.size());
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], static_cast<std::int64_t>(i));
  BatchingOptions unbounded;
  EXPECT_LT(plan.batches.size(), planEpoch(counts, blocks, unbounded, 3, 0).batches.size() * 3 / 2);
}

TEST(Batching, DeterministicPerSeedAndEpochAndCoversEveryCandidateOnce) {
  const auto counts = randomCounts(5000, 1);
  const auto blocks = makeBlocks({2000, 3000}, 100);
  for (bool smart : {true, false}) {
    BatchingOptions options;
    options.smart = smart;
    const auto a = planEpoch(counts, blocks, options, 11, 3);
    const auto b = planEpoch(counts, blocks, options, 11, 3);
    const auto c = planEpoch(counts, blocks, options, 11, 4);
    EXPECT_EQ(a.batches, b.batches);
    EXPECT_NE(a.batches, c.batches);
    std::vector<std::int64_t> seen;
    for (const auto& batch : a.batches) {
      EXPECT_LE(batch.size(), 350u);
      seen.insert(seen.end(), batch.begin(), batch.end());
    }
    std::sort(seen.begin(), seen.end());
    ASSERT_EQ(seen.size(), counts.size());
    for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], static_cast<std::int64_t>(i));
  }
}

TEST(Batching, BlocksNeverCrossShards) {
  const auto blocks = makeBlocks({5, 3}, 4);
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].end, 4);
  EXPECT_EQ(blocks[1].begin, 4);
  EXPECT_EQ(blocks[1].end, 5);
  EXPECT_EQ(blocks[2].begin, 5);
  EXPECT_EQ(blocks[2].end, 8);
}

TEST(Batching, RanksGetDisjointDataAndEqualBatchCounts) {
  const auto counts = randomCounts(10007, 2);
  const auto blocks = makeBlocks({10007}, 64);
  BatchingOptions options;
  options.batch_size = 100;
  std::set<std::int64_t> all;
  std::size_t batches = 0;
  for (int rank = 0; rank < 3; ++rank) {
    const auto plan = planEpoch(counts, blocks, options, 5, 1, rank, 3);
    if (rank == 0) batches = plan.batches.size();
    EXPECT_EQ(plan.batches.size(), batches);
    EXPECT_EQ(plan.batchesPerRankBeforeTrim.size(), 3u);
    for (const auto& b : plan.batches)
      for (auto i : b) EXPECT_TRUE(all.insert(i).second) << "candidate " << i << " on two ranks";
  }
  EXPECT_GT(all.size(), counts.size() * 95 / 100);  // only a few trailing batches are dropped
}

TEST(Batching, SmartBatchingPadsFarLessThanRandom) {
  const auto counts = randomCounts(20000, 3);
  const auto blocks = makeBlocks({20000}, 256);
  BatchingOptions smart, random;
  random.smart = false;
  const double smartEfficiency = paddingEfficiency(counts, planEpoch(counts, blocks, smart, 1, 0));
  const double randomEfficiency = paddingEfficiency(counts, planEpoch(counts, blocks, random, 1, 0));
  EXPECT_GT(smartEfficiency, 0.95);
  EXPECT_LT(randomEfficiency, 0.6);
}
