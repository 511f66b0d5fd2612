#include "tautrain/train/MultiTensorAdam.hpp"

#include <ATen/ATen.h>
#include <cmath>
#include <map>
#include <sstream>
#include <type_traits>

namespace tautrain::train {

namespace {

/// The key of a parameter's state: its TensorImpl address, printed as a string in LibTorch 1.x
/// (as c10::guts::to_string prints it) and the pointer itself in 2.x, whichever this build uses.
template <typename Key>
Key stateKey(const at::Tensor& parameter) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << static_cast<const void*>(parameter.unsafeGetTensorImpl());
    return text.str();
  } else {
    return parameter.unsafeGetTensorImpl();
  }
}

/// The tensors of the parameters that took the same number of steps (so share bias corrections).
struct StepGroup {
  std::vector<at::Tensor> parameters, gradients, averages, squares;
};

}  // namespace

torch::Tensor MultiTensorAdam::step(LossClosure closure) {
  using Key = typename std::decay_t<decltype(state_)>::key_type;
  for (const auto& group : param_groups_) {
    const auto& options = static_cast<const torch::optim::AdamOptions&>(group.options());
    if (options.weight_decay() != 0 || options.amsgrad()) return torch::optim::Adam::step(closure);
  }
  torch::NoGradGuard noGrad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enableGrad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const torch::optim::AdamOptions&>(group.options());
    const auto [beta1, beta2] = options.betas();
    std::map<std::int64_t, StepGroup> byStep;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = state_[stateKey<Key>(p)];
      if (!slot) {
        auto fresh = std::make_unique<torch::optim::AdamParamState>();
        fresh->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& state = static_cast<torch::optim::AdamParamState&>(*slot);
      state.step(state.step() + 1);
      auto& tensors = byStep[state.step()];
      tensors.parameters.push_back(p);
      tensors.gradients.push_back(p.grad());
      tensors.averages.push_back(state.exp_avg());
      tensors.squares.push_back(state.exp_avg_sq());
    }
    for (auto& [step, t] : byStep) {
      const double correction1 = 1 - std::pow(beta1, static_cast<double>(step));
      const double correction2 = 1 - std::pow(beta2, static_cast<double>(step));
      at::_foreach_mul_(t.averages, beta1);
      at::_foreach_add_(t.averages, t.gradients, 1 - beta1);
      at::_foreach_mul_(t.squares, beta2);
      at::_foreach_addcmul_(t.squares, t.gradients, t.gradients, 1 - beta2);
      auto denominators = at::_foreach_sqrt(t.squares);
      at::_foreach_div_(denominators, std::sqrt(correction2));
      at::_foreach_add_(denominators, options.eps());
      at::_foreach_addcdiv_(t.parameters, t.averages, denominators, -options.lr() / correction1);
    }
  }
  return loss;
}

}  // namespace tautrain::train
