// HTCondor: the job environment, the files `tautrain condor` writes, and an eviction loop that
// does what HTCondor does with a self-checkpointing job.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "support/RunTautrain.hpp"
#include "support/Checkpoints.hpp"
#include "support/TestData.hpp"
#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/dist/RankInfo.hpp"
#include "tautrain/jobs/Condor.hpp"
#include "tautrain/jobs/Submit.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/Checkpoint.hpp"

using namespace tautrain;
namespace fs = std::filesystem;

namespace {

/// The `command = value` lines of a submit file, and its queue statement under "queue".
std::map<std::string, std::string> submitCommands(const fs::path& path) {
  std::map<std::string, std::string> commands;
  std::istringstream in(test::readFile(path));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) commands["queue"] = line;
    else commands[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return commands;
}


void copyTree(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::create_directories(to.parent_path());
  if (fs::exists(from)) fs::copy(from, to, fs::copy_options::recursive);
}

}  // namespace

TEST(CondorJob, ReadsVisibleDevicesInEveryFormAndTheJobAd) {
  EXPECT_EQ(dist::visibleDevices("0,2"), (std::vector<std::string>{"0", "2"}));
  EXPECT_EQ(dist::visibleDevices("GPU-8f1c2d3e-aaaa-bbbb-cccc-111122223333, GPU-0bd5"),
            (std::vector<std::string>{"GPU-8f1c2d3e-aaaa-bbbb-cccc-111122223333", "GPU-0bd5"}));
  EXPECT_EQ(dist::visibleDevices("MIG-GPU-8f1c2d3e/1/0"), std::vector<std::string>{"MIG-GPU-8f1c2d3e/1/0"});
  EXPECT_EQ(dist::visibleDevices("MIG-4f9e1a2b-1111-2222-3333-444455556666").size(), 1u);
  EXPECT_EQ(dist::visibleDevices("0,-1,2"), std::vector<std::string>{"0"}) << "CUDA stops at an invalid entry";
  EXPECT_TRUE(dist::visibleDevices("").empty());

  jobs::CondorJob job;
  job.ad = jobs::parseJobAd("ClusterId = 4711\nProcId = 3\nOwner = \"tau\"\nRequestGPUs = 2\n");
  EXPECT_EQ(job.id(), "4711.3");
  EXPECT_EQ(job.ad.at("Owner"), "tau");
  EXPECT_EQ(job.ad.at("RequestGPUs"), "2");
}

TEST(CondorJob, ArgumentsAreQuotedTheHtcondorWay) {
  EXPECT_EQ(jobs::condorArguments({"train", "-o", "my run"}), "\"train -o 'my run'\"");
  EXPECT_THROW(jobs::condorArguments({"it's"}), ConfigError);
}

TEST(CondorJob, GpuMemoryEstimateGrowsWithWhatTheConfigAsksFor) {
  config::RunConfig config;
  config.model.attention = model::Attention::kFused;
  const auto base = jobs::estimateGpuMemoryMb(config, 458776, 256);
  EXPECT_GE(base, 1024);
  EXPECT_LE(base, 16384) << "the thesis model fits a small GPU share";
  EXPECT_EQ(base % 256, 0);
  auto bigger = config;
  bigger.data.batch_size *= 4;
  EXPECT_GT(jobs::estimateGpuMemoryMb(bigger, 458776, 256), base);
  auto reference = config;
  reference.model.attention = model::Attention::kReference;
  // Short candidates: the reference attention keeps every block's [heads, L, L] probabilities.
  EXPECT_GT(jobs::estimateGpuMemoryMb(reference, 458776, 64), jobs::estimateGpuMemoryMb(config, 458776, 64));
  // Long ones: past 64 MiB a block holds one chunk of heads at a time, about what fused needs.
  EXPECT_LE(jobs::estimateGpuMemoryMb(reference, 458776, 256) - base, 256);
  auto bf16 = config;
  bf16.train.precision = train::Precision::kBf16;
  EXPECT_LT(jobs::estimateGpuMemoryMb(bf16, 458776, 256), base);
}

