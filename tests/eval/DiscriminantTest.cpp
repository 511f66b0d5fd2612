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
  const auto summary = summarizeDiscriminants(p, {0, 3, 2, 1});
  EXPECT_DOUBLE_EQ(summary.auc[0], 1.0);
  EXPECT_DOUBLE_EQ(summary.auc[1], 0.0);  // mu: D = 0.8 / 0.9 beats the tau's 0.7 / 0.8
  EXPECT_DOUBLE_EQ(summary.auc[2], 1.0);
  EXPECT_DOUBLE_EQ(summary.medium_fpr[0], 0.0);
  EXPECT_DOUBLE_EQ(summary.medium_fpr[1], 1.0);
}

TEST(FprAtTpr, InterpolatesBetweenTheBracketingRocPoints) {
  // Signal scores 0.9, 0.7, 0.5, 0.3; background 0.8, 0.6, 0.2, 0.1.
  // ROC points (TPR, FPR): (0.25, 0), (0.25, 0.25), (0.5, 0.25), (0.5, 0.5), (0.75, 0.5), (1, 0.5), ...
  const std::vector<float> score{0.9f, 0.7f, 0.5f, 0.3f, 0.8f, 0.6f, 0.2f, 0.1f};
  const std::vector<std::uint8_t> signal{1, 1, 1, 1, 0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(fprAtTpr(score, signal, 0.25), 0.0);
  EXPECT_DOUBLE_EQ(fprAtTpr(score, signal, 0.5), 0.25);
  // TPR 0.375 lies halfway along the step from (0.25, 0.25) to (0.5, 0.25): FPR 0.25.
  EXPECT_DOUBLE_EQ(fprAtTpr(score, signal, 0.375), 0.25);
  EXPECT_DOUBLE_EQ(fprAtTpr(score, signal, 1.0), 0.5);
  // A tied group mixing signal and background is one diagonal step: halfway in TPR, halfway in FPR.
  EXPECT_DOUBLE_EQ(fprAtTpr({0.9f, 0.5f, 0.5f, 0.1f}, {1, 1, 0, 0}, 0.75), 0.25);
  // Monotone: FPR never decreases with TPR.
  double last = 0;
  for (double t = 0.05; t <= 1.0; t += 0.05) {
    const double f = fprAtTpr(score, signal, t);
    EXPECT_GE(f, last);
    last = f;
  }
}
