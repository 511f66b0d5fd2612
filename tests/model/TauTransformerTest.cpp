#include "tautrain/model/TauTransformer.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <numeric>

#include "support/TestData.hpp"
#include "tautrain/compat/TorchCompat.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/model/Attention.hpp"
#include "tautrain/model/Cost.hpp"

using namespace tautrain;

namespace {

using test::smallModel;

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

class EveryLayout : public ::testing::TestWithParam<model::Layout> {};
/// Parameterised tests named by the setting's name ("padded"), not its bytes.
template <typename E>
std::string settingName(const ::testing::TestParamInfo<E>& info) {
  return core::nameOf(info.param);
}

INSTANTIATE_TEST_SUITE_P(TauTransformer, EveryLayout, ::testing::Values(model::Layout::kPadded, model::Layout::kPacked),
                         settingName<model::Layout>);

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
  model::TauTransformer padded(f.schema, smallModel(model::Layout::kPadded));
  torch::manual_seed(3);
  model::TauTransformer packed(f.schema, smallModel(model::Layout::kPacked));
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
  fusedConfig.attention = model::Attention::kFused;
  if (!compat::kHasFusedAttention) {
    EXPECT_THROW(model::TauTransformer(f.schema, fusedConfig), ConfigError);
    return;
  }
  auto referenceConfig = smallModel();
  referenceConfig.attention = model::Attention::kReference;
  torch::manual_seed(4);
  model::TauTransformer reference(f.schema, referenceConfig);
  torch::manual_seed(4);
  model::TauTransformer fused(f.schema, fusedConfig);
  reference->eval(), fused->eval();
  torch::NoGradGuard noGrad;
  const auto batch = f.batchOf({1, 6, 7, 13});
  EXPECT_TRUE(torch::allclose(reference->forward(batch), fused->forward(batch), 1e-4, 1e-5));
}

TEST(TauTransformer, VarlenAttentionNeedsThePackedLayoutAndRePadsOffCuda) {
  Fixture f;
  auto varlen = smallModel(model::Layout::kPacked, model::Attention::kVarlen);
  auto padded = varlen;
  padded.layout = model::Layout::kPadded;
  EXPECT_THROW(model::TauTransformer(f.schema, padded), ConfigError);
  if (!compat::kHasVarlenAttention) {
    EXPECT_THROW(model::TauTransformer(f.schema, varlen), ConfigError);
    return;
  }
  torch::manual_seed(5);
  model::TauTransformer model(f.schema, varlen);
  EXPECT_TRUE(model->varlenAttention());
  // On a CPU the kernel is not there: the model attends as the fused one, with the same weights.
  torch::manual_seed(5);
  model::TauTransformer fused(f.schema, smallModel(model::Layout::kPacked, model::Attention::kFused));
  EXPECT_FALSE(fused->varlenAttention());
  model->eval(), fused->eval();
  torch::NoGradGuard noGrad;
  const auto batch = f.batchOf({1, 6, 7, 13});
  EXPECT_TRUE(torch::equal(model->forward(batch), fused->forward(batch)));
  const auto q = torch::randn({5, 2, 4});
  EXPECT_THROW(compat::varlenAttention(q, q, q, torch::tensor({0, 2, 5}, torch::kInt), 3), ConfigError);
}

TEST_P(EveryLayout, EmbeddingThenPaddedEncoderIsTheForwardPassAndBucketedPaddingChangesNothing) {
  Fixture f;
  torch::manual_seed(6);
  model::TauTransformer model(f.schema, smallModel(GetParam()));
  model->eval();
  torch::NoGradGuard noGrad;
  const std::vector<std::int64_t> candidates{1, 6, 7, 13, 20};
  const auto batch = f.batchOf(candidates);
  const auto split = model->encodePadded(model->embedPadded(batch), batch.padding_mask);
  EXPECT_TRUE(torch::allclose(split, model->forward(batch), 1e-5, 1e-6));
  auto options = data::LoaderOptions{};
  options.bucket_lengths = true;
  const data::Loader bucketing(f.dataset, f.scaler, options);
  const auto bucketed = data::toTensors(bucketing.assemble(candidates, 0));
  ASSERT_GT(bucketed.max_len, batch.max_len);
  EXPECT_TRUE(torch::allclose(model->forward(bucketed), model->forward(batch), 1e-5, 1e-6));
}

