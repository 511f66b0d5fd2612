#include "tautrain/model/TauTransformer.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "support/TestData.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/model/TorchCompat.hpp"

using namespace tautrain;

namespace {

model::ModelConfig smallModel(const std::string& layout = "padded") {
  model::ModelConfig config;
  config.layout = layout;
  config.d_model = 16;
  config.heads = 4;
  config.layers = 2;
  config.embed_hidden = 32;
  config.d_ff = 32;
  config.decoder_hidden1 = 32;
  config.decoder_hidden2 = 16;
  return config;
}

struct Fixture {
  test::TempDir dir;
  data::FeatureSchema schema = test::tinySchema();
  data::Dataset dataset{test::writeTinyShards(dir, 1, 40), schema};
  data::StandardScaler scaler = data::StandardScaler::fit(dataset);
  data::Loader loader{dataset, scaler, data::LoaderOptions{}};

  data::TensorBatch batchOf(const std::vector<std::int64_t>& candidates) const {
    return data::toTensors(loader.assemble(candidates, 0));
  }
};

}  // namespace

TEST(TauTransformer, ThesisConfigurationHasAbout466kParameters) {
  const model::TauTransformer model(data::FeatureSchema::builtin(), model::ModelConfig{});
  // 108 800 embeddings + 20 type embedding + 6 x 49 984 encoder + 50 052 decoder.
  EXPECT_EQ(model->parameterCount(), 458776);
  EXPECT_NEAR(model->parameterCount(), 466000, 0.02 * 466000);
  const auto counts = model->parameterCounts();
  EXPECT_EQ(counts.front().first, "type_embedding");
  EXPECT_EQ(counts.front().second, 20);
  EXPECT_EQ(counts.back().first, "decoder");
  EXPECT_EQ(counts.back().second, 50052);
}

class EveryLayout : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(TauTransformer, EveryLayout, ::testing::Values("padded", "packed"));

TEST_P(EveryLayout, PaddingNeverLeaks) {
  Fixture f;
  torch::manual_seed(1);
  model::TauTransformer model(f.schema, smallModel(GetParam()));
  model->eval();
  torch::NoGradGuard noGrad;
  // Candidate 7 has 1 pf token; candidates 6 and 13 have 7, so batched it is heavily padded.
  const auto alone = model->forward(f.batchOf({7}));
  const auto padded = model->forward(f.batchOf({6, 7, 13}));
  EXPECT_TRUE(torch::allclose(alone[0], padded[1], 1e-4, 1e-5)) << alone << padded;
}

TEST_P(EveryLayout, PermutingTokensLeavesScoresUnchanged) {
  Fixture f;
  torch::manual_seed(2);
  model::TauTransformer model(f.schema, smallModel(GetParam()));
  model->eval();
  torch::NoGradGuard noGrad;
  auto batch = f.batchOf({13});  // 7 pf tokens
  const auto before = model->forward(batch);
  auto& pf = batch.collections[1];
  const auto permutation = torch::tensor({3, 0, 6, 1, 5, 2, 4}, torch::kInt64);
  pf.features = pf.features.index_select(0, permutation);
  pf.type = pf.type.index_select(0, permutation);
  const auto after = model->forward(batch);
  EXPECT_TRUE(torch::allclose(before, after, 1e-4, 1e-5)) << before << after;
}

TEST(TauTransformer, PackedAndPaddedLayoutsAgreeInScoresAndGradients) {
  Fixture f;
  torch::manual_seed(3);
  model::TauTransformer padded(f.schema, smallModel("padded"));
  torch::manual_seed(3);
  model::TauTransformer packed(f.schema, smallModel("packed"));
  padded->eval(), packed->eval();
  const auto batch = f.batchOf({1, 6, 7, 13, 20, 33});
  ASSERT_LT(batch.tokens, batch.size * batch.max_len);  // there is padding to skip
  const auto a = padded->forward(batch), b = packed->forward(batch);
  EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-5)) << a << b;
  a.sum().backward();
  b.sum().backward();
  const auto gradsA = padded->parameters(), gradsB = packed->parameters();
  for (std::size_t i = 0; i < gradsA.size(); ++i)
    EXPECT_TRUE(torch::allclose(gradsA[i].grad(), gradsB[i].grad(), 1e-3, 1e-5)) << "parameter " << i;
}

TEST(TauTransformer, FusedAttentionAgreesWithTheReferenceOrIsRefusedByOldLibTorch) {
  Fixture f;
  auto fusedConfig = smallModel();
  fusedConfig.attention = "fused";
  if (!model::compat::kHasFusedAttention) {
    EXPECT_THROW(model::TauTransformer(f.schema, fusedConfig), ConfigError);
    return;
  }
  auto referenceConfig = smallModel();
  referenceConfig.attention = "reference";
  torch::manual_seed(4);
  model::TauTransformer reference(f.schema, referenceConfig);
  torch::manual_seed(4);
  model::TauTransformer fused(f.schema, fusedConfig);
  reference->eval(), fused->eval();
  torch::NoGradGuard noGrad;
  const auto batch = f.batchOf({1, 6, 7, 13});
  EXPECT_TRUE(torch::allclose(reference->forward(batch), fused->forward(batch), 1e-4, 1e-5));
}
