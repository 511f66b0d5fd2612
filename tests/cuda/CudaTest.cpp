// The GPU paths against the CPU ones. They skip without a CUDA device, and fail instead when
// TAUTRAIN_REQUIRE_CUDA_TESTS=1 (bench/gpu/run.sh sets it, so a GPU run cannot skip them).
// TAUTRAIN_TEST_DEVICE=cpu runs their code on the CPU: a rehearsal of the GPU run, not a test
// of the GPU.
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <string>

#include "support/Checkpoints.hpp"
#include "support/GraphedSteps.hpp"
#include "support/TestData.hpp"
#include "support/TinyRun.hpp"
#include "tautrain/compat/TorchCompat.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"
#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/model/Cost.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/Scoring.hpp"

using namespace tautrain;

namespace {

std::string deviceUnderTest() {
  const char* device = std::getenv("TAUTRAIN_TEST_DEVICE");
  return device && *device ? device : "cuda";
}

bool requireCuda() {
  const char* required = std::getenv("TAUTRAIN_REQUIRE_CUDA_TESTS");
  return required && std::string(required) == "1";
}

#define TAUTRAIN_NEED_DEVICE()                                                                        \
  do {                                                                                                \
    if (deviceUnderTest() == "cuda" && !torch::cuda::is_available()) {                                \
      if (requireCuda()) FAIL() << "TAUTRAIN_REQUIRE_CUDA_TESTS=1, but LibTorch sees no CUDA device"; \
      GTEST_SKIP() << "no CUDA device (set TAUTRAIN_TEST_DEVICE=cpu to rehearse these on the CPU)";   \
    }                                                                                                 \
  } while (0)

/// A small model and one heavily padded batch of the tiny schema's candidates.
struct Fixture {
  torch::Device device{deviceUnderTest()};
  test::TempDir dir;
  data::FeatureSchema schema = test::tinySchema();
  data::Dataset dataset{test::writeTinyShards(dir, 1, 200), schema};
  data::StandardScaler scaler = data::StandardScaler::fit(dataset);
  data::Loader loader{dataset, scaler, data::LoaderOptions{}};

  Fixture() { compat::setCudaMath(/*allowTf32=*/false, /*cudnnBenchmark=*/false); }  // fp32 means fp32

  /// The same weights for every layout and attention.
  model::TauTransformer model(model::Layout layout, model::Attention attention) const {
    torch::manual_seed(3);
    model::TauTransformer m(schema, test::smallModel(layout, attention));
    m->to(device);
    m->eval();
    return m;
  }
  data::TensorBatch batch(std::int64_t candidates = 64) const {
    std::vector<std::int64_t> rows(static_cast<std::size_t>(candidates));
    std::iota(rows.begin(), rows.end(), 0);
    return data::toTensors(loader.assemble(rows, 0)).to(device, /*non_blocking=*/false);
  }
};

double maxDifference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kCPU, torch::kFloat) - b.to(torch::kCPU, torch::kFloat)).abs().max().item<double>();
}

}  // namespace

TEST(Cuda, ScoresOfACheckpointAreTheCpuScoresInFp32) {
  TAUTRAIN_NEED_DEVICE();
  test::TempDir dir;
  const auto config = test::tinyRun(dir, "run", {"train.max_epochs=1"});
  data::SyntheticGenerator(data::FeatureSchema::builtin(), config.generator).writeShards();
  ASSERT_FALSE(train::runTraining(config).interrupted);
  compat::setCudaMath(false, false);  // training set TF32 on for its device
  const auto checkpoint = dir.file("run") + "/best.pt";
  const auto cpu = train::scoreCheckpoint(checkpoint, {dir.file("data")}, "cpu");
  const auto gpu = train::scoreCheckpoint(checkpoint, {dir.file("data")}, deviceUnderTest());
  ASSERT_EQ(cpu.probabilities.size(), gpu.probabilities.size());
  ASSERT_EQ(cpu.label, gpu.label);  // the same candidates in the same order
  double largest = 0;
  for (std::size_t i = 0; i < cpu.probabilities.size(); ++i)
    largest = std::max(largest, static_cast<double>(std::abs(cpu.probabilities[i] - gpu.probabilities[i])));
  // fp32 with TF32 off: only the order of the sums differs.
  EXPECT_LE(largest, 1e-5) << cpu.size() << " candidates";
  RecordProperty("max_abs_difference", std::to_string(largest));
}

