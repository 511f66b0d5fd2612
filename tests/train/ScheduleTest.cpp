#include "tautrain/train/Schedule.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <stdexcept>

#include "tautrain/core/StopSignals.hpp"

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
  config.lr_schedule = LrSchedule::kCosine;
  config.max_epochs = 4;
  EXPECT_DOUBLE_EQ(learningRate(config, 0, 10), 1e-3);
  EXPECT_NEAR(learningRate(config, 20, 10), 0.5 * (1e-3 + 1e-5), 1e-12);  // half way
  EXPECT_NEAR(learningRate(config, 40, 10), 1e-5, 1e-12);
  for (int step = 1; step <= 40; ++step) EXPECT_LT(learningRate(config, step, 10), learningRate(config, step - 1, 10));
}

TEST(Schedule, ExponentialDecaysOncePerEpoch) {
  TrainConfig config;
  config.learning_rate = 1e-3;
  config.lr_schedule = LrSchedule::kExponential;
  config.lr_decay = 0.5;
  EXPECT_DOUBLE_EQ(learningRate(config, 9, 10), 1e-3);
  EXPECT_DOUBLE_EQ(learningRate(config, 10, 10), 0.5e-3);
  EXPECT_DOUBLE_EQ(learningRate(config, 25, 10), 0.25e-3);
}

TEST(TrainingSchedule, CheckpointsEveryNStepsAndStopsAfterTheStepsAsked) {
  const tautrain::StopSignalGuard signals;
  TrainConfig config;
  config.checkpoint_every_steps = 10;
  config.stop_after_steps = 3;
  TrainingSchedule schedule(config, false, true);
  EXPECT_TRUE(schedule.checkpointDue(10));
  EXPECT_TRUE(schedule.checkpointDue(20));
  EXPECT_FALSE(schedule.checkpointDue(15));
  EXPECT_TRUE(schedule.periodicCheckpointDue(30, [](bool) -> bool { throw std::logic_error("asked the ranks"); }))
      << "the steps decide without a collective call";
  for (int step = 0; step < 3; ++step) {
    EXPECT_FALSE(schedule.stopRequested()) << "after " << step << " steps";
    schedule.stepped(schedule.localView());
  }
  EXPECT_TRUE(schedule.stopRequested());
}

TEST(TrainingSchedule, AloneASignalStopsAtOnceRanksStopOnWhatTheyAgreed) {
  const tautrain::StopSignalGuard signals;
  TrainConfig config;
  TrainingSchedule alone(config, false, true), rank(config, true, false);
  std::raise(SIGTERM);
  EXPECT_TRUE(alone.stopRequested());
  EXPECT_TRUE(alone.localView().stop_requested);
  EXPECT_FALSE(rank.stopRequested()) << "not before the ranks agreed";
  rank.stepped({true, false});
  EXPECT_TRUE(rank.stopRequested());
  rank.signalAgreed(false);
  EXPECT_FALSE(rank.stopRequested());
  EXPECT_FALSE(rank.localView().checkpoint_due) << "only rank 0's clock counts";
  rank.stepped({false, true});
  EXPECT_TRUE(rank.checkpointDue(7)) << "rank 0's clock, as agreed";
}

TEST(TrainingSchedule, EarlyStoppingCountsEpochsWithoutABetterLoss) {
  TrainConfig config;
  config.patience = 2;
  config.max_epochs = 10;
  const TrainingSchedule schedule(config, false, true);
  int best = 0, stalled = 0;
  double bestLoss = 0;
  EXPECT_TRUE(TrainingSchedule::recordValidation(best, bestLoss, stalled, 1, 0.9));
  EXPECT_TRUE(TrainingSchedule::recordValidation(best, bestLoss, stalled, 2, 0.8));
  EXPECT_FALSE(TrainingSchedule::recordValidation(best, bestLoss, stalled, 3, 0.8)) << "equal is not better";
  EXPECT_FALSE(schedule.patienceRunOut(stalled));
  EXPECT_FALSE(TrainingSchedule::recordValidation(best, bestLoss, stalled, 4, 0.85));
  EXPECT_TRUE(schedule.patienceRunOut(stalled));
  EXPECT_EQ(best, 2);
  EXPECT_DOUBLE_EQ(bestLoss, 0.8);
  EXPECT_TRUE(schedule.lastEpoch(10));
  EXPECT_FALSE(schedule.lastEpoch(9));
}