TEST(ReferenceAttention, ChunksOfHeadsGiveTheValuesAndGradientsOfAllHeadsAtOnce) {
  torch::manual_seed(7);
  const auto q0 = torch::randn({3, 4, 9, 5}), k0 = torch::randn({3, 4, 9, 5}), v0 = torch::randn({3, 4, 9, 5});
  auto padding = torch::zeros({3, 9}, torch::kBool);
  padding.index_put_({0, torch::indexing::Slice(4, 9)}, true);  // candidate 0 has 4 tokens, 1 has 8, 2 has 9
  padding.index_put_({1, 8}, true);
  const auto weight = torch::randn({3, 4, 9, 5});
  const auto run = [&](std::int64_t headsPerChunk) {
    auto q = q0.clone().requires_grad_(), k = k0.clone().requires_grad_(), v = v0.clone().requires_grad_();
    const auto out = model::chunkedAttention(q, k, v, padding, headsPerChunk);
    (out * weight).sum().backward();
    return std::vector<torch::Tensor>{out.detach(), q.grad(), k.grad(), v.grad()};
  };
  const auto all = run(4);  // one chunk: plain autograd
  for (const std::int64_t chunk : {1, 2, 3}) {
    const auto chunked = run(chunk);
    for (std::size_t i = 0; i < all.size(); ++i)
      EXPECT_TRUE(torch::allclose(all[i], chunked[i], 1e-5, 1e-6))
          << chunk << " heads per chunk, " << (i == 0 ? "values" : "gradient " + std::to_string(i)) << ": max |diff| "
          << (all[i] - chunked[i]).abs().max().item<double>();
  }
  // Padded keys get no attention: the gradient of their values is zero.
  EXPECT_EQ(all[3].index({0, torch::indexing::Slice(), torch::indexing::Slice(4, 9)}).abs().max().item<double>(), 0.0);
}

TEST(ReferenceAttention, OneHeadAtATimeHoldsAFractionOfTheScoresOfAll) {
  torch::manual_seed(8);
  const auto make = [] { return torch::randn({8, 4, 256, 8}).requires_grad_(); };
  const auto padding = torch::zeros({8, 256}, torch::kBool);
  std::vector<double> peak;
  for (const std::int64_t chunk : {4, 1}) {
    auto q = make(), k = make(), v = make();
    compat::HostMemoryCounter counter;
    model::chunkedAttention(q, k, v, padding, chunk).sum().backward();
    peak.push_back(static_cast<double>(counter.peak()));
  }
  // [8, 4, 256, 256] floats are 8 MiB: kept for backward plus two in backward, against one
  // head's three (6 MiB) and the inputs' gradients.
  EXPECT_LT(peak[1], 0.6 * peak[0]) << "all heads " << peak[0] << " bytes, one at a time " << peak[1];
}

TEST(ReferenceAttention, ChunksOnlyPastTheBudgetAndNeverBelowOneHead) {
  const int fp32 = 4;
  EXPECT_EQ(model::attentionHeadsPerChunk(350.0 * 90 * 90, 4, fp32), 4);  // 45 MB: one chunk
  const double perHead64MiB = model::kAttentionChunkBytes / fp32;
  EXPECT_EQ(model::attentionHeadsPerChunk(perHead64MiB / 3, 8, fp32), 3);
  EXPECT_EQ(model::attentionHeadsPerChunk(perHead64MiB * 10, 8, fp32), 1);
  EXPECT_EQ(model::attentionHeadsPerChunk(perHead64MiB / 3, 8, 2), 6);  // bf16 scores are half the bytes
}

/// Elements of the 2-D weight matrices whose names start with `prefix`: the multiply-adds one
/// row of input costs when it passes through them.
double matrixElements(const model::TauTransformer& model, const std::string& prefix) {
  double n = 0;
  for (const auto& p : model->named_parameters())
    if (p.key().rfind(prefix, 0) == 0 && p.value().dim() == 2) n += static_cast<double>(p.value().numel());
  return n;
}

TEST(CostModel, CountsTheMultiplyAddsOfTheModelsOwnWeightMatrices) {
  for (const auto& schema : {data::FeatureSchema::builtin(), test::tinySchema()}) {
    const model::TauTransformer model(schema, model::ModelConfig{});
    const model::CostModel cost(schema, model::ModelConfig{}, 4);
    for (std::size_t c = 0; c < schema.collections.size(); ++c)
      EXPECT_EQ(cost.embedMacsPerToken()[c], matrixElements(model, "embed_" + schema.collections[c].name + "."))
          << schema.collections[c].name;
    EXPECT_EQ(cost.blockMacsPerToken(), matrixElements(model, "encoder0."));
    EXPECT_EQ(cost.decoderMacsPerCandidate(), matrixElements(model, "decoder."));
    EXPECT_EQ(cost.attentionMacsPerPair(), 2 * 64);
  }
}

