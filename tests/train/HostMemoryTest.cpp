#include "tautrain/train/HostMemory.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "support/RunTautrain.hpp"
#include "support/TestData.hpp"
#include "tautrain/config/RunConfig.hpp"
#include "tautrain/data/Batching.hpp"
#include "tautrain/data/Dataset.hpp"

using namespace tautrain;

TEST(HostMemory, PredictsTheMeasuredPeakOfATrainingRunWithinAFifth) {
  test::TempDir dir;
  // Two training shards of 1050: six full batches of 350, as a long training's batches are.
  ASSERT_EQ(test::runTautrain("generate -o " + dir.file("data") + " -n 3150 --shard-size 1050 --seed 5").code, 0);
  // The quickstart's small model: activations, the loader and the program each take a good part
  // of the peak.
  const auto run = test::runTautrain(
      "train -o " + dir.file("run") + " --set data.files=[" + dir.file("data") +
      "] --set data.valid_fraction=0.34 --set train.max_epochs=1 --set model.d_model=32 --set model.heads=4 "
      "--set model.layers=2 --set model.embed_hidden=64 --set model.d_ff=64 --set model.decoder_hidden1=64 "
      "--set model.decoder_hidden2=32");
  ASSERT_EQ(run.code, 0) << run.output;
  std::smatch match;
  const std::regex line(R"(host memory: peak ([0-9.]+) GB so far, predicted ([0-9.]+) GB)");
  ASSERT_TRUE(std::regex_search(run.output, match, line)) << run.output;
  const double measured = std::stod(match[1]), predicted = std::stod(match[2]);
  EXPECT_GT(measured, 0.3) << "the run is too small for the data-dependent parts to count";
  EXPECT_NEAR(predicted, measured, 0.2 * measured);
}

TEST(HostMemory, ItsIndexPartIsWhatTheDatasetLoaderAndPlanHoldPerCandidate) {
  test::TempDir dir;
  ASSERT_EQ(test::runTautrain("generate -o " + dir.file("data") + " -n 4000 --shard-size 2000 --seed 6").code, 0);
  const auto schema = data::FeatureSchema::fromSpec("builtin");
  const auto paths = data::expandPaths({dir.file("data")});
  const data::Dataset dataset(paths, schema);
  const auto extent = data::measureExtent(paths, schema);
  ASSERT_EQ(extent.candidates, dataset.size());
  ASSERT_EQ(extent.shards, 2);
  config::RunConfig config;
  const auto plan =
      data::planEpoch(dataset.tokenCounts({}), dataset.blocks(256), data::batchingOptions(config.data), 1, 0);
  const double held = static_cast<double>(dataset.indexBytes() + 2 * dataset.size() + plan.bytes());

  // What the prediction adds per candidate: the same extent with twice the candidates.
  auto twice = extent;
  twice.candidates *= 2, twice.tokens *= 2, twice.feature_values *= 2;
  const auto one = train::predictHostMemory(config, extent, {}, 1000, 64, /*onGpu=*/true);
  const auto two = train::predictHostMemory(config, twice, {}, 1000, 64, /*onGpu=*/true);
  EXPECT_NEAR(two.index - one.index, held, 0.1 * held);
  // Eight ranks share the plan: 8 of its bytes per candidate become one.
  const auto ranks = train::predictHostMemory(config, twice, {}, 1000, 64, true, 8);
  EXPECT_NEAR((two.index - ranks.index) / static_cast<double>(twice.candidates), 7.0, 0.01);
}

TEST(HostMemory, GpuRunsKeepTrainingStateOffTheHostAndBudgetsBoundTheCpuPeak) {
  config::RunConfig config;
  config.model.attention = model::Attention::kReference;
  data::DataExtent extent{4, 200000, 200000 * 80, 200000 * 80 * 35};
  const auto cpu = train::predictHostMemory(config, extent, extent, 458776, 1024, /*onGpu=*/false);
  const auto gpu = train::predictHostMemory(config, extent, extent, 458776, 1024, /*onGpu=*/true);
  EXPECT_EQ(gpu.training, 0);
  EXPECT_GT(gpu.program, cpu.program) << "the CUDA runtime lives in the process";
  EXPECT_EQ(gpu.index, cpu.index);
  config.data.attention_budget = 350LL * 128 * 128;
  const auto bounded = train::predictHostMemory(config, extent, extent, 458776, 1024, false);
  EXPECT_LT(bounded.training, cpu.training / 4) << "batches of 1024 tokens hold 5 candidates, not 350";
  EXPECT_LT(bounded.windows, cpu.windows);
}
