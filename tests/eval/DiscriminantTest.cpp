#include "tautrain/eval/Discriminant.hpp"

#include <gtest/gtest.h>

using namespace tautrain::eval;

TEST(RocAuc, HandComputedCases) {
  // Perfect separation, perfect inversion, and all tied.
  EXPECT_DOUBLE_EQ(rocAuc({0.9f, 0.8f, 0.2f, 0.1f}, {1, 1, 0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(rocAuc({0.1f, 0.2f, 0.8f, 0.9f}, {1, 1, 0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(rocAuc({0.5f, 0.5f, 0.5f, 0.5f}, {1, 0, 1, 0}), 0.5);
  // Signal {0.9, 0.4}, background {0.6, 0.1}: pairs (s > b) = 3 of 4.
  EXPECT_DOUBLE_EQ(rocAuc({0.9f, 0.4f, 0.6f, 0.1f}, {1, 1, 0, 0}), 0.75);
  // One tie between signal 0.4 and background 0.4 counts half: (1 + 1 + 0.5 + 1) / 4.
  EXPECT_DOUBLE_EQ(rocAuc({0.9f, 0.4f, 0.4f, 0.1f}, {1, 1, 0, 0}), 0.875);
  // Weight 3 on the background at 0.6: pairs weighted (3 + 1 + 0 + 1) / (2 * 4).
  EXPECT_DOUBLE_EQ(rocAuc({0.9f, 0.4f, 0.6f, 0.1f}, {1, 1, 0, 0}, {1, 1, 3, 1}), 5.0 / 8.0);
}

TEST(RocAuc, DiscriminantsUseOnlyTausAndTheirBackground) {
  // Rows: e, mu, tau, jet probabilities. Taus score high against e and jets, low against mu.
  const std::vector<float> p = {
      0.7f, 0.1f, 0.1f, 0.1f,   // e
      0.1f, 0.1f, 0.1f, 0.7f,   // jet
      0.1f, 0.1f, 0.7f, 0.1f,   // tau
      0.0f, 0.1f, 0.8f, 0.1f,   // mu candidate with a high tau score: D_mu fails here
  };
  const auto aucs = discriminantAucs(p, {0, 3, 2, 1});
  EXPECT_DOUBLE_EQ(aucs[0], 1.0);
  EXPECT_DOUBLE_EQ(aucs[1], 0.0);  // mu: D = 0.8 / 0.9 beats the tau's 0.7 / 0.8
  EXPECT_DOUBLE_EQ(aucs[2], 1.0);
}
