// Data-parallel training over Gloo on loopback: the same steps as one process, failing ranks,
// signals through the launcher and resume.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "support/RunTautrain.hpp"
#include "support/Checkpoints.hpp"
#include "support/TestData.hpp"
#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/data/Batching.hpp"
#include "tautrain/dist/RankInfo.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/Checkpoint.hpp"

using namespace tautrain;

namespace {

/// Sets environment variables for its lifetime.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(std::vector<std::pair<std::string, std::string>> values) : m_values(std::move(values)) {
    for (const auto& [name, value] : m_values) ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnvironment() {
    for (const auto& item : m_values) ::unsetenv(item.first.c_str());
  }

 private:
  std::vector<std::pair<std::string, std::string>> m_values;
};



/// A tiny run on 2400 synthetic candidates (18 steps of 100 per epoch).
std::string tinyRun(const test::TempDir& dir, const std::string& extra) {
  return test::tinyRunSettings(dir.file("data")) + " --set dist.timeout_s=20 " + extra;
}

class Distributed : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(test::runTautrain("generate -o " + dir.file("data") + " -n 2400 --shard-size 300").code, 0);
  }
  test::TempDir dir;
};

}  // namespace

TEST(RankInfo, ReadsTorchrunSlurmAndOpenMpiVariablesAndNamesABadOne) {
  EXPECT_FALSE(dist::rankFromEnvironment().distributed());
  {
    ScopedEnvironment env({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                           {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "1234"}});
    const auto info = dist::rankFromEnvironment();
    EXPECT_EQ(info.rank, 3);
    EXPECT_EQ(info.world_size, 8);
    EXPECT_EQ(info.local_rank, 1);
    EXPECT_EQ(info.local_world_size, 2);
    EXPECT_EQ(info.master_addr, "node7");
    EXPECT_EQ(info.master_port, 1234);
    EXPECT_EQ(info.source, "torchrun");
  }
  {
    ScopedEnvironment env({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "6"}, {"SLURM_LOCALID", "1"},
                           {"SLURM_NTASKS_PER_NODE", "2"}});
    const auto info = dist::rankFromEnvironment();
    EXPECT_EQ(info.rank, 5);
    EXPECT_EQ(info.source, "slurm");
  }
  {
    ScopedEnvironment env({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}});
    EXPECT_EQ(dist::rankFromEnvironment().source, "openmpi");
  }
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{{"RANK", "two"}, {"RANK", "4"}}) {
    ScopedEnvironment env({{"WORLD_SIZE", "4"}, {name, value}});
    try {
      dist::rankFromEnvironment();
      ADD_FAILURE() << value;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.key(), "RANK");
    }
  }
}

TEST(RankShare, SlicesAndWholeBatchesCoverTheGlobalPlanOnce) {
  std::vector<data::TokenCount> counts;
  for (int i = 0; i < 1000; ++i) counts.push_back(static_cast<data::TokenCount>(1 + (i * 37) % 90));
  const auto blocks = data::makeBlocks({600, 400}, 64);
  data::BatchingOptions options;
  options.batch_size = 50;
  options.window_batches = 4;
  const auto global = data::planEpoch(counts, blocks, options, 7, 2);
  for (const auto share : {data::RankShare::kBatchSlices, data::RankShare::kWholeBatches}) {
    std::vector<data::EpochPlan> ranks;
    for (int r = 0; r < 3; ++r) ranks.push_back(data::planRankShare(counts, blocks, options, 7, 2, share, r, 3));
    std::multiset<std::int64_t> all, seen;
    for (const auto& b : global.batches) all.insert(b.begin(), b.end());
    for (const auto& plan : ranks)
      for (const auto& b : plan.batches) seen.insert(b.begin(), b.end());
    EXPECT_EQ(seen, all) << "every candidate once";
    if (share == data::RankShare::kBatchSlices) {
      // Step k of every rank holds a third of global batch k.
      for (const auto& plan : ranks) ASSERT_EQ(plan.batches.size(), global.batches.size());
      for (std::size_t k = 0; k < global.batches.size(); ++k) {
        std::multiset<std::int64_t> step;
        for (const auto& plan : ranks) step.insert(plan.batches[k].begin(), plan.batches[k].end());
        EXPECT_EQ(step, std::multiset<std::int64_t>(global.batches[k].begin(), global.batches[k].end()));
      }
    }
  }
}