TEST(Cuda, PackedAndPaddedLayoutsAgreeInScoresAndGradients) {
  TAUTRAIN_NEED_DEVICE();
  Fixture f;
  auto padded = f.model(model::Layout::kPadded, model::Attention::kReference);
  auto packed = f.model(model::Layout::kPacked, model::Attention::kReference);
  const auto batch = f.batch();
  ASSERT_LT(batch.tokens, batch.size * batch.max_len);  // there is padding to skip
  const auto a = padded->forward(batch), b = packed->forward(batch);
  EXPECT_LE(maxDifference(a, b), 1e-5);
  a.logsumexp(1).sum().backward();
  b.logsumexp(1).sum().backward();
  const auto gradsA = padded->parameters(), gradsB = packed->parameters();
  for (std::size_t i = 0; i < gradsA.size(); ++i)
    EXPECT_TRUE(torch::allclose(gradsA[i].grad().cpu(), gradsB[i].grad().cpu(), 1e-3, 1e-5)) << "parameter " << i;
}

TEST(Cuda, FusedAttentionAgreesWithTheReference) {
  TAUTRAIN_NEED_DEVICE();
  if (!compat::kHasFusedAttention) GTEST_SKIP() << "this LibTorch has no scaled_dot_product_attention";
  Fixture f;
  torch::NoGradGuard noGrad;
  const auto batch = f.batch();
  for (const auto layout : {model::Layout::kPadded, model::Layout::kPacked}) {
    const auto reference = f.model(layout, model::Attention::kReference)->forward(batch);
    const auto fused = f.model(layout, model::Attention::kFused)->forward(batch);
    EXPECT_LE(maxDifference(reference, fused), 1e-5) << core::nameOf(layout);
  }
}

TEST(Cuda, VarlenAttentionAgreesWithThePaddedAttentionInFp32AndBf16) {
  TAUTRAIN_NEED_DEVICE();
  if (!compat::kHasVarlenAttention) GTEST_SKIP() << "this LibTorch has no variable-length attention";
  Fixture f;
  if (f.device.is_cpu()) GTEST_SKIP() << "the variable-length kernel is CUDA only; on a CPU the model re-pads";
  auto padded = f.model(model::Layout::kPacked, model::Attention::kFused);
  auto varlen = f.model(model::Layout::kPacked, model::Attention::kVarlen);
  ASSERT_TRUE(varlen->varlenAttention());
  const auto batch = f.batch();
  ASSERT_LT(batch.tokens, batch.size * batch.max_len);  // there is padding the varlen path skips
  for (const bool bf16 : {false, true}) {
    for (auto* m : {&padded, &varlen}) (*m)->zero_grad();
    torch::Tensor a, b;
    {
      compat::AutocastGuard autocast(f.device, bf16);
      a = padded->forward(batch);
      b = varlen->forward(batch);
    }
    const double scale = a.abs().max().item<double>(), difference = maxDifference(a, b);
    EXPECT_LE(difference, bf16 ? 2e-2 * scale : 1e-5) << (bf16 ? "bf16" : "fp32");
    RecordProperty(bf16 ? "bf16_max_abs_difference" : "fp32_max_abs_difference", std::to_string(difference));
    a.to(torch::kFloat).logsumexp(1).sum().backward();
    b.to(torch::kFloat).logsumexp(1).sum().backward();
    const auto gradsA = padded->parameters(), gradsB = varlen->parameters();
    for (std::size_t i = 0; i < gradsA.size(); ++i)
      EXPECT_TRUE(torch::allclose(gradsA[i].grad().cpu(), gradsB[i].grad().cpu(), bf16 ? 5e-2 : 1e-3, bf16 ? 1e-3 : 1e-5))
          << (bf16 ? "bf16" : "fp32") << " parameter " << i;
  }
}

TEST(Cuda, GraphReplaysTrainAndScoreAsTheEagerStepsDo) {
  TAUTRAIN_NEED_DEVICE();
  Fixture f;
  data::LoaderOptions options;
  options.bucket_lengths = true;
  const data::Loader bucketing(f.dataset, f.scaler, options);
  const auto batches = test::twoShapeBatches(bucketing, f.device);
  auto config = test::smallModel(model::Layout::kPadded, model::Attention::kAuto);
  config.dropout = 0;  // replayed dropout draws other masks than eager dropout
  for (const bool bf16 : {false, true}) {
    const auto eager = test::runSteps(f.schema, config, f.device, batches, false, 16, bf16);
    const auto graphed = test::runSteps(f.schema, config, f.device, batches, true, 16, bf16);
    const std::string precision = bf16 ? "bf16" : "fp32";
    EXPECT_EQ(graphed.graphs, 4) << precision;  // two shapes, training and inference
    EXPECT_EQ(graphed.replays, 8) << precision;
    bool bitwise = eager.losses == graphed.losses;
    double largest = 0;
    for (std::size_t i = 0; i < eager.weights.size(); ++i) {
      bitwise = bitwise && torch::equal(eager.weights[i], graphed.weights[i]);
      largest = std::max(largest, maxDifference(eager.weights[i], graphed.weights[i]));
    }
    for (std::size_t i = 0; i < eager.logits.size(); ++i) {
      bitwise = bitwise && torch::equal(eager.logits[i], graphed.logits[i]);
      EXPECT_LE(maxDifference(eager.logits[i], graphed.logits[i]), bf16 ? 2e-2 : 1e-5) << precision << " batch " << i;
    }
    for (std::size_t i = 0; i < eager.losses.size(); ++i)
      EXPECT_NEAR(eager.losses[i], graphed.losses[i], bf16 ? 1e-2 : 1e-5) << precision << " step " << i;
    // The same kernels on the same memory layout: expected bitwise; recorded either way.
    EXPECT_LE(largest, bf16 ? 1e-2 : 1e-4) << precision;
    RecordProperty(precision + "_bitwise", bitwise ? "true" : "false");
    RecordProperty(precision + "_max_weight_difference", std::to_string(largest));
  }
}

