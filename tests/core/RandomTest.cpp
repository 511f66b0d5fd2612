#include "tautrain/core/Random.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

using tautrain::Rng;

TEST(Random, SameSeedSameSequenceOtherSeedOther) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const auto x = a();
    EXPECT_EQ(x, b());
    EXPECT_NE(x, c());
  }
}

TEST(Random, KnownFirstValuesArePortable) {
  // Pinned so that a change of the generator (which would change every synthetic data set
  // and batch plan) is noticed.
  Rng rng(1);
  const auto first = rng();
  Rng again(1);
  EXPECT_EQ(first, again());
  EXPECT_EQ(tautrain::mix64(0), 0xE220A8397B1DCDAFULL);
}

TEST(Random, DistributionsHaveTheirMoments) {
  Rng rng(7);
  const int n = 200000;
  double sumU = 0, sumN = 0, sumN2 = 0, sumE = 0, sumP = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sumU += u;
    const double z = rng.normal();
    sumN += z;
    sumN2 += z * z;
    sumE += rng.exponential(2.0);
    sumP += rng.poisson(3.5);
  }
  EXPECT_NEAR(sumU / n, 0.5, 0.005);
  EXPECT_NEAR(sumN / n, 0.0, 0.01);
  EXPECT_NEAR(sumN2 / n, 1.0, 0.02);
  EXPECT_NEAR(sumE / n, 2.0, 0.03);
  EXPECT_NEAR(sumP / n, 3.5, 0.03);
}

TEST(Random, ShuffleIsAPermutationAndDependsOnSeed) {
  std::vector<int> a(100), b(100);
  std::iota(a.begin(), a.end(), 0);
  b = a;
  Rng r1(3), r2(4);
  r1.shuffle(a.begin(), a.end());
  r2.shuffle(b.begin(), b.end());
  EXPECT_NE(a, b);
  std::sort(a.begin(), a.end());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a[i], i);
}

TEST(Random, StreamSeedsDifferPerStream) {
  EXPECT_NE(tautrain::streamSeed(1, 0, 0), tautrain::streamSeed(1, 0, 1));
  EXPECT_NE(tautrain::streamSeed(1, 0, 0), tautrain::streamSeed(1, 1, 0));
  EXPECT_NE(tautrain::streamSeed(1, 0, 0), tautrain::streamSeed(2, 0, 0));
}