TEST(CondorJob, AnAttentionBudgetBoundsTheGpuMemoryEstimateWhateverTheLongestCandidate) {
  config::RunConfig config;
  config.model.attention = model::Attention::kReference;  // the path whose memory grows with L²
  const auto at256 = jobs::estimateGpuMemoryMb(config, 458776, 256);
  EXPECT_GT(jobs::estimateGpuMemoryMb(config, 458776, 2048), 4 * at256) << "without a budget the tail decides";
  config.data.attention_budget = 350LL * 256 * 256;
  EXPECT_EQ(jobs::estimateGpuMemoryMb(config, 458776, 256), at256) << "the budget allows every batch up to 256";
  EXPECT_LE(jobs::estimateGpuMemoryMb(config, 458776, 2048), at256 + 256);
  // data.hard_token_limit: a candidate alone over the budget is a batch of one.
  EXPECT_LE(jobs::estimateGpuMemoryMb(config, 458776, 4096), at256 + 256);
}

TEST(CondorFiles, TrainingJobsAskForThePredictedHostMemoryOfTheirRanks) {
  test::TempDir dir;
  ASSERT_EQ(test::runTautrain("generate -o " + dir.file("data") + " -n 2000 --shard-size 500 --seed 3").code, 0);
  const std::string data = " --set data.files=[" + dir.file("data") + "]";
  const auto gb = [&](const std::string& name, const std::string& options) {
    const auto r = test::runTautrain("condor train -o " + dir.file(name) + data + " " + options);
    EXPECT_EQ(r.code, 0) << r.output;
    const auto text = test::readFile(dir.file(name + "/train.sub"));
    const bool given = options.find("--memory-gb") != std::string::npos;
    EXPECT_EQ(text.find("# request_memory = predicted peak") == std::string::npos, given) << text;
    const auto request = submitCommands(dir.file(name + "/train.sub"))["request_memory"];
    EXPECT_EQ(request.substr(request.size() - 3), " GB");
    return std::stod(request);
  };
  const double gpu = gb("gpu", "--gpus 1"), cpu = gb("cpu", "--gpus 0"), four = gb("four", "--gpus 4");
  EXPECT_GE(gpu, 2) << "the CUDA runtime";
  EXPECT_LE(gpu, 4);
  EXPECT_GE(cpu, 1) << "the thesis model's activations of a batch of 350 on the host";
  EXPECT_NE(cpu, gpu);
  EXPECT_GE(four, 4 * gpu - 2) << "four ranks in one job";
  EXPECT_EQ(gb("given", "--gpus 1 --memory-gb 7"), 7);
}

