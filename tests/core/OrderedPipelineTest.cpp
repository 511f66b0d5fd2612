#include "tautrain/core/OrderedPipeline.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

using tautrain::OrderedPipeline;
using tautrain::PipelinePlan;

namespace {

/// Tasks of three items each, finishing in scrambled order.
PipelinePlan threeItemTasks(std::int64_t tasks) {
  PipelinePlan plan;
  plan.end_task = tasks;
  plan.end_item = 3 * tasks;
  plan.task_of = [](std::int64_t item) { return item / 3; };
  plan.tasks_ahead = 4;
  return plan;
}

void scrambledDelay(std::int64_t k) { std::this_thread::sleep_for(std::chrono::microseconds((k * 7919) % 13 * 100)); }

}  // namespace

TEST(OrderedPipeline, HandsOutItemsInOrderForAnyNumberOfThreads) {
  for (const int threads : {1, 3, 8}) {
    OrderedPipeline<std::int64_t> pipeline(threeItemTasks(20), threads, [](int, std::int64_t task, const auto& emit) {
      for (std::int64_t item = 3 * task + 2; item >= 3 * task; --item) {  // emitted backwards within a task
        scrambledDelay(item);
        if (!emit(item, [item] { return item * item; })) return;
      }
    });
    for (std::int64_t item = 0; item < 60; ++item) {
      const auto value = pipeline.next();
      ASSERT_TRUE(value.has_value()) << threads << " threads, item " << item;
      EXPECT_EQ(*value, item * item) << threads << " threads";
    }
    EXPECT_FALSE(pipeline.next().has_value());
  }
}

TEST(OrderedPipeline, StartsAtAnyItemWithTheTaskThatHoldsIt) {
  auto plan = threeItemTasks(10);
  plan.first_item = 7;
  plan.first_task = 2;
  std::atomic<int> tasksRun{0};
  OrderedPipeline<std::int64_t> pipeline(plan, 2, [&](int, std::int64_t task, const auto& emit) {
    ++tasksRun;
    for (std::int64_t item = std::max<std::int64_t>(3 * task, 7); item < 3 * task + 3; ++item)
      if (!emit(item, [item] { return item; })) return;
  });
  for (std::int64_t item = 7; item < 30; ++item) EXPECT_EQ(pipeline.next(), item);
  EXPECT_FALSE(pipeline.next().has_value());
  EXPECT_EQ(tasksRun.load(), 8);
}

TEST(OrderedPipeline, StaysWithinItsLimitsAheadOfTheConsumer) {
  auto plan = threeItemTasks(30);
  plan.items_ahead = 2;
  std::atomic<std::int64_t> taken{0}, furthestTask{-1}, furthestItem{-1};
  std::atomic<bool> tooFar{false};
  OrderedPipeline<std::int64_t> pipeline(plan, 4, [&](int, std::int64_t task, const auto& emit) {
    // `taken` may lag the pipeline's count by the one next() in progress.
    if (task >= (taken + 1) / 3 + 4) tooFar = true;
    for (std::int64_t item = 3 * task; item < 3 * task + 3; ++item)
      if (!emit(item, [&, item] {
            if (item >= taken + 1 + 2) tooFar = true;
            return item;
          }))
        return;
  });
  for (std::int64_t item = 0; item < 90; ++item) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // a slow consumer
    ASSERT_EQ(pipeline.next(), item);
    ++taken;
  }
  EXPECT_FALSE(tooFar) << "a task started or an item was made beyond the limits";
}

TEST(OrderedPipeline, TheFirstExceptionStopsEveryWorkerAndReachesTheConsumer) {
  std::atomic<int> started{0};
  OrderedPipeline<std::int64_t> pipeline(threeItemTasks(1000), 3, [&](int, std::int64_t task, const auto& emit) {
    ++started;
    if (task == 5) throw std::runtime_error("shard 5 is corrupt");
    for (std::int64_t item = 3 * task; item < 3 * task + 3; ++item)
      if (!emit(item, [item] { return item; })) return;
  });
  std::int64_t received = 0;
  try {
    while (pipeline.next()) ++received;
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "shard 5 is corrupt");
  }
  EXPECT_LE(received, 15);
  EXPECT_LT(started.load(), 20) << "workers went on after the failure";
}

TEST(OrderedPipeline, DestroyingItCancelsTasksWaitingToEmit) {
  std::atomic<int> cancelled{0};
  {
    auto plan = threeItemTasks(100);
    plan.items_ahead = 1;
    OrderedPipeline<std::int64_t> pipeline(plan, 4, [&](int, std::int64_t task, const auto& emit) {
      for (std::int64_t item = 3 * task; item < 3 * task + 3; ++item)
        if (!emit(item, [item] { return item; })) {
          ++cancelled;
          return;
        }
    });
    EXPECT_EQ(pipeline.next(), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the workers now wait to emit
  }                                                              // must return: every worker is released and joined
  EXPECT_GE(cancelled.load(), 1);
}
