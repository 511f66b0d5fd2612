// The LibTorch version shim: each branch this build takes (1.13 on Debian 12, 2.6 on Debian 13)
// is run here against plain arithmetic, so a broken branch fails on the toolchain that takes it.
#include "tautrain/compat/TorchCompat.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "tautrain/core/Error.hpp"

using namespace tautrain;

TEST(TorchCompat, MultiplyAllScalesEveryTensorByTheFactorTensor) {
  torch::manual_seed(1);
  const std::vector<torch::Tensor> originals{torch::randn({3}), torch::randn({2, 5}), torch::randn({4, 1, 2})};
  std::vector<torch::Tensor> scaled;
  for (const auto& t : originals) scaled.push_back(t.clone());
  compat::multiplyAll(scaled, torch::tensor({0.25f}));
  for (std::size_t i = 0; i < originals.size(); ++i)
    EXPECT_TRUE(torch::equal(scaled[i], originals[i] * 0.25f)) << "tensor " << i;
  compat::multiplyAll({}, torch::tensor({2.0f}));  // nothing to scale is fine
}

TEST(TorchCompat, FusedAttentionIsSoftmaxAttentionThatIgnoresPaddedKeys) {
  torch::manual_seed(2);
  const auto q = torch::randn({2, 2, 5, 4}), k = torch::randn({2, 2, 5, 4}), v = torch::randn({2, 2, 5, 4});
  // Candidate 1 has 3 real tokens; its padded keys hold huge values that must not leak in.
  auto padding = torch::zeros({2, 5}, torch::kBool);
  padding.index_put_({1, torch::indexing::Slice(3)}, true);
  auto kPadded = k.clone(), vPadded = v.clone();
  kPadded.index_put_({1, torch::indexing::Slice(), torch::indexing::Slice(3)}, 1e3);
  vPadded.index_put_({1, torch::indexing::Slice(), torch::indexing::Slice(3)}, 1e3);
  if (!compat::kHasFusedAttention) {
    EXPECT_THROW(compat::fusedAttention(q, kPadded, vPadded, padding), ConfigError);
    return;
  }
  const auto scores = torch::matmul(q, kPadded.transpose(-2, -1)) / std::sqrt(4.0);
  const auto masked = scores.masked_fill(padding.view({2, 1, 1, 5}), -std::numeric_limits<float>::infinity());
  const auto reference = torch::matmul(torch::softmax(masked, -1), vPadded);
  const auto fused = compat::fusedAttention(q, kPadded, vPadded, padding);
  EXPECT_TRUE(torch::allclose(fused, reference, 1e-5, 1e-6)) << (fused - reference).abs().max();
  EXPECT_LT(fused.abs().max().item<float>(), 100) << "padded values leaked into the output";
}

TEST(TorchCompat, AutocastGuardComputesInBf16OnTheCpuOnlyWhileItLives) {
  const auto a = torch::randn({4, 4}), b = torch::randn({4, 4});
  {
    compat::AutocastGuard off(torch::kCPU, false);
    EXPECT_EQ(torch::matmul(a, b).scalar_type(), torch::kFloat);
  }
  {
    compat::AutocastGuard on(torch::kCPU, true);
    EXPECT_EQ(torch::matmul(a, b).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(torch::matmul(a, b).scalar_type(), torch::kFloat);
}

TEST(TorchCompat, RestoredGeneratorStateRepeatsTheDraws) {
  torch::manual_seed(3);
  const auto state = compat::rngState(torch::kCPU);
  const auto first = torch::rand({6});
  compat::setRngState(torch::kCPU, state);
  EXPECT_TRUE(torch::equal(torch::rand({6}), first));
}

TEST(TorchCompat, PeakDeviceMemoryIsUnknownOnTheCpu) {
  EXPECT_EQ(compat::peakDeviceMemory(torch::kCPU), -1);
  compat::resetPeakDeviceMemory(torch::kCPU);
}

TEST(TorchCompat, HostMemoryCounterSeesThePeakOfCpuTensorsAllocatedWhileItLives) {
  const auto before = torch::ones({1 << 20});  // held already: not counted, and its release neither
  compat::HostMemoryCounter counter;
  {
    const auto a = torch::ones({1 << 18});   // 1 MiB
    const auto b = torch::ones({1 << 19});   // 2 MiB, held with a
  }
  const auto c = torch::ones({1 << 18});     // 1 MiB after both were freed
  EXPECT_EQ(counter.peak(), 3 << 20);
  // Multithreaded operators allocate their outputs on the calling thread: counted.
  const auto d = torch::ones({1 << 20}).mul(2);
  EXPECT_GE(counter.peak(), (1 + 4 + 4) << 20);
  EXPECT_LT(counter.peak(), ((1 + 4 + 4) << 20) + 1024) << "the scalar 2 becomes a small tensor, no more";
}
