// Runs the tautrain executable as a user would and checks exit codes and messages.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <torch/cuda.h>

#include "support/RunTautrain.hpp"
#include "support/TestData.hpp"
#include "tautrain/train/Checkpoint.hpp"

using tautrain::test::expectFailure;
using tautrain::test::runTautrain;

TEST(Cli, VersionAndHelp) {
  const auto version = runTautrain("--version");
  EXPECT_EQ(version.code, 0);
  EXPECT_NE(version.output.find("tautrain"), std::string::npos);
  for (const char* command :
       {"generate", "inspect", "fit-scaler", "bench loader", "bench train", "quickstart", "config", "train",
        "model-summary", "evaluate", "roc", "ensemble", "patience", "fit power-law", "fit data-scaling",
        "bench roc"})
    EXPECT_EQ(runTautrain(std::string(command) + " --help").code, 0) << command;
}

TEST(Cli, GenerateWritesShardsConfigAndLogThenInspectReadsThem) {
  tautrain::test::TempDir dir;
  const auto out = dir.file("gen");
  const auto r = runTautrain("generate -o " + out + " -n 3000 --shard-size 1000 -j 2 --set generator.seed=5");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* file : {"shard-00000.h5", "shard-00002.h5", "generator.yaml", "tautrain.log"})
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(out) / file)) << file;
  std::ifstream config(std::filesystem::path(out) / "generator.yaml");
  const std::string text((std::istreambuf_iterator<char>(config)), {});
  EXPECT_NE(text.find("seed: 5"), std::string::npos) << text;
  const auto inspect = runTautrain("inspect " + out + " --json " + dir.file("stats.json"));
  EXPECT_EQ(inspect.code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("candidates: 3000"), std::string::npos) << inspect.output;
  EXPECT_TRUE(std::filesystem::exists(dir.file("stats.json")));
}

TEST(Cli, ConvertRoundTripsShardsThroughTfRecordAndRefusesBadInput) {
  tautrain::test::TempDir dir;
  ASSERT_EQ(runTautrain("generate -o " + dir.file("h5") + " -n 600 --shard-size 300").code, 0);
  const auto there = runTautrain("convert --from hdf5 --to tfrecord " + dir.file("h5") + " -o " + dir.file("tfr") +
                                 " --set data.tfrecord.candidates_per_record=7");
  ASSERT_EQ(there.code, 0) << there.output;
  EXPECT_NE(there.output.find("2 files: 86 records, 600 candidates"), std::string::npos) << there.output;
  const auto back = runTautrain("convert --from tfrecord --to hdf5 " + dir.file("tfr") + " -o " + dir.file("back"));
  ASSERT_EQ(back.code, 0) << back.output;
  const auto original = runTautrain("inspect " + dir.file("h5")), converted = runTautrain("inspect " + dir.file("back"));
  EXPECT_EQ(converted.code, 0) << converted.output;
  EXPECT_EQ(converted.output, original.output);

  expectFailure(runTautrain("convert --from tfrecord --to hdf5 " + dir.file("tfr") + " -o " + dir.file("back")), 3,
                {"shard-00000.h5", "--force"});
  expectFailure(runTautrain("convert --from tfrecord --to tfrecord " + dir.file("tfr") + " -o " + dir.file("x")), 2,
                {"--to"});
  std::ofstream(dir.file("junk.tfrecord")) << "not a tfrecord at all";
  expectFailure(runTautrain("convert --from tfrecord --to hdf5 " + dir.file("junk.tfrecord") + " -o " + dir.file("j")), 3,
                {"junk.tfrecord: record 0", "CRC"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("j/junk.h5")));
}

TEST(Cli, BadConfigKeyTypeAndValueExitWithTwoAndNameTheKey) {
  tautrain::test::TempDir dir;
  std::ofstream(dir.file("bad.yaml")) << "generator:\n  candidats: 10\n";
  expectFailure(runTautrain("generate -c " + dir.file("bad.yaml")), 2, {"generator.candidats", "bad.yaml:2"});
  expectFailure(runTautrain("generate --set generator.candidates=many"), 2, {"generator.candidates", "integer"});
  expectFailure(runTautrain("generate --set generator.eta_max=-1"), 2, {"generator.eta_max"});
  expectFailure(runTautrain("--log-level chatty config"), 2, {"chatty"});
  expectFailure(runTautrain("no-such-command"), 2, {});
  if (!torch::cuda::is_available())  // a CPU build or machine refuses CUDA, naming the key
    expectFailure(runTautrain("train --device cuda -o " + dir.file("run")), 2, {"train.device", "no CUDA"});
}

