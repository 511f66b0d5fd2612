#pragma once
// The `train` section: optimiser, early stopping and device (REFERENCE.md §4).
#include <cstdint>
#include <string>

#include "tautrain/core/Error.hpp"

namespace tautrain::train {

struct TrainConfig {
  int max_epochs = 100;
  int patience = 10;
  double learning_rate = 1e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-7;
  std::string device = "cpu";
  int log_every = 50;
  std::int64_t max_batches_per_epoch = 0;
  int torch_threads = 0;

  template <class V>
  void describe(V& v) {
    v("max_epochs", max_epochs, "stop after this many epochs at the latest");
    v("patience", patience, "early stopping: epochs without a better validation loss");
    v("learning_rate", learning_rate, "Adam");
    v("beta1", beta1, "");
    v("beta2", beta2, "");
    v("epsilon", epsilon, "");
    v("device", device, "cpu, cuda or cuda:K");
    v("log_every", log_every, "progress line every N steps");
    v("max_batches_per_epoch", max_batches_per_epoch, "cap on training batches per epoch (0: all)");
    v("torch_threads", torch_threads, "intra-op threads of LibTorch (0: its default)");
  }
  void validate() const {
    TAUTRAIN_CHECK_KEY(max_epochs > 0, "max_epochs", "must be positive");
    TAUTRAIN_CHECK_KEY(patience > 0, "patience", "must be positive");
    TAUTRAIN_CHECK_KEY(learning_rate > 0, "learning_rate", "must be positive");
    TAUTRAIN_CHECK_KEY(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "beta1", "betas must be in [0, 1)");
    TAUTRAIN_CHECK_KEY(epsilon > 0, "epsilon", "must be positive");
    TAUTRAIN_CHECK_KEY(device == "cpu" || device.rfind("cuda", 0) == 0, "device", "must be cpu, cuda or cuda:K");
    TAUTRAIN_CHECK_KEY(log_every > 0, "log_every", "must be positive");
    TAUTRAIN_CHECK_KEY(max_batches_per_epoch >= 0, "max_batches_per_epoch", "must be >= 0");
    TAUTRAIN_CHECK_KEY(torch_threads >= 0, "torch_threads", "must be >= 0");
  }
};

}  // namespace tautrain::train