/// Largest difference between two runs' parameters, relative to each parameter's largest
/// value, and the parameter it is in.
std::pair<double, std::string> largestRelativeDifference(const std::string& checkpointA, const std::string& checkpointB) {
  const auto a = test::namedParametersOf(checkpointA), b = test::namedParametersOf(checkpointB);
  EXPECT_EQ(a.size(), b.size());
  std::pair<double, std::string> worst{0.0, ""};
  for (const auto& [name, value] : a) {
    auto x = value.clone(), y = b.at(name).clone();
    if (name.find("attention.qkv.bias") != std::string::npos) {
      // The key bias has zero gradient in exact arithmetic (softmax ignores a shift shared by
      // all keys), so Adam turns rounding noise into full steps there: any other summation order
      // moves it. It takes no part in the scores.
      const auto d = x.size(0) / 3;
      x.narrow(0, d, d).zero_(), y.narrow(0, d, d).zero_();
    }
    const double relative = ((x - y).abs().max() / x.abs().max().clamp_min(1e-12)).item<double>();
    if (relative > worst.first) worst = {relative, name};
  }
  return worst;
}

/// 2 ranks and 1 process agree to this, relative per parameter (docs/distributed.md): Gloo
/// sums the two ranks' gradients in another order than one process sums the batch, and Adam
/// divides each gradient by its own running scale, so a parameter with tiny, noisy gradients
/// (the LayerNorm biases) turns those last-bit differences into relative differences of
/// 1e-5. They stay there: measured, the largest is reached within the first epoch.
constexpr double kDataParallelTolerance = 5e-5;

struct AgreementCase {
  int data_seed;
  std::string class_weights;
};

// How gtest shows the parameter in test listings (otherwise as raw, partly uninitialised bytes).
void PrintTo(const AgreementCase& c, std::ostream* out) {
  *out << "data seed " << c.data_seed << ", class weights " << c.class_weights;
}

class DataParallelAgreement : public ::testing::TestWithParam<AgreementCase> {};