TEST(Cli, BadDataExitsWithThreeAndNamesTheFile) {
  tautrain::test::TempDir dir;
  expectFailure(runTautrain("inspect /nonexistent/data.h5"), 3, {"/nonexistent/data.h5"});
  std::ofstream(dir.file("junk.h5")) << "junk";
  expectFailure(runTautrain("inspect " + dir.file("junk.h5")), 3, {"junk.h5", "not an HDF5 file"});
}

TEST(Cli, ConfigDumpShowsOverrides) {
  const auto r = runTautrain("config --set data.batch_size=77");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("batch_size: 77"), std::string::npos) << r.output;
}

TEST(Cli, QuickstartYamlSpellsOutTheQuickstartDefaults) {
  const auto builtIn = runTautrain("quickstart --dump-config");
  const auto fromFile = runTautrain(std::string("config -c ") + TAUTRAIN_SOURCE_DIR + "/configs/quickstart.yaml");
  ASSERT_EQ(builtIn.code, 0) << builtIn.output;
  ASSERT_EQ(fromFile.code, 0) << fromFile.output;
  EXPECT_EQ(builtIn.output, fromFile.output);
}

TEST(Cli, ModelSummaryCountsTheThesisModel) {
  const auto r = runTautrain("model-summary");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("total\t458776"), std::string::npos) << r.output;
}

TEST(Cli, SigtermCheckpointsAndExitsWithTheCheckpointCodeThenResumeContinues) {
  tautrain::test::TempDir dir;
  ASSERT_EQ(runTautrain("generate -o " + dir.file("data") + " -n 4000 --shard-size 1000").code, 0);
  const std::string run = dir.file("run");
  const std::string model =
      " --set model.d_model=8 --set model.heads=2 --set model.layers=1 --set model.embed_hidden=16"
      " --set model.d_ff=16 --set model.decoder_hidden1=16 --set model.decoder_hidden2=8";
  // Would train for hours; timeout sends SIGTERM after 6 s and passes the exit code through.
  // --foreground: otherwise timeout signals its process group as well, and a second SIGTERM
  // arriving after the first was handled means "stop now" (exit 143), not a checkpoint.
  const auto stopped = runTautrain("train -o " + run + " --set data.files=[" + dir.file("data") +
                                   "] --set data.batch_size=50 --set train.max_epochs=1000 --set train.checkpoint_exit_code=77" +
                                   model,
                                   "timeout --foreground --preserve-status -s TERM 6 ");
  EXPECT_EQ(stopped.code, 77) << stopped.output;
  EXPECT_NE(stopped.output.find("tautrain train --resume " + run), std::string::npos) << stopped.output;
  const auto before = tautrain::train::readCheckpointState(run + "/last.pt");
  EXPECT_GT(before.global_step, 0);

  const auto resumed = runTautrain("train --resume " + run + " --set train.stop_after_steps=3");
  EXPECT_EQ(resumed.code, 77) << resumed.output;
  EXPECT_EQ(tautrain::train::readCheckpointState(run + "/last.pt").global_step, before.global_step + 3);
  expectFailure(runTautrain("train --resume " + run + " -c " + std::string(TAUTRAIN_SOURCE_DIR) + "/configs/data.yaml"), 2,
                {"--resume", "--set"});
}

const std::string kTinyBench =
    "bench train --synthetic 800 --steps 2 --warmup 1 --rounds 1 --set data.batch_size=50 --set model.d_model=8"
    " --set model.heads=2 --set model.layers=1 --set train.torch_threads=1";