TEST(CondorFiles, TrainingJobsCheckpointTransferAndAskForTheirGpus) {
  test::TempDir dir;
  const auto single = test::runTautrain("condor train -o " + dir.file("one") +
                                        " --set data.files=[relative/shards] --set train.checkpoint_exit_code=77 "
                                        "--min-gpu-memory-gb 16 --min-capability 8.0 --gpu-memory-attribute "
                                        "RequestGPUMemoryMB --checkpoint-minutes 20 --cpus 6");
  ASSERT_EQ(single.code, 0) << single.output;
  auto sub = submitCommands(dir.file("one/train.sub"));
  EXPECT_EQ(sub["universe"], "vanilla");
  EXPECT_EQ(sub["arguments"],
            "\"train --auto-resume -c run.yaml -o run --set train.checkpoint_every_minutes=20 --set "
            "train.exit_after_checkpoint=true\"");
  EXPECT_EQ(sub["request_GPUs"], "1");
  EXPECT_EQ(sub["request_cpus"], "6");
  EXPECT_EQ(sub["gpus_minimum_memory"], "16384");
  EXPECT_EQ(sub["gpus_minimum_capability"], "8.0");
  EXPECT_EQ(sub["checkpoint_exit_code"], "77");
  EXPECT_EQ(sub["transfer_checkpoint_files"], "run");
  EXPECT_EQ(sub["transfer_output_files"], "run");
  EXPECT_EQ(sub["transfer_input_files"], "run.yaml");
  EXPECT_EQ(sub["when_to_transfer_output"], "ON_EXIT");
  EXPECT_GT(std::stoi(sub["MY.RequestGPUMemoryMB"]), 0);
  // The data exists only where the jobs run: request_memory cannot be predicted, and says so.
  EXPECT_EQ(sub["request_memory"], "16 GB");
  EXPECT_NE(test::readFile(dir.file("one/train.sub")).find("# request_memory = not predicted, the data cannot be read here"),
            std::string::npos);
  EXPECT_EQ(sub["queue"], "queue");
  EXPECT_TRUE(fs::is_directory(dir.file("one/logs"))) << "HTCondor does not create the log directory";
  // run.yaml is a complete config whose input paths no longer depend on the job's directory.
  const auto config = config::loadRunConfig({dir.file("one/run.yaml")}, {});
  EXPECT_EQ(config.data.files, std::vector<std::string>{fs::absolute("relative/shards").lexically_normal().string()});
  EXPECT_EQ(config.train.checkpoint_exit_code, 77);
  EXPECT_EQ(config.train.device, "cuda") << "the job's GPU is the one HTCondor makes visible";

  ASSERT_EQ(test::runTautrain("condor train -o " + dir.file("four") + " --gpus 4").code, 0);
  sub = submitCommands(dir.file("four/train.sub"));
  EXPECT_EQ(sub["request_GPUs"], "4");
  EXPECT_EQ(sub["arguments"].rfind("\"launch --nproc-per-node 4 --master-port 0 -- train --auto-resume", 0), 0u)
      << sub["arguments"];
  EXPECT_EQ(sub.count("gpus_minimum_memory"), 0u);

  // CPU-only jobs: no GPU asked for, none used, no GPU memory figure.
  ASSERT_EQ(test::runTautrain("condor train -o " + dir.file("cpu") + " --gpus 0").code, 0);
  sub = submitCommands(dir.file("cpu/train.sub"));
  EXPECT_EQ(sub.count("request_GPUs"), 0u);
  EXPECT_EQ(sub["arguments"].rfind("\"train --auto-resume", 0), 0u) << sub["arguments"];
  EXPECT_EQ(test::readFile(dir.file("cpu/train.sub")).find("GPU memory"), std::string::npos);
  EXPECT_EQ(config::loadRunConfig({dir.file("cpu/run.yaml")}, {}).train.device, "cpu");
  expectFailure(test::runTautrain("condor train -o " + dir.file("neg") + " --gpus -1"), 2, {"--gpus"});
}

