#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/RunTautrain.hpp"
#include "support/TestData.hpp"
#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/data/Shard.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"
#include "tautrain/deploy/Export.hpp"
#include "tautrain/deploy/Parity.hpp"
#include "tautrain/deploy/Runtime.hpp"
#include "tautrain/eval/Discriminant.hpp"
#include "tautrain/train/Checkpoint.hpp"
#include "tautrain/train/Scoring.hpp"
#include "tautrain/train/Trainer.hpp"

using namespace tautrain;

namespace {

/// A copy of `in` whose candidate i keeps tokens(i, c, n) tokens of collection c (n it had),
/// repeating its rows when asked for more; `edit` may then change each kept row.
data::CandidateBlock reshaped(const data::CandidateBlock& in,
                              const std::function<std::int64_t(std::int64_t, std::size_t, std::int64_t)>& tokens,
                              const std::function<void(std::int64_t, std::size_t, float*)>& edit = {}) {
  data::CandidateBlock out = in;
  for (std::size_t c = 0; c < in.collections.size(); ++c) {
    const auto& from = in.collections[c];
    auto& to = out.collections[c];
    to.values.clear();
    to.offsets = {0};
    for (std::int64_t i = 0; i < in.size(); ++i) {
      const auto n = from.count(i);
      const auto keep = c == 0 ? n : (n == 0 ? 0 : tokens(i, c, n));
      for (std::int64_t k = 0; k < keep; ++k) {
        float* row = to.addRow();
        std::copy_n(from.row(from.offsets[i] + k % n), from.n_features, row);
        if (edit) edit(i, c, row);
      }
      to.closeCandidate();
    }
  }
  return out;
}

/// Trains a two-block model for one epoch on synthetic candidates (dR cut 0.4, and optionally a
/// cap of 4 PF tokens), and writes a test shard of edge cases: candidates without electrons or muons,
/// with one PF token, with four times their tokens, with every PF token beyond the dR cut.
struct TrainedModel {
  test::TempDir dir;
  std::string checkpoint, testShard;

  explicit TrainedModel(bool tokenCap, int seed = 8) {
    std::vector<std::string> settings{
        "output=" + dir.file("run"), "generator.candidates=2000", "generator.shard_size=1000",
        "generator.output=" + dir.file("data"), "data.files=[" + dir.file("data") + "]", "data.valid_fraction=0.5",
        "data.batch_size=100", "data.pruning.max_dr=0.4", "model.d_model=16", "model.heads=2", "model.layers=2",
        "model.embed_hidden=16", "model.d_ff=32", "model.decoder_hidden1=16", "model.decoder_hidden2=8",
        "train.max_epochs=1", "train.learning_rate=0.003", "train.torch_threads=1", "seed=" + std::to_string(seed)};
    if (tokenCap) settings.push_back("data.pruning.max_tokens={pf: 4}");
    const auto config = config::loadRunConfig({}, settings);
    data::SyntheticGenerator(data::FeatureSchema::builtin(), config.generator).writeShards();
    train::runTraining(config);
    checkpoint = dir.file("run") + "/best.pt";

    const auto schema = data::FeatureSchema::builtin();
    auto generator = config.generator;
    generator.seed = 99;
    const auto block = data::SyntheticGenerator(schema, generator).generate(0, 500);
    const auto indexOf = [&](const std::string& name) {
      return static_cast<std::size_t>(&schema.collection(name) - schema.collections.data());
    };
    const auto pf = indexOf("pf"), ele = indexOf("ele"), muon = indexOf("muon");
    const int r = schema.collections[pf].index("r");
    const auto edge = reshaped(
        block,
        [&](std::int64_t i, std::size_t c, std::int64_t n) -> std::int64_t {
          switch (i % 5) {
            case 0: return c == ele || c == muon ? 0 : n;
            case 1: return c == pf ? 1 : 0;
            case 2: return 4 * n;
            default: return n;
          }
        },
        [&](std::int64_t i, std::size_t c, float* row) {
          if (i % 5 == 3 && c == pf) row[r] = 0.45f;  // all beyond the dR cut
        });
    testShard = dir.file("edge.h5");
    data::ShardWriter writer(testShard, schema);
    writer.append(edge);
    writer.close();
  }
};

TrainedModel& uncapped() {
  static TrainedModel model(false);
  return model;
}

}  // namespace

