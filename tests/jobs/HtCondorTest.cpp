// What `tautrain condor` writes, submitted to a real HTCondor: a personal pool per test
// (support/PersonalPool.hpp), CPU-only jobs (--gpus 0), results compared with local runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>

#include "support/Checkpoints.hpp"
#include "support/PersonalPool.hpp"
#include "support/RunTautrain.hpp"
#include "support/TestData.hpp"

using namespace tautrain;
namespace fs = std::filesystem;

namespace {

// A skip where HTCondor cannot run; a failure where the integration stage promised it.
#define REQUIRE_PERSONAL_POOL()                                                          \
  if (const auto why = test::PersonalPool::unavailable(); !why.empty()) {                \
    if (std::getenv("TAUTRAIN_REQUIRE_HTCONDOR")) FAIL() << why;                         \
    GTEST_SKIP() << why << " (cmake/integration.sh runs these tests in Debian 13)";      \
  }

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

/// DAGMan (strict by default) refuses a DAG whose node log would lie under /tmp.
fs::path outsideTmp() { return fs::current_path(); }

/// Resources of a job our 2-core machines can run, next to the GPU-less flag under test.
const std::string kCpuJob = " --gpus 0 --cpus 1 --memory-gb 1 --disk-gb 1";

std::string clusterOf(const test::Result& submitted) {
  std::smatch match;
  const bool found = std::regex_search(submitted.output, match, std::regex("submitted to cluster (\\d+)"));
  return found ? match[1].str() + ".0" : "";
}

/// Shards to train on (data/) and to test on (test/).
void generateTrainingAndTestData(const test::TempDir& dir) {
  ASSERT_EQ(test::runTautrain("generate -o " + dir.file("data") + " -n 800 --shard-size 200").code, 0);
  ASSERT_EQ(test::runTautrain("generate -o " + dir.file("test") + " -n 600 --shard-size 600 --seed 7").code, 0);
}

/// Submits the DAG in `directory` as the user and waits for DAGMan's exit status; returns its log.
std::string runDag(const test::PersonalPool& pool, const fs::path& directory, const std::string& dag, int seconds) {
  pool.giveToUser(directory);
  const auto submitted = pool.asUser("condor_submit_dag " + dag, directory);
  EXPECT_EQ(submitted.code, 0) << submitted.output;
  const auto dagmanOut = directory / (dag + ".dagman.out");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (submitted.code == 0 && std::chrono::steady_clock::now() < deadline) {
    const auto text = test::readFile(dagmanOut);
    if (text.find("EXITING WITH STATUS") != std::string::npos) {
      EXPECT_NE(text.find("EXITING WITH STATUS 0"), std::string::npos) << text;
      return text;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ADD_FAILURE() << "DAGMan did not finish within " << seconds << " s\n"
                << test::readFile(dagmanOut) << pool.asRoot("condor_q -allusers -better-analyze").output
                << pool.daemonLogs();
  return "";
}

void expectSameFile(const fs::path& a, const fs::path& b) {
  ASSERT_TRUE(fs::exists(a)) << a;
  ASSERT_TRUE(fs::exists(b)) << b;
  EXPECT_EQ(test::readFile(a), test::readFile(b)) << a << " differs from " << b;
}

}  // namespace

TEST(HtCondor, TrainingJobVacatedAndCheckpointingEndsBitwiseAsALocalRun) {
  REQUIRE_PERSONAL_POOL();
  test::TempDir dir;
  test::PersonalPool pool(dir.path() / "pool", true);
  ASSERT_EQ(test::runTautrain("generate -o " + dir.file("data") + " -n 2000 --shard-size 500").code, 0);
  // 45 steps; a checkpoint exit every 10.
  const auto settings = test::tinyRunSettings(dir.file("data")) +
                        " --set train.max_epochs=3 --set train.log_every=1 --set train.checkpoint_every_steps=10";
  const auto written = test::runTautrain("condor train -o " + dir.file("job") + kCpuJob + " --checkpoint-minutes 0 " + settings);
  ASSERT_EQ(written.code, 0) << written.output;
  ASSERT_EQ(test::runTautrain("train -c " + dir.file("job/run.yaml") + " -o " + dir.file("local")).code, 0);

  pool.giveToUser(dir.file("job"));
  const auto submitted = pool.asUser("condor_submit train.sub", dir.file("job"));
  ASSERT_EQ(submitted.code, 0) << submitted.output;
  const auto job = clusterOf(submitted);
  ASSERT_FALSE(job.empty()) << submitted.output;

  // Vacate it twice at random moments after its training started: HTCondor sends SIGTERM,
  // drops the sandbox and starts the job again from the last checkpoint it saved.
  const auto eventLog = fs::path(dir.file("job/logs/train.log"));
  std::mt19937 rng(5);
  int vacated = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(420);
  while (true) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the job did not finish\n" << test::readFile(eventLog) << pool.daemonLogs();
    const auto status = pool.jobAttribute(job, "JobStatus");
    if (status.empty()) break;
    ASSERT_NE(status, "5") << "held: " << pool.jobAttribute(job, "HoldReason");
    bool training = false;
    if (status == "2" && fs::exists(pool.executeDirectory()))
      for (const auto& sandbox : fs::directory_iterator(pool.executeDirectory()))
        training = training || test::readFile(sandbox.path() / "_condor_stderr").find(" loss ") != std::string::npos;
    if (vacated < 2 && training) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 1500)(rng)));
      const auto r = pool.asUser("condor_vacate_job " + job, dir.file("job"));
      ASSERT_EQ(r.code, 0) << r.output;
      // It counts once HTCondor recorded the eviction (a job that just left its slot is not evicted).
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (occurrences(test::readFile(eventLog), "Job was evicted") == static_cast<std::size_t>(vacated) &&
             std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      vacated = static_cast<int>(occurrences(test::readFile(eventLog), "Job was evicted"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  const auto events = test::readFile(eventLog);
  EXPECT_EQ(occurrences(events, "Job was evicted"), 2u) << events;
  EXPECT_NE(events.find("Normal termination (return value 0)"), std::string::npos) << events;
  // A checkpoint exit shows as an output transfer while the job goes on; the last one is its end.
  const auto transfers = occurrences(events, "Started transferring output files");
  ASSERT_GE(transfers, 3u) << "fewer than 2 checkpoint exits\n" << events;
  // Each start after a checkpoint exit continued from it (the run's log travels with the
  // checkpoint; what an evicted start logged is lost with its sandbox).
  EXPECT_GE(occurrences(test::readFile(dir.file("job/run/tautrain.log")), "resumed from"), transfers - 1);
  const auto a = test::parametersOf(dir.file("local/last.pt")), b = test::parametersOf(dir.file("job/run/last.pt"));
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
}

TEST(HtCondor, EvaluationDagMergesTheTableALocalEvaluateWrites) {
  REQUIRE_PERSONAL_POOL();
  test::TempDir dir(outsideTmp());
  test::PersonalPool pool(dir.path() / "pool", true);
  generateTrainingAndTestData(dir);
  if (HasFatalFailure()) return;
  const auto trained = test::runTautrain("train -o " + dir.file("runs/a") + " " + test::tinyRunSettings(dir.file("data")) +
                                         " --set train.max_epochs=2 --set train.keep_checkpoints=0");
  ASSERT_EQ(trained.code, 0) << trained.output;
  const auto checkpoints = dir.file("runs/a/checkpoints");
  const auto written = test::runTautrain("condor evaluate --checkpoints " + checkpoints + " --data " + dir.file("test") +
                                         " -o " + dir.file("ev") + kCpuJob);
  ASSERT_EQ(written.code, 0) << written.output;
  // With the job's thread count (--cpus 1 sets its OMP_NUM_THREADS): LibTorch 2.6's CPU kernels
  // sum in an order that depends on it, and scores of 1 and 2 threads differ in the last bit.
  const auto local = test::runTautrain("evaluate --checkpoints " + checkpoints + " --data " + dir.file("test") + " -o " +
                                           dir.file("local") + " --no-plots",
                                       "env OMP_NUM_THREADS=1 ");
  ASSERT_EQ(local.code, 0) << local.output;

  runDag(pool, dir.file("ev"), "evaluate.dag", 400);
  for (const char* table : {"roc.csv", "wp.csv", "knee.csv"})
    expectSameFile(dir.path() / "ev/merged" / table, dir.path() / "local" / table);
}

TEST(HtCondor, SeedStudyDagRetriesAFailedNodeAndEndsWithTheLocalEnsembleTable) {
  REQUIRE_PERSONAL_POOL();
  test::TempDir dir(outsideTmp());
  test::PersonalPool pool(dir.path() / "pool", true);
  generateTrainingAndTestData(dir);
  if (HasFatalFailure()) return;
  const auto written =
      test::runTautrain("condor study seeds --seeds 2 --test " + dir.file("test") + " -o " + dir.file("st") + kCpuJob +
                        " " + test::tinyRunSettings(dir.file("data")) + " --set train.max_epochs=2");
  ASSERT_EQ(written.code, 0) << written.output;
  // One node fails once on purpose: a POST script that fails its first run makes DAGMan retry
  // the node (RETRY), job included.
  std::ofstream(dir.file("st/fail-once.sh")) << "#!/bin/sh\n"
                                             << "[ -e failed-once ] && exit \"$1\"\n"
                                             << "touch failed-once; exit 1\n";
  fs::permissions(dir.file("st/fail-once.sh"), fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read |
                                                   fs::perms::group_exec | fs::perms::others_exec);
  std::ofstream(dir.file("st/study.dag"), std::ios::app) << "SCRIPT POST score_seed1 fail-once.sh $RETURN\n";

  const auto dagman = runDag(pool, dir.file("st"), "study.dag", 420);
  if (HasFailure()) return;
  EXPECT_NE(dagman.find("Retrying node score_seed1"), std::string::npos) << dagman;

  // The same study by hand, from the job directory's config.
  for (const std::string seed : {"1", "2"}) {
    const auto run = dir.file("local/run-seed" + seed);
    ASSERT_EQ(test::runTautrain("train -c " + dir.file("st/run.yaml") + " --set seed=" + seed + " -o " + run).code, 0);
    ASSERT_EQ(test::runTautrain("evaluate --checkpoints " + run + "/best.pt --name seed" + seed + " --data " +
                                dir.file("test") + " -o " + dir.file("local/eval-seed" + seed) + " --no-plots")
                  .code,
              0);
  }
  ASSERT_EQ(test::runTautrain("ensemble --scores " + dir.file("local/eval-seed1/scores") + " " +
                              dir.file("local/eval-seed2/scores") + " -o " + dir.file("local/study"))
                .code,
            0);
  for (const char* table : {"ensemble.csv", "ensemble-wp.md"})
    expectSameFile(dir.path() / "st/study" / table, dir.path() / "local/study" / table);
}

TEST(HtCondor, GpuJobFilesPassSubmitDryRun) {
  REQUIRE_PERSONAL_POOL();
  test::TempDir dir;
  const test::PersonalPool pool(dir.path() / "pool", false);  // a dry run needs no daemons
  ASSERT_EQ(test::runTautrain("generate -o " + dir.file("test") + " -n 200 --shard-size 200").code, 0);
  const std::string gpu = " --min-gpu-memory-gb 16 --min-capability 8.0 --gpu-memory-attribute RequestGPUMemoryMB";
  ASSERT_EQ(test::runTautrain("condor train -o " + dir.file("one") + gpu).code, 0);
  ASSERT_EQ(test::runTautrain("condor train -o " + dir.file("four") + " --gpus 4 --cpus 16").code, 0);
  ASSERT_EQ(test::runTautrain("condor study seeds --seeds 2 --test " + dir.file("test") + " -o " + dir.file("st") + gpu).code, 0);
  for (const char* job : {"one", "four", "st"}) pool.giveToUser(dir.file(job));

  // Every HTCondor message about a file is a failure here; the job ad must say what we meant.
  const auto dryRun = [&](const std::string& directory, const std::string& arguments) {
    const auto r = pool.asUser("condor_submit -dry-run - " + arguments, dir.file(directory));
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output.find("WARNING"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("ERROR"), std::string::npos) << r.output;
    return r.output;
  };
  auto ad = dryRun("one", "train.sub");
  for (const char* attribute :
       {"RequestGPUs=1", "GPUsMinMemory=16384", "GPUsMinCapability=8.0", "RequireGPUs=", "RequestGPUMemoryMB=",
        "TARGET.GPUMemoryMB >= RequestGPUMemoryMB", "SuccessCheckpointExitCode=85", "TransferCheckpoint=\"run\"",
        "WantFTOnCheckpoint=true", "WhenToTransferOutput=\"ON_EXIT\"", "TransferInput=\"run.yaml\""})
    EXPECT_NE(ad.find(attribute), std::string::npos) << attribute << " not in\n" << ad;
  ad = dryRun("four", "train.sub");
  EXPECT_NE(ad.find("RequestGPUs=4"), std::string::npos) << ad;
  EXPECT_NE(ad.find("launch --nproc-per-node 4"), std::string::npos) << ad;
  // DAG nodes' files with their VARS given as the DAG gives them.
  ad = dryRun("st", "-a 'run=run-seed1' -a 'settings=--set seed=1' train.sub");
  EXPECT_NE(ad.find("-o run-seed1 --set train.checkpoint_every_minutes=30 --set train.exit_after_checkpoint=true "
                    "--set seed=1\""),
            std::string::npos)
      << ad;
  EXPECT_NE(ad.find("TransferCheckpoint=\"run-seed1\""), std::string::npos) << ad;
  ad = dryRun("st", "-a 'name=seed1' -a 'inputs=run-seed1' -a 'checkpoint=run-seed1/best.pt' score.sub");
  EXPECT_NE(ad.find("RequestGPUs=1"), std::string::npos) << ad;
  EXPECT_NE(ad.find("--device cuda"), std::string::npos) << ad;
  ad = dryRun("st", "final.sub");
  EXPECT_EQ(ad.find("RequestGPUs"), std::string::npos) << "the final node needs no GPU\n" << ad;
}