TEST(CondorFiles, EvaluationDagScoresEachCheckpointThenMerges) {
  test::TempDir dir;
  {
    const model::TauTransformer model(data::FeatureSchema::builtin(), config::RunConfig{}.model);
    torch::optim::Adam optimizer(model->parameters());
    fs::create_directories(dir.file("runs"));
    for (const char* name : {"runs/a.pt", "runs/b.pt", "runs/c.pt", "x/best.pt", "y/x/best.pt"}) {
      fs::create_directories(fs::path(dir.file(name)).parent_path());
      train::saveCheckpoint({dir.file(name)}, *model, optimizer, train::TrainingState{}, torch::kCPU);
    }
  }
  std::ofstream(dir.file("junk.pt")) << "x";
  expectFailure(test::runTautrain("condor evaluate --checkpoints " + dir.file("junk.pt") + " --data /data/test -o " +
                                  dir.file("bad")),
                3, {"junk.pt", "not a readable tautrain checkpoint"});
  std::filesystem::remove(dir.file("junk.pt"));
  // The models are named as `tautrain evaluate` names them; a name two checkpoints share is refused.
  expectFailure(test::runTautrain("condor evaluate --checkpoints " + dir.file("x/best.pt") + " " +
                                  dir.file("y/x/best.pt") + " --data /data/test -o " + dir.file("same")),
                2, {"x/best.pt", "y/x/best.pt", "x-best"});
  const auto r = test::runTautrain("condor evaluate --checkpoints " + dir.file("runs/*.pt") + " --data /data/test -o " +
                                   dir.file("ev"));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto dag = test::readFile(dir.file("ev/evaluate.dag"));
  EXPECT_NE(dag.find("JOB score0 score.sub\nVARS score0 name=\"runs-a\" inputs=\"" + dir.file("runs/a.pt") +
                     "\" checkpoint=\"a.pt\""),
            std::string::npos)
      << dag;
  EXPECT_NE(dag.find("PARENT score0 score1 score2 CHILD merge"), std::string::npos) << dag;
  auto score = submitCommands(dir.file("ev/score.sub"));
  EXPECT_EQ(score["arguments"],
            "\"evaluate --checkpoints $(checkpoint) --name $(name) --device cuda --data /data/test -o eval-$(name)\"");
  EXPECT_EQ(score["transfer_input_files"], "$(inputs)");
  EXPECT_EQ(score["request_GPUs"], "1");
  auto merge = submitCommands(dir.file("ev/merge.sub"));
  EXPECT_EQ(merge["arguments"], "\"roc --scores eval-runs-a/scores eval-runs-b/scores eval-runs-c/scores -o merged\"");
  EXPECT_EQ(merge["transfer_input_files"], "eval-runs-a,eval-runs-b,eval-runs-c");
  EXPECT_EQ(merge.count("request_GPUs"), 0u) << "the merge needs no GPU";
}

TEST(CondorFiles, StudyDagsTrainEvaluateAndFit) {
  test::TempDir dir;
  const auto r = test::runTautrain("condor study seeds --seeds 3 --test /data/test -o " + dir.file("seeds"));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto dag = test::readFile(dir.file("seeds/study.dag"));
  for (int s = 1; s <= 3; ++s) {
    const auto seed = std::to_string(s);
    EXPECT_NE(dag.find("VARS train_seed" + seed + " run=\"run-seed" + seed + "\" settings=\"--set seed=" + seed + "\""),
              std::string::npos)
        << dag;
    EXPECT_NE(dag.find("PARENT train_seed" + seed + " CHILD score_seed" + seed), std::string::npos) << dag;
  }
  EXPECT_NE(dag.find("PARENT score_seed1 score_seed2 score_seed3 CHILD final"), std::string::npos) << dag;
  EXPECT_EQ(submitCommands(dir.file("seeds/final.sub"))["arguments"],
            "\"ensemble --scores eval-seed1/scores eval-seed2/scores eval-seed3/scores -o study\"");
  EXPECT_NE(submitCommands(dir.file("seeds/train.sub"))["arguments"].find("-o $(run)"), std::string::npos);
  EXPECT_NE(submitCommands(dir.file("seeds/train.sub"))["arguments"].find(" $(settings)\""), std::string::npos);

  ASSERT_EQ(test::runTautrain("condor study patience --test /data/test -o " + dir.file("pat")).code, 0);
  EXPECT_EQ(submitCommands(dir.file("pat/final.sub"))["arguments"],
            "\"patience --run run-patience --data /data/test -o study\"");
  EXPECT_NE(test::readFile(dir.file("pat/study.dag")).find("PARENT train_patience CHILD final"), std::string::npos);
  expectFailure(test::runTautrain("condor study nonsense --test /data/test -o " + dir.file("x")), 2, {"nonsense"});
}