TEST_P(DataParallelAgreement, TwoRanksTakeTheStepsOfOneProcessWithTheGlobalBatchEpochAfterEpoch) {
  // The thesis feature set (the generator's and the default schema). Unequal class weights give
  // the ranks unequal weight sums, which a wrong normalisation would show.
  test::TempDir dir;
  ASSERT_EQ(test::runTautrain("generate -o " + dir.file("data") + " -n 2400 --shard-size 300 --set generator.seed=" +
                              std::to_string(GetParam().data_seed))
                .code,
            0);
  const auto settings = tinyRun(dir, "--set train.max_epochs=4 --set train.keep_checkpoints=0 --set model.dropout=0 "
                                     "--set dist.batch_scope=global --set train.class_weights=" +
                                         GetParam().class_weights);
  const auto one = test::runTautrain("train -o " + dir.file("one") + " " + settings);
  ASSERT_EQ(one.code, 0) << one.output;
  const auto two = test::runTautrain("launch --nproc-per-node 2 --master-port 0 -- train -o " + dir.file("two") + " " + settings);
  ASSERT_EQ(two.code, 0) << two.output;
  EXPECT_NE(two.output.find("data-parallel over 2 ranks (gloo)"), std::string::npos) << two.output;
  std::vector<double> perEpoch;
  for (int epoch = 1; epoch <= 4; ++epoch) {
    const auto name = fmt::format("/checkpoints/epoch-{:03d}.pt", epoch);
    const auto [worst, where] = largestRelativeDifference(dir.file("one") + name, dir.file("two") + name);
    std::cout << "epoch " << epoch << ": largest relative parameter difference " << worst << " (" << where << ")\n";
    EXPECT_LT(worst, kDataParallelTolerance) << "epoch " << epoch << ", " << where;
    perEpoch.push_back(worst);
  }
  EXPECT_GT(perEpoch.back(), 0.0) << "the two runs must not be the same process";
  // Not growing with steps: the last epoch stays within twice the largest of the first two.
  EXPECT_LE(perEpoch.back(), 2 * std::max(perEpoch[0], perEpoch[1]));
  // Only rank 0 wrote the run directory; the ranks' lines are tagged.
  EXPECT_FALSE(std::filesystem::exists(dir.file("two/last.pt.tmp")));
  EXPECT_NE(two.output.find("[rank 0]"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(ThesisFeatures, DataParallelAgreement,
                         ::testing::Values(AgreementCase{1, "[1,2,1,3]"}, AgreementCase{2, "[1,1,1,1]"},
                                           AgreementCase{3, "[1,2,1,3]"}),
                         [](const ::testing::TestParamInfo<AgreementCase>& info) {
                           return "DataSeed" + std::to_string(info.param.data_seed);
                         });

namespace {

/// A TCP port nothing listens on now (the kernel's pick for port 0).
int unusedPort() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  const bool ok = ::bind(s, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  ::getsockname(s, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  ::close(s);
  return ok ? ntohs(address.sin_port) : 29500;
}

}  // namespace

TEST_F(Distributed, TwoNodesOfOneRankOnLoopbackTakeTheStepsOfOneNodeOfTwoRanks) {
  const auto settings = tinyRun(dir, "--set train.max_epochs=2");
  const auto oneNode =
      test::runTautrain("launch --nproc-per-node 2 --master-port 0 -- train -o " + dir.file("one-node") + " " + settings);
  ASSERT_EQ(oneNode.code, 0) << oneNode.output;

  // Two launch groups as two nodes would start them, here both on loopback.
  const ScopedEnvironment loopback({std::make_pair(std::string("GLOO_SOCKET_IFNAME"), std::string("lo"))});
  const int port = unusedPort();
  const auto node = [&](int rank) {
    return "launch --nnodes 2 --node-rank " + std::to_string(rank) + " --nproc-per-node 1 --master-addr 127.0.0.1 " +
           "--master-port " + std::to_string(port) + " -- train -o " + dir.file("two-nodes") + " " + settings;
  };
  test::Spawned second(test::words(node(1)), dir.file("node1.log"));
  const auto first = test::runTautrain(node(0));
  ASSERT_EQ(first.code, 0) << first.output << "\nnode 1:\n" << second.output();
  ASSERT_EQ(second.wait(60), 0) << second.output();
  EXPECT_NE(first.output.find("started ranks 0..0 of 2 (node 0 of 2)"), std::string::npos) << first.output;
  EXPECT_NE(second.output().find("started ranks 1..1 of 2 (node 1 of 2)"), std::string::npos) << second.output();

  // The same ranks, the same data, the same Gloo all-reduce: the same weights, bit for bit.
  const auto a = test::namedParametersOf(dir.file("one-node/last.pt"));
  const auto b = test::namedParametersOf(dir.file("two-nodes/last.pt"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, value] : a) EXPECT_TRUE(torch::equal(value, b.at(name))) << name;
}

TEST_F(Distributed, AKilledRankStopsTheOtherWithAnErrorAndTheLauncherReportsIt) {
  test::Spawned launcher(test::words("launch --nproc-per-node 2 --master-port 0 --grace 5 -- train -o " + dir.file("run") +
                               " " + tinyRun(dir, "--set train.max_epochs=1000 --set dist.timeout_s=30")),
                         dir.file("launch.log"));
  ASSERT_TRUE(launcher.waitForOutput("data-parallel over 2 ranks", 60)) << launcher.output();
  const auto ranks = launcher.children();
  ASSERT_EQ(ranks.size(), 2u);
  ::kill(ranks[1], SIGKILL);
  const auto start = std::chrono::steady_clock::now();
  const int code = launcher.wait(60);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(code, 0) << launcher.output();
  EXPECT_LT(seconds, 30) << "the surviving rank must fail within dist.timeout_s";
  EXPECT_NE(launcher.output().find("killed by signal"), std::string::npos) << launcher.output();
}

TEST_F(Distributed, AHangingRankFailsTheOthersAfterTheTimeout) {
  test::Spawned launcher(test::words("launch --nproc-per-node 2 --master-port 0 --grace 2 -- train -o " + dir.file("run") +
                               " " + tinyRun(dir, "--set train.max_epochs=1000 --set dist.timeout_s=4")),
                         dir.file("launch.log"));
  ASSERT_TRUE(launcher.waitForOutput("data-parallel over 2 ranks", 60)) << launcher.output();
  const auto ranks = launcher.children();
  ASSERT_EQ(ranks.size(), 2u);
  ::kill(ranks[1], SIGSTOP);
  const int code = launcher.wait(40);
  ::kill(ranks[1], SIGKILL);
  EXPECT_EQ(code, 1) << launcher.output();
  EXPECT_NE(launcher.output().find("another rank has probably died or hangs (timeout dist.timeout_s = 4 s)"),
            std::string::npos)
      << launcher.output();
}

TEST_F(Distributed, SigtermToTheLauncherCheckpointsAndTheResumedRunEndsBitwiseAsAnUninterruptedOne) {
  const auto settings = tinyRun(dir, "--set train.max_epochs=3 --set train.checkpoint_exit_code=77");
  const auto straight =
      test::runTautrain("launch --nproc-per-node 2 --master-port 0 -- train -o " + dir.file("straight") + " " + settings);
  ASSERT_EQ(straight.code, 0) << straight.output;

  test::Spawned launcher(test::words("launch --nproc-per-node 2 --master-port 0 -- train -o " + dir.file("stopped") + " " +
                               settings + " --set train.log_every=1"),
                         dir.file("launch.log"));
  ASSERT_TRUE(launcher.waitForOutput("epoch 1 step 3/", 60)) << launcher.output();
  launcher.signal(SIGTERM);
  ASSERT_EQ(launcher.wait(60), 77) << launcher.output();
  const auto stopped = train::readCheckpointState(dir.file("stopped/last.pt"));
  EXPECT_GE(stopped.global_step, 3);
  EXPECT_LT(stopped.global_step, 54) << "stopped before the end";

  const auto resumed = test::runTautrain("launch --nproc-per-node 2 --master-port 0 -- train --resume " +
                                         dir.file("stopped") + " --set train.log_every=50");
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  const auto a = test::parametersOf(dir.file("straight/last.pt")), b = test::parametersOf(dir.file("stopped/last.pt"));
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
}