TEST(OnnxExport, WritesAGraphThatLibonnxChecksWithTheShardColumnsAsInputs) {
  auto& m = uncapped();
  const auto onnx = m.dir.file("model.onnx");
  const auto summary = deploy::exportOnnx(m.checkpoint, onnx);
  EXPECT_NO_THROW(deploy::checkOnnxFile(onnx));
  EXPECT_EQ(summary.signature.inputs,
            (std::vector<std::string>{"global", "pf", "pf_count", "ele", "ele_count", "muon", "muon_count"}));
  EXPECT_EQ(summary.signature.outputs, (std::vector<std::string>{"probabilities", "discriminants"}));
  EXPECT_GT(summary.nodes, 100);
  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : deploy::onnxMetadata(onnx)) metadata[key] = value;
  EXPECT_NE(metadata["features"].find("\"pf\":[\"r\""), std::string::npos) << metadata["features"];
  EXPECT_NE(metadata["pruning"].find("\"max_dr\":0.4"), std::string::npos) << metadata["pruning"];
  EXPECT_EQ(metadata["checkpoint"], m.checkpoint);

  // A file that is not a graph, and a graph that libonnx rejects, are named.
  const auto broken = m.dir.file("broken.onnx");
  std::ofstream(broken) << "not a model";
  try {
    deploy::checkOnnxFile(broken);
    FAIL() << "accepted " << broken;
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(broken), std::string::npos) << e.what();
  }
}

TEST(OnnxExport, ACheckpointWithoutAScalerIsNamed) {
  train::TrainingState state;  // what a checkpoint without its scaler reads as
  try {
    train::checkpointScaler(state, "no-scaler.pt");
    FAIL() << "a checkpoint without a scaler was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no-scaler.pt: the checkpoint holds no readable standard scaler"),
              std::string::npos)
        << e.what();
  }
}

TEST(OnnxExport, RefusesARandomTokenCapUnlessTheConsumerAppliesIt) {
  TrainedModel capped(true);
  const auto onnx = capped.dir.file("model.onnx");
  try {
    deploy::exportOnnx(capped.checkpoint, onnx);
    FAIL() << "exported a model with a token cap";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("data.pruning.max_tokens"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(onnx));
  deploy::exportOnnx(capped.checkpoint, onnx, /*allowTokenCap=*/true);
  if (!deploy::haveOnnxRuntime()) GTEST_SKIP() << "no ONNX Runtime in this build (Debian 13 has it)";
  // Fed the tokens the cap keeps, the graph gives LibTorch's scores.
  const auto report = deploy::compareWithOnnxRuntime(capped.checkpoint, onnx, {capped.testShard});
  EXPECT_LE(report.maxAbs(), 1e-5) << report.text();
}

TEST(OnnxExport, OnnxRuntimeGivesLibTorchsScoresOnEdgeCasesWhateverThePadding) {
  auto& m = uncapped();
  const auto onnx = m.dir.file("parity.onnx");
  deploy::exportOnnx(m.checkpoint, onnx);
  if (!deploy::haveOnnxRuntime()) GTEST_SKIP() << "no ONNX Runtime in this build (Debian 13 has it)";
  for (const std::int64_t padding : {0, 9}) {
    const auto report = deploy::compareWithOnnxRuntime(m.checkpoint, onnx, {m.testShard}, padding);
    EXPECT_EQ(report.candidates, 500);
    EXPECT_LE(report.maxAbs(), 1e-5) << report.text();
    // A working point's threshold is some candidate's score; only such a candidate, sitting on
    // the cut, may land on the other side of it.
    for (const auto flips : report.flipped) EXPECT_LE(flips, 8) << report.text();
  }
  // A graph that computes something else is caught: the same graph of another training.
  TrainedModel other(false, 9);
  const auto wrong = m.dir.file("wrong.onnx");
  deploy::exportOnnx(other.checkpoint, wrong);
  EXPECT_GT(deploy::compareWithOnnxRuntime(m.checkpoint, wrong, {m.testShard}).maxAbs(), 1e-3);
}

TEST(OnnxExport, CommandWritesTheGraphAndChecksParityOrSaysWhatIsMissing) {
  auto& m = uncapped();
  const auto onnx = m.dir.file("cli.onnx");
  const auto r = test::runTautrain("export " + m.checkpoint + " -o " + onnx + " --check " + m.testShard + " --json " +
                                   m.dir.file("parity.json"));
  if (!deploy::haveOnnxRuntime()) {
    test::expectFailure(r, 2, {"ONNX Runtime", "--check"});
    EXPECT_TRUE(std::filesystem::exists(onnx));
    return;
  }
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("parity: max |difference|"), std::string::npos) << r.output;
  // Debian's ONNX Runtime and libonnx register the same schemas; the duplicates are not shown.
  EXPECT_EQ(r.output.find("Schema error"), std::string::npos) << r.output.substr(0, 2000);
  std::ifstream json(m.dir.file("parity.json"));
  EXPECT_TRUE(nlohmann::json::parse(json)["passed"].get<bool>());
  test::expectFailure(test::runTautrain("export " + m.checkpoint + " -o " + onnx + " --check " + m.testShard +
                                        " --tolerance 0"),
                      1, {"differ by", "--tolerance"});
}