TEST(CondorEviction, EvictedAtRandomMomentsTheJobEndsAsAnUninterruptedRunAndLosesAtMostOneInterval) {
  test::TempDir dir;
  ASSERT_EQ(test::runTautrain("generate -o " + dir.file("data") + " -n 1200 --shard-size 300").code, 0);
  const auto settings = test::tinyRunSettings(dir.file("data")) + " --set train.max_epochs=3 --set train.log_every=1";
  ASSERT_EQ(test::runTautrain("train -o " + dir.file("straight") + " " + settings).code, 0);

  // HTCondor's part: the spool keeps what the job left at its last checkpoint exit; every start
  // gets a fresh scratch directory with the spool's files; an eviction loses the scratch.
  constexpr int kInterval = 4;
  const fs::path spool = dir.file("spool"), scratch = dir.file("scratch");
  std::mt19937 rng(11);
  int evictions = 0, checkpointExits = 0;
  for (int start = 0; start < 40; ++start) {
    copyTree(spool / "run", scratch / "run");
    std::vector<std::string> arguments{"train", "--auto-resume", "-o", (scratch / "run").string(), "--set",
                                       "train.checkpoint_every_steps=" + std::to_string(kInterval), "--set",
                                       "train.exit_after_checkpoint=true", "--set", "train.checkpoint_exit_code=85"};
    for (const auto& word : test::words(settings)) arguments.push_back(word);
    test::Spawned job(arguments, dir.file("job-" + std::to_string(start) + ".log"));
    // Every other start is evicted at a random moment, mostly while it trains. Whatever the
    // process made of the signal (a checkpoint exit, or 143 when it came as the process ended
    // anyway), an eviction loses the scratch.
    int code = -1;
    if (start % 2 == 1) {
      ASSERT_TRUE(job.waitForOutput(" loss ", 120)) << job.output();
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 100)(rng)));
      job.signal(SIGTERM);
      code = job.wait(120);
      if (code != 0) {
        ASSERT_TRUE(code == 85 || code == 128 + SIGTERM) << "exit code " << code << "\n" << job.output();
        ++evictions;
        if (code == 85) {
          // The evicted process's own checkpoint stays in scratch and is lost; the spool's is kept.
          const auto reached = train::readCheckpointState((scratch / "run" / "last.pt").string()).global_step;
          const auto kept = fs::exists(spool / "run" / "last.pt")
                                ? train::readCheckpointState((spool / "run" / "last.pt").string()).global_step
                                : 0;
          EXPECT_LE(reached - kept, kInterval) << "work lost at eviction " << evictions;
        }
        continue;
      }
    } else {
      code = job.wait(120);
    }
    if (code == 85) {
      ++checkpointExits;
      copyTree(scratch / "run", spool / "run");
      continue;
    }
    ASSERT_EQ(code, 0) << job.output();
    copyTree(scratch / "run", spool / "run");
    break;
  }
  EXPECT_GE(evictions, 3);
  EXPECT_GE(checkpointExits, 5);
  const auto a = test::parametersOf(dir.file("straight/last.pt")), b = test::parametersOf((spool / "run" / "last.pt").string());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
}

TEST(CondorFiles, AStudyIsComposedWithoutWritingAnything) {
  config::RunConfig config;
  jobs::JobResources resources;
  resources.gpus = 0;
  jobs::StudySpec spec;
  spec.kind = jobs::StudyKind::kPatience;
  spec.test = {"/data/test"};
  const auto files = jobs::studyDagFiles(config, spec, resources);
  std::vector<std::string> names;
  for (const auto& file : files) names.push_back(file.name);
  EXPECT_EQ(names, (std::vector<std::string>{"run.yaml", "train.sub", "final.sub", "study.dag"}))
      << "patience scores inside its final node";
  EXPECT_NE(files.back().text.find("PARENT train_patience CHILD final"), std::string::npos) << files.back().text;
  EXPECT_EQ(config::parseRunConfig(files[0].text, "run.yaml").train.device, "cpu") << "CPU jobs train on the CPU";
}