TEST(CostModel, BatchCostAddsTokensPairsAndCandidates) {
  // Candidate 0: global + 3 pf + 1 muon tokens; candidate 1: global + 1 pf.
  data::HostBatch batch;
  batch.size = 2;
  batch.cu_seqlens = {0, 5, 7};
  for (const auto& [name, tokens] : std::vector<std::pair<std::string, int>>{{"global", 2}, {"pf", 4}, {"muon", 1}}) {
    batch.collections.emplace_back();
    batch.collections.back().collection = name;
    batch.collections.back().type.assign(tokens, 0);
  }
  const model::CostModel cost(test::tinySchema(), smallModel(), 4);
  // Multiply-adds, by hand for d_model 16, d_ff 32, embed 32, 2 blocks, decoder 32-16-4:
  //   embeddings: global (1+2)*32+32*16 = 608 x 2, pf (4+2)*32+512 = 704 x 4, muon 608 x 1  = 4 640
  //   blocks: (3*256 + 256 + 2*16*32) = 2 048 x 7 tokens x 2 blocks                          = 28 672
  //   attention: 2*16 per pair x (5*5 + 2*2) pairs x 2 blocks                                = 1 856
  //   decoder: 16*32 + 32*16 + 16*4 = 1 088 x 2 candidates                                  = 2 176
  const double forwardFlops = 2.0 * (4640 + 28672 + 1856 + 2176);
  EXPECT_EQ(cost.inference(batch).flops, forwardFlops);
  EXPECT_EQ(cost.training(batch, 1000).flops, 3 * forwardFlops);
  // Inputs: (4 bytes x continuous features + 8) per token = 2*12 + 4*24 + 1*12 = 132 bytes.
  // Inference adds the residual stream in and out of each block: 7 x 2 x (2*16*4).
  EXPECT_EQ(cost.inference(batch).bytes, 132 + 7 * 2 * 128);
  // Training: per token and block (10*16+2*32)*4 saved, written and read, + 4*16*4 residual
  // and gradient, the embedding's hidden layer 2*32*4 per token, Adam 28 bytes per weight.
  EXPECT_EQ(cost.training(batch, 1000).bytes, 132 + 7 * (2 * (1792 + 256) + 256) + 28000);
  // bf16 activations halve everything but the fp32 inputs and optimizer.
  const model::CostModel bf16(test::tinySchema(), smallModel(), 2);
  EXPECT_EQ(bf16.training(batch, 1000).bytes, 132 + 7 * (2 * (896 + 128) + 128) + 28000);
}

class EveryAttention : public ::testing::TestWithParam<model::Attention> {};
INSTANTIATE_TEST_SUITE_P(CostModel, EveryAttention,
                         ::testing::Values(model::Attention::kReference, model::Attention::kAuto),
                         settingName<model::Attention>);

TEST_P(EveryAttention, TrainingMemoryIsWithinAFifthOfTheMeasuredPeakOfAStepInEitherLayout) {
  test::TempDir dir;
  const auto schema = test::tinySchema();
  const data::Dataset dataset(test::writeTinyShards(dir, 1, 600), schema);
  const auto scaler = data::StandardScaler::fit(dataset);
  const data::Loader loader(dataset, scaler, data::LoaderOptions{});
  std::vector<std::int64_t> all(600);
  std::iota(all.begin(), all.end(), 0);
  const auto host = loader.assemble(all, 0);
  const auto batch = data::toTensors(host);
  // One batch of every length: padding matters, and the packed layout is predicted lower.
  ASSERT_LT(host.realTokens(), host.paddedTokens() * 3 / 4);
  std::vector<double> expectedOf;
  for (const auto layout : {model::Layout::kPadded, model::Layout::kPacked}) {
    auto config = smallModel(layout);
    config.attention = GetParam();
    config.heads = 2;
    config.layers = 3;
    torch::manual_seed(6);
    model::TauTransformer model(schema, config);
    model->train();
    // Weights exist before the count starts; the gradients, like the activations, come during it.
    const std::int64_t parameters = model->parameterCount();
    const model::CostModel cost(schema, config, 4);
    const double expected =
        cost.trainingMemoryBytes(parameters, model::BatchShape::of(host)) - 12.0 * static_cast<double>(parameters);
    double measured = 0;
    {
      compat::HostMemoryCounter counter;
      model->forward(batch).logsumexp(1).sum().backward();
      measured = static_cast<double>(counter.peak());
    }
    EXPECT_NEAR(expected / measured, 1.0, 0.2)
        << core::nameOf(layout) << ": estimated " << expected << " bytes, measured " << measured << " (" << batch.size
        << " candidates of up to " << batch.max_len << " tokens)";
    expectedOf.push_back(expected);
  }
  EXPECT_LT(expectedOf[1], expectedOf[0]);
}

TEST_P(EveryLayout, Bf16AutocastComputesInBf16CloseToFp32AndLeavesTheWeightsFp32) {
  Fixture f;
  torch::manual_seed(5);
  model::TauTransformer model(f.schema, smallModel(GetParam()));
  model->eval();
  torch::NoGradGuard noGrad;
  const auto batch = f.batchOf({0, 3, 6, 9, 12});
  const auto fp32 = model->forward(batch);
  torch::Tensor bf16;
  {
    compat::AutocastGuard autocast(torch::kCPU, true);
    bf16 = model->forward(batch);
  }
  EXPECT_EQ(fp32.scalar_type(), torch::kFloat);
  EXPECT_EQ(bf16.scalar_type(), torch::kBFloat16);
  // bf16 keeps 8 bits of mantissa: logits agree to about 1 %, and differ (it did run in bf16).
  const auto difference = (bf16.to(torch::kFloat) - fp32).abs().max().item<double>();
  EXPECT_LT(difference, 0.05 * fp32.abs().max().item<double>());
  EXPECT_GT(difference, 0);
  for (const auto& p : model->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat);
  // The guard ends autocast: the next forward is fp32 again.
  EXPECT_TRUE(torch::equal(model->forward(batch), fp32));
}