TEST(Cli, BenchTrainComparesBatchingAndLayoutsInOneRun) {
  tautrain::test::TempDir dir;
  const auto r = runTautrain(kTinyBench + " --json " + dir.file("bench.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream file(dir.file("bench.json"));
  const auto json = nlohmann::json::parse(file);
  ASSERT_EQ(json["rows"].size(), 4u);
  // The program runs on the allocator it links (src/core/Allocator.hpp).
#ifdef TAUTRAIN_WITH_JEMALLOC
  EXPECT_EQ(json["allocator"].get<std::string>().rfind("jemalloc ", 0), 0u) << json["allocator"];
#else
  EXPECT_EQ(json["allocator"], "glibc");
#endif
  EXPECT_GT(json["peak"]["matmul_flops_per_s"].get<double>(), 0);
  EXPECT_GT(json["peak"]["copy_bytes_per_s"].get<double>(), 0);
  for (const auto& row : json["rows"]) {
    EXPECT_GT(row["train_candidates_per_s"].get<double>(), 0) << row;
    EXPECT_GT(row["infer_candidates_per_s"].get<double>(), 0) << row;
    EXPECT_DOUBLE_EQ(row["train_flops_per_candidate"].get<double>(), 3 * row["infer_flops_per_candidate"].get<double>())
        << row;
    // Nothing runs faster than the physical floor.
    EXPECT_LT(row["train_candidates_per_s"].get<double>(), row["train_floor_candidates_per_s"].get<double>()) << row;
    EXPECT_LT(row["infer_candidates_per_s"].get<double>(), row["infer_floor_candidates_per_s"].get<double>()) << row;
    // Measured on the CPU by counting the allocations of a first step; the cost model predicts it.
    const auto measured = row["train_peak_memory_bytes"].get<double>();
    EXPECT_NEAR(row["train_memory_estimate_bytes"].get<double>() / measured, 1.0, 0.3) << row;
    EXPECT_GT(row["train_operators_per_step"].get<std::int64_t>(), row["infer_operators_per_step"].get<std::int64_t>());
    EXPECT_GT(row["infer_operators_per_step"].get<std::int64_t>(), 0);
  }
  EXPECT_EQ(json["rows"][0]["batching"], "smart");
  EXPECT_EQ(json["rows"][3]["batching"], "random");
  EXPECT_GT(json["rows"][0]["padding_efficiency"].get<double>(), json["rows"][3]["padding_efficiency"].get<double>());
}

TEST(Cli, BenchAllReduceTimesTheGroupsStartOnOneRankAndOnTwo) {
  tautrain::test::TempDir dir;
  for (const int ranks : {1, 2}) {
    const auto json = dir.file("allreduce-" + std::to_string(ranks) + ".json");
    const auto r = runTautrain("bench allreduce --ranks " + std::to_string(ranks) + " --iterations 2 --json " + json);
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("start: joining the group"), std::string::npos) << r.output;
    std::ifstream file(json);
    const auto figures = nlohmann::json::parse(file);
    EXPECT_EQ(figures["ranks"].get<int>(), ranks);
    EXPECT_EQ(figures["backend"], "gloo");
    EXPECT_GT(figures["join_seconds"].get<double>(), 0);
    EXPECT_GT(figures["first_all_reduce_seconds"].get<double>(), 0);
    ASSERT_EQ(figures["rows"].size(), 6u);
    EXPECT_EQ(figures["rows"][0]["buffer"], "model gradients");
    for (const auto& row : figures["rows"]) {
      EXPECT_GT(row["seconds"].get<double>(), 0) << row;
      // One rank sends nothing over the bus; two send 2 (N - 1) / N = 1 of the buffer.
      if (ranks == 1) EXPECT_EQ(row["bus_gbps"].get<double>(), 0) << row;
      else EXPECT_DOUBLE_EQ(row["bus_gbps"].get<double>(), row["algorithm_gbps"].get<double>()) << row;
    }
  }
  expectFailure(runTautrain("bench allreduce --ranks 0"), 2, {"--ranks", "at least 1"});
}

/// A Python interpreter that has torch, or "" (cmake/setup.sh installs Debian's python3-torch).
std::string pythonWithTorch() {
  for (const std::string python : {"python3", "/usr/bin/python3"})
    if (std::system((python + " -c 'import torch' > /dev/null 2>&1").c_str()) == 0) return python;
  return "";
}

TEST(Cli, BenchTrainTimesThePytorchBaselineOnTheSameCandidates) {
  const auto python = pythonWithTorch();
  if (python.empty()) GTEST_SKIP() << "no Python with torch (Debian: python3-torch)";
  tautrain::test::TempDir dir;
  const auto r = runTautrain(kTinyBench + " --pytorch-baseline " + std::string(TAUTRAIN_SOURCE_DIR) +
                             "/bench/pytorch_baseline.py --python " + python + " --json " + dir.file("bench.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream file(dir.file("bench.json"));
  const auto json = nlohmann::json::parse(file);
  const auto& baseline = json["pytorch_baseline"];
  EXPECT_EQ(baseline["parameters"], json["parameters"]) << "the baseline is the same architecture";
  EXPECT_GT(baseline["train_candidates_per_s"].get<double>(), 0);
  EXPECT_GT(baseline["train_ratio"].get<double>(), 0);
  // One global token per candidate; ragged collections padded to multiples of 8.
  const auto lengths = baseline["fixed_length"].get<std::vector<int>>();
  ASSERT_EQ(lengths.size(), 4u);
  EXPECT_EQ(lengths[0], 1);
  for (std::size_t c = 1; c < lengths.size(); ++c) EXPECT_EQ(lengths[c] % 8, 0) << c;
  EXPECT_LT(baseline["padding_efficiency"].get<double>(), json["rows"][0]["padding_efficiency"].get<double>());
  EXPECT_NE(r.output.find("over the baseline: training"), std::string::npos) << r.output;
}

TEST(Cli, BenchTrainRefusesABaselineOfAnotherArchitectureOrThatCannotRun) {
  tautrain::test::TempDir dir;
  std::ofstream(dir.file("other.py")) << "print('{\"parameters\": 12, \"train_candidates_per_s\": 1}')\n";
  expectFailure(runTautrain(kTinyBench + " --pytorch-baseline " + dir.file("other.py")), 2,
                {"--pytorch-baseline", "12 parameters", "not the same architecture"});
  std::ofstream(dir.file("fails.py")) << "import sys\nsys.exit('no torch here')\n";
  expectFailure(runTautrain(kTinyBench + " --pytorch-baseline " + dir.file("fails.py")), 2,
                {"fails.py' failed with exit code 1", "no torch here"});
  expectFailure(runTautrain(kTinyBench + " --pytorch-baseline " + dir.file("fails.py") + " --python no-such-python"), 2,
                {"could not start 'no-such-python'"});
}

TEST(Cli, EvaluateScoresCheckpointsOnceThenRocReadsTheScoreFiles) {
  tautrain::test::TempDir dir;
  ASSERT_EQ(runTautrain("generate -o " + dir.file("data") + " -n 1600 --shard-size 400").code, 0);
  ASSERT_EQ(runTautrain("generate -o " + dir.file("test") + " -n 800 --shard-size 400 --set generator.seed=2").code, 0);
  const auto train = runTautrain("train -o " + dir.file("run") + " --set data.files=[" + dir.file("data") +
                                 "] --set data.batch_size=100 --set train.max_epochs=2 --set model.d_model=8"
                                 " --set model.heads=2 --set model.layers=1");
  ASSERT_EQ(train.code, 0) << train.output;
  std::ofstream(dir.file("list.txt")) << "# checkpoints\n" << dir.file("run") << "/checkpoints/epoch-001.pt\n";
  const std::string evaluate = "evaluate --checkpoints " + dir.file("run") + "/best.pt @" + dir.file("list.txt") +
                               " --data " + dir.file("test") + " -o " + dir.file("eval") + " --no-plots";
  const auto first = runTautrain(evaluate);
  ASSERT_EQ(first.code, 0) << first.output;
  // The progress line knows how many batches there are (it once said "1/0 batches (100.0%)").
  EXPECT_EQ(first.output.find("/0 batches"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("batches (100.0%)"), std::string::npos) << first.output;
  for (const char* file : {"scores/run-best.h5", "scores/run-epoch-001.h5", "evaluation.md", "wp.csv", "knee.csv",
                           "roc.csv", "evaluation.json", "run-best/wp.csv", "run-epoch-001/evaluation.md"})
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir.file("eval")) / file)) << file;
  const auto again = runTautrain(evaluate);
  EXPECT_NE(again.output.find("reusing"), std::string::npos) << again.output;

  const auto roc = runTautrain("roc --scores " + dir.file("eval") + "/scores -o " + dir.file("roc") +
                               " --no-plots --set eval.pt_max=60");
  ASSERT_EQ(roc.code, 0) << roc.output;
  std::ifstream md(dir.file("roc") + "/evaluation.md");
  const std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("| D_jet | Medium | 0.7 |"), std::string::npos) << text;
  EXPECT_NE(text.find("run-epoch-001"), std::string::npos) << text;

  // Working points fixed on the test scores, applied to the training data's scores of the best model.
  const auto derived = runTautrain("wp derive --scores " + dir.file("eval") + "/scores/run-best.h5 -o " +
                                   dir.file("thr/thresholds.json"));
  ASSERT_EQ(derived.code, 0) << derived.output;
  const auto scoredAgain = runTautrain("evaluate --checkpoints " + dir.file("run") + "/best.pt --data " +
                                       dir.file("data") + " -o " + dir.file("fixed") + " --no-plots --thresholds " +
                                       dir.file("thr/thresholds.json"));
  ASSERT_EQ(scoredAgain.code, 0) << scoredAgain.output;
  std::ifstream fixedCsv(dir.file("fixed") + "/wp-fixed.csv");
  std::string header, row;
  std::getline(fixedCsv, header);
  std::getline(fixedCsv, row);
  EXPECT_EQ(header, "model,selection,discriminant,wp,threshold,tpr,tpr_low,tpr_high,fpr,fpr_low,fpr_high,signal,background");
  EXPECT_EQ(row.rfind("run-best,window,D_e,", 0), 0u) << row;
  EXPECT_TRUE(std::filesystem::exists(dir.file("fixed") + "/efficiency.csv"));
  // Thresholds of another model are refused, naming it.
  expectFailure(runTautrain("roc --scores " + dir.file("eval") + "/scores -o " + dir.file("roc4") + " --no-plots "
                            "--thresholds " + dir.file("thr/thresholds.json")),
                2, {"--thresholds", "'run-epoch-001'", "run-best"});

  std::ofstream(dir.file("junk.h5")) << "junk";
  expectFailure(runTautrain("roc --scores " + dir.file("junk.h5") + " -o " + dir.file("roc2")), 3, {"junk.h5"});
  // An unknown reference model fails before any table is written, and lists the models.
  expectFailure(runTautrain("roc --scores " + dir.file("eval") + "/scores -o " + dir.file("roc3") + " --reference nope"),
                2, {"--reference", "no model named 'nope'", "the models are"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("roc3/evaluation.md")));
  expectFailure(runTautrain("patience --run " + dir.path().string() + " --data " + dir.file("test") + " -o " +
                            dir.file("p")),
                3, {"history.json"});
  expectFailure(runTautrain("evaluate --checkpoints " + dir.file("nope.pt") + " --data " + dir.file("test") + " -o " +
                            dir.file("e2")),
                3, {"nope.pt"});
}

TEST(Cli, FitPowerLawPrintsOneRowPerSeries) {
  tautrain::test::TempDir dir;
  std::ofstream(dir.file("points.csv")) << "n,a,b\n1000,0.30,0.2\n2000,0.21,0.13\n4000,0.15,0.09\n8000,0.11,0.07\n";
  const auto r = runTautrain("fit power-law --input " + dir.file("points.csv"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("series,A,A_err,alpha,alpha_err,c,c_err,chi2,ndf,weighted\na,"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\nb,"), std::string::npos) << r.output;
  std::ofstream(dir.file("bad.csv")) << "x,a\n1,2\n";
  expectFailure(runTautrain("fit power-law --input " + dir.file("bad.csv")), 3, {"bad.csv:1"});
}
