#include "tautrain/train/MultiTensorAdam.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>
#include <sstream>

using tautrain::train::MultiTensorAdam;

namespace {

/// Two layers that every step trains and one that some steps leave without a gradient, as a
/// batch without muon tokens leaves the muon embedding.
struct Net : torch::nn::Module {
  torch::nn::Linear first{register_module("first", torch::nn::Linear(5, 7))};
  torch::nn::Linear second{register_module("second", torch::nn::Linear(7, 3))};
  torch::nn::Linear sometimes{register_module("sometimes", torch::nn::Linear(5, 3))};
  torch::Tensor forward(const torch::Tensor& x, bool all) {
    auto y = second(torch::gelu(first(x)));
    return all ? y + sometimes(x) : y;
  }
};

torch::optim::AdamOptions thesisAdam() { return torch::optim::AdamOptions(1e-2).betas({0.9, 0.999}).eps(1e-7); }

/// Gradients of one step; every third step leaves `sometimes` without any (as LibTorch 2's
/// zero_grad does, which sets them to none).
void backward(Net& net, torch::optim::Optimizer& optimizer, int step) {
  torch::manual_seed(100 + step);
  const auto x = torch::randn({16, 5});
  optimizer.zero_grad();
  const bool all = step % 3 != 1;
  if (!all)
    for (auto& p : net.sometimes->parameters()) p.mutable_grad() = torch::Tensor();
  net.forward(x, all).pow(2).mean().backward();
}

void trainStep(Net& net, torch::optim::Optimizer& optimizer, int step) {
  backward(net, optimizer, step);
  optimizer.step();
}

void expectSameParameters(const Net& a, const Net& b, int step) {
  const auto pa = a.parameters(), pb = b.parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i)
    EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "step " << step << " tensor " << i;
}

/// Two identical nets, one trained by Adam, the other by MultiTensorAdam.
struct Twins {
  explicit Twins(const torch::optim::AdamOptions& options = thesisAdam())
      : adam(reference.parameters(), options), multiAdam(multi.parameters(), options) {}

  Net reference = seeded();
  Net multi = seeded();
  torch::optim::Adam adam;
  MultiTensorAdam multiAdam;

  static Net seeded() {
    torch::manual_seed(3);
    return Net();
  }
};

}  // namespace

TEST(MultiTensorAdam, TakesExactlyTheStepsOfAdamIncludingSkippedParameters) {
  Twins t;
  auto& [reference, multi, adam, multiAdam] = t;
  for (int step = 0; step < 7; ++step) {
    trainStep(reference, adam, step);
    trainStep(multi, multiAdam, step);
    expectSameParameters(reference, multi, step);
  }
  // The skipped layer took fewer steps: its bias corrections differ, and they must match Adam's.
  const auto& states = multiAdam.state();
  ASSERT_EQ(states.size(), multi.parameters().size());
  std::set<std::int64_t> steps;
  for (const auto& [key, state] : states) steps.insert(static_cast<const torch::optim::AdamParamState&>(*state).step());
  EXPECT_EQ(steps, (std::set<std::int64_t>{5, 7}));
}

TEST(MultiTensorAdam, ItsStateIsAdamsStateInCheckpointsAndInPlace) {
  Twins t;
  auto& [reference, multi, adam, multiAdam] = t;
  for (int step = 0; step < 4; ++step) trainStep(reference, adam, step), trainStep(multi, multiAdam, step);
  // Adam's own step finds the state under the same keys (else it would start afresh).
  trainStep(reference, adam, 4);
  backward(multi, multiAdam, 4);
  multiAdam.torch::optim::Adam::step();
  expectSameParameters(reference, multi, 4);
  EXPECT_EQ(multiAdam.state().size(), multi.parameters().size());
  // A checkpoint of one loads into the other.
  std::stringstream saved;
  torch::serialize::OutputArchive out;
  multiAdam.save(out);
  out.save_to(saved);
  torch::optim::Adam restored(multi.parameters(), thesisAdam());
  torch::serialize::InputArchive in;
  in.load_from(saved);
  restored.load(in);
  trainStep(reference, adam, 5);
  trainStep(multi, restored, 5);
  expectSameParameters(reference, multi, 5);
}

TEST(MultiTensorAdam, WithWeightDecayOrAmsgradItTakesAdamsOwnSteps) {
  for (const auto& options : {thesisAdam().weight_decay(0.1), thesisAdam().amsgrad(true)}) {
    Twins t(options);
    auto& [reference, multi, adam, multiAdam] = t;
    for (int step = 0; step < 4; ++step) {
      trainStep(reference, adam, step);
      trainStep(multi, multiAdam, step);
      expectSameParameters(reference, multi, step);
    }
  }
}
