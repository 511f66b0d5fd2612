// CUDA graphs of the encoder, emulated on the CPU: everything around the capture (static
// buffers, the hand-over of gradients, one graph per shape, the limit, the eager fallback)
// against the eager step. tests/cuda/CudaTest.cpp runs the same on a GPU, captured.
#include "tautrain/train/GraphedModel.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <numeric>

#include "support/GraphedSteps.hpp"
#include "support/TestData.hpp"
#include "tautrain/config/TrainConfig.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"

using namespace tautrain;

namespace {

struct Fixture {
  test::TempDir dir;
  data::FeatureSchema schema = test::tinySchema();
  data::Dataset dataset{test::writeTinyShards(dir, 1, 60), schema};
  data::StandardScaler scaler = data::StandardScaler::fit(dataset);
  data::Loader loader{dataset, scaler, [] {
                        data::LoaderOptions options;
                        options.bucket_lengths = true;
                        return options;
                      }()};
  torch::Device cpu{torch::kCPU};
  std::vector<data::TensorBatch> batches = test::twoShapeBatches(loader, cpu);
};

void expectSameRun(const test::StepsResult& eager, const test::StepsResult& graphed) {
  EXPECT_EQ(eager.losses, graphed.losses);
  ASSERT_EQ(eager.weights.size(), graphed.weights.size());
  for (std::size_t i = 0; i < eager.weights.size(); ++i)
    EXPECT_TRUE(torch::equal(eager.weights[i], graphed.weights[i])) << "weight " << i;
  for (std::size_t i = 0; i < eager.logits.size(); ++i)
    EXPECT_TRUE(torch::equal(eager.logits[i], graphed.logits[i])) << "batch " << i;
}

}  // namespace

TEST(GraphedModel, EmulatedReplaysTrainAndScoreBitwiseAsTheEagerSteps) {
  Fixture f;
  ASSERT_EQ(f.batches[0].max_len, 8);
  ASSERT_EQ(f.batches[1].max_len, 16);
  // Dropout on: the graphs draw the same masks in the same order.
  const auto config = test::smallModel(model::Layout::kPadded);
  ASSERT_GT(config.dropout, 0);
  const auto eager = test::runSteps(f.schema, config, f.cpu, f.batches, /*graphed=*/false);
  const auto graphed = test::runSteps(f.schema, config, f.cpu, f.batches, /*graphed=*/true);
  expectSameRun(eager, graphed);
  // Two shapes, each for training and for inference; every call replayed.
  EXPECT_EQ(graphed.graphs, 4);
  EXPECT_EQ(graphed.replays, 8);
  EXPECT_EQ(graphed.eager, 0);
}

TEST(GraphedModel, ShapesPastTheLimitRunEagerlyWithTheSameResults) {
  Fixture f;
  const auto config = test::smallModel(model::Layout::kPadded);
  const auto eager = test::runSteps(f.schema, config, f.cpu, f.batches, false);
  const auto limited = test::runSteps(f.schema, config, f.cpu, f.batches, true, /*limit=*/1);
  expectSameRun(eager, limited);
  EXPECT_EQ(limited.graphs, 1);
  EXPECT_EQ(limited.replays, 2);  // the first shape in training; the rest eagerly
  EXPECT_EQ(limited.eager, 6);
}

TEST(GraphedModel, APackedModelRunsItsEncoderPaddedWithTheSameScoresAndGradients) {
  Fixture f;
  auto config = test::smallModel(model::Layout::kPacked);
  config.dropout = 0;  // the layouts draw masks of different shapes
  torch::manual_seed(12);
  model::TauTransformer model(f.schema, config);
  model->train();
  train::GraphedModel graphs(model, f.cpu, 4);
  const auto& batch = f.batches[1];
  const auto eager = model->forward(batch);
  eager.logsumexp(1).sum().backward();
  std::vector<torch::Tensor> eagerGrads;
  for (auto& p : model->parameters()) eagerGrads.push_back(p.grad().clone()), p.mutable_grad() = torch::Tensor();
  const auto graphed = graphs.forward(batch);
  EXPECT_TRUE(torch::allclose(eager, graphed, 1e-4, 1e-5)) << eager << graphed;
  graphed.logsumexp(1).sum().backward();
  const auto parameters = model->parameters();
  for (std::size_t i = 0; i < parameters.size(); ++i)
    EXPECT_TRUE(torch::allclose(eagerGrads[i], parameters[i].grad(), 1e-3, 1e-5)) << "parameter " << i;
  EXPECT_EQ(graphs.replays(), 1);
}

TEST(GraphedModel, OnIsRefusedOffCuda) {
  train::TrainConfig config;
  config.cuda_graphs = train::CudaGraphs::kOn;
  try {
    config.validate();
    FAIL() << "train.cuda_graphs: on with train.device cpu was accepted";
  } catch (const ConfigError& e) {
    test::expectMentions(e.what(), {"cuda_graphs", "cpu"});
  }
  config.device = "cuda";
  EXPECT_NO_THROW(config.validate());
}
