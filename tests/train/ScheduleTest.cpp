#include "tautrain/train/Schedule.hpp"

#include <gtest/gtest.h>

using namespace tautrain::train;

TEST(Schedule, ConstantWithLinearWarmup) {
  TrainConfig config;
  config.learning_rate = 1e-3;
  config.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(learningRate(config, 0, 10), 0.25e-3);
  EXPECT_DOUBLE_EQ(learningRate(config, 3, 10), 1e-3);
  EXPECT_DOUBLE_EQ(learningRate(config, 500, 10), 1e-3);
}

TEST(Schedule, CosineFallsFromThePeakToTheFloorAtTheLastEpoch) {
  TrainConfig config;
  config.learning_rate = 1e-3;
  config.min_learning_rate = 1e-5;
  config.lr_schedule = "cosine";
  config.max_epochs = 4;
  EXPECT_DOUBLE_EQ(learningRate(config, 0, 10), 1e-3);
  EXPECT_NEAR(learningRate(config, 20, 10), 0.5 * (1e-3 + 1e-5), 1e-12);  // half way
  EXPECT_NEAR(learningRate(config, 40, 10), 1e-5, 1e-12);
  for (int step = 1; step <= 40; ++step) EXPECT_LT(learningRate(config, step, 10), learningRate(config, step - 1, 10));
}

TEST(Schedule, ExponentialDecaysOncePerEpoch) {
  TrainConfig config;
  config.learning_rate = 1e-3;
  config.lr_schedule = "exponential";
  config.lr_decay = 0.5;
  EXPECT_DOUBLE_EQ(learningRate(config, 9, 10), 1e-3);
  EXPECT_DOUBLE_EQ(learningRate(config, 10, 10), 0.5e-3);
  EXPECT_DOUBLE_EQ(learningRate(config, 25, 10), 0.25e-3);
}