TEST(Cuda, Bf16AutocastComputesInBf16CloseToFp32AndLeavesTheWeightsFp32) {
  TAUTRAIN_NEED_DEVICE();
  Fixture f;
  auto model = f.model(model::Layout::kPacked, model::Attention::kAuto);
  torch::NoGradGuard noGrad;
  const auto batch = f.batch();
  const auto fp32 = model->forward(batch);
  torch::Tensor bf16;
  {
    compat::AutocastGuard autocast(f.device, true);
    bf16 = model->forward(batch);
  }
  EXPECT_EQ(bf16.scalar_type(), torch::kBFloat16);
  const double difference = maxDifference(bf16, fp32);
  EXPECT_LT(difference, 0.05 * fp32.abs().max().item<double>());
  EXPECT_GT(difference, 0);  // it did run in bf16
  for (const auto& p : model->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat);
}

TEST(Cuda, RunStoppedAndResumedOnTheDeviceEndsBitwiseIdentical) {
  TAUTRAIN_NEED_DEVICE();
  test::TempDir dir;
  const std::string device = "train.device=" + deviceUnderTest();
  const auto straight = test::tinyRun(dir, "straight", {device, "train.max_epochs=2"});
  data::SyntheticGenerator(data::FeatureSchema::builtin(), straight.generator).writeShards();
  ASSERT_FALSE(train::runTraining(straight).interrupted);
  auto result = train::runTraining(test::tinyRun(dir, "stopped", {device, "train.max_epochs=2", "train.stop_after_steps=5"}));
  EXPECT_EQ(test::resumeUntilDone(result, dir.file("stopped")), (std::vector<std::int64_t>{5, 10, 15}));
  const auto a = test::namedParametersOf(dir.file("straight") + "/last.pt");
  const auto b = test::namedParametersOf(dir.file("stopped") + "/last.pt");
  for (const auto& [name, value] : a)
    EXPECT_TRUE(torch::equal(value, b.at(name))) << name << ": max |difference| " << maxDifference(value, b.at(name));
}

TEST(Cuda, TrainingMemoryIsWithinAFifthOfTheDevicesMeasuredPeak) {
  TAUTRAIN_NEED_DEVICE();
  Fixture f;
  if (f.device.is_cpu()) GTEST_SKIP() << "the CPU's peak is checked in CostModel.*";
  const auto batch = f.batch(200);
  const auto host = f.loader.assemble([] {
    std::vector<std::int64_t> rows(200);
    std::iota(rows.begin(), rows.end(), 0);
    return rows;
  }(), 0);
  for (const auto layout : {model::Layout::kPadded, model::Layout::kPacked}) {
    auto model = f.model(layout, model::Attention::kAuto);
    model->train();
    const model::CostModel cost(f.schema, test::smallModel(layout, model::Attention::kAuto), 4);
    // The allocator's peak counts the weights on the device, and the gradients that come
    // during the step; there are no Adam moments (16 bytes per parameter in the estimate).
    const double expected = cost.trainingMemoryBytes(model->parameterCount(), model::BatchShape::of(host)) -
                            8.0 * static_cast<double>(model->parameterCount());
    torch::cuda::synchronize();
    compat::resetPeakDeviceMemory(f.device);
    model->forward(batch).logsumexp(1).sum().backward();
    torch::cuda::synchronize();
    const double measured = static_cast<double>(compat::peakDeviceMemory(f.device));
    ASSERT_GT(measured, 0) << "this LibTorch reports no device peak";
    EXPECT_NEAR(expected / measured, 1.0, 0.2)
        << core::nameOf(layout) << ": estimated " << expected << " bytes, measured " << measured;
    RecordProperty(std::string("memory_ratio_") + core::nameOf(layout), std::to_string(expected / measured));
  }
}