TEST(OnnxExport, TheCppExampleScoresAShardAsLibTorchDoes) {
#ifndef TAUTRAIN_SCORE_ONNX
  GTEST_SKIP() << "the example is built where ONNX Runtime is (Debian 13)";
#else
  auto& m = uncapped();
  const auto onnx = m.dir.file("example.onnx");
  deploy::exportOnnx(m.checkpoint, onnx);
  const auto r = test::runCommand(std::string(TAUTRAIN_SCORE_ONNX) + " " + onnx + " " + m.testShard + " 200");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto torch = train::scoreCheckpoint(m.checkpoint, {m.testShard}, "cpu");
  std::istringstream lines(r.output);
  std::string line;
  std::int64_t scored = 0;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::size_t candidate = 0;
    std::array<double, 7> scores{};
    if (!(fields >> candidate)) continue;  // the header, or ONNX Runtime's own lines
    for (auto& s : scores) fields >> s;
    ASSERT_TRUE(fields) << line;
    for (std::size_t c = 0; c < 4; ++c)
      EXPECT_NEAR(scores[c], torch.probabilities[4 * candidate + c], 1e-5) << "candidate " << candidate;
    for (std::size_t d = 0; d < 3; ++d)
      EXPECT_NEAR(scores[4 + d], eval::discriminantScore(torch.probabilities, candidate, eval::kBackgrounds[d]), 1e-5)
          << "candidate " << candidate;
    ++scored;
  }
  EXPECT_EQ(scored, 200) << r.output;
  // A file that is not a shard is named.
  const auto wrong = test::runCommand(std::string(TAUTRAIN_SCORE_ONNX) + " " + onnx + " " + onnx);
  EXPECT_EQ(wrong.code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find(onnx), std::string::npos) << wrong.output;
#endif
}

TEST(OnnxExport, BenchTimesOnnxRuntimeAgainstLibTorchOnTheSameCandidates) {
  auto& m = uncapped();
  const auto json = m.dir.file("bench-onnx.json");
  const auto r = test::runTautrain("bench onnx " + m.checkpoint + " --data " + m.testShard +
                                   " -n 120 --batch 1 --batch 50 --rounds 1 --json " + json);
  if (!deploy::haveOnnxRuntime()) {
    test::expectFailure(r, 2, {"ONNX Runtime", "bench onnx"});
    return;
  }
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream in(json);
  const auto figures = nlohmann::json::parse(in);
  EXPECT_EQ(figures["candidates"].get<int>(), 120);
  ASSERT_EQ(figures["rows"].size(), 2u) << figures.dump();
  for (const auto& row : figures["rows"]) {
    EXPECT_GT(row["libtorch_candidates_per_s"].get<double>(), 0) << row.dump();
    EXPECT_GT(row["onnxruntime_candidates_per_s"].get<double>(), 0) << row.dump();
  }
  EXPECT_EQ(figures["rows"][1]["batch_size"].get<int>(), 50);
}
