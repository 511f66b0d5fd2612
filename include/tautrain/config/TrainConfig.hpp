#pragma once
// The `train` section: optimiser, early stopping and device (docs/physics.md §4).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Names.hpp"

namespace tautrain::train {

enum class LrSchedule { kConstant, kCosine, kExponential };
constexpr std::array<core::Named<LrSchedule>, 3> names(LrSchedule) {
  return {{{LrSchedule::kConstant, "constant"}, {LrSchedule::kCosine, "cosine"}, {LrSchedule::kExponential, "exponential"}}};
}

/// Arithmetic of the forward and backward passes; weights, optimizer and loss stay fp32.
enum class Precision { kFp32, kBf16 };
constexpr std::array<core::Named<Precision>, 2> names(Precision) {
  return {{{Precision::kFp32, "fp32"}, {Precision::kBf16, "bf16"}}};
}

/// CUDA graphs of the encoder per batch shape: kAuto where train.device is CUDA, kOn insists.
enum class CudaGraphs { kAuto, kOn, kOff };
constexpr std::array<core::Named<CudaGraphs>, 3> names(CudaGraphs) {
  return {{{CudaGraphs::kAuto, "auto"}, {CudaGraphs::kOn, "on"}, {CudaGraphs::kOff, "off"}}};
}

struct TrainConfig {
  int max_epochs = 100;
  int patience = 10;
  double learning_rate = 1e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-7;
  std::string device = "cpu";
  int log_every = 50;
  bool tensorboard = true;
  std::int64_t max_batches_per_epoch = 0;
  int torch_threads = 0;
  LrSchedule lr_schedule = LrSchedule::kConstant;
  std::int64_t warmup_steps = 0;
  double min_learning_rate = 0;
  double lr_decay = 0.95;
  std::vector<double> class_weights{1, 1, 1, 1};
  bool sample_weights = true;
  std::int64_t checkpoint_every_steps = 0;
  double checkpoint_every_minutes = 0;
  int keep_checkpoints = 0;
  int checkpoint_exit_code = 85;
  std::int64_t stop_after_steps = 0;
  bool exit_after_checkpoint = false;
  Precision precision = Precision::kFp32;
  bool allow_tf32 = true;
  bool cudnn_benchmark = false;
  CudaGraphs cuda_graphs = CudaGraphs::kAuto;
  int cuda_graph_limit = 32;

  template <class V>
  void describe(V& v) {
    v("max_epochs", max_epochs, "stop after this many epochs at the latest");
    v("patience", patience, "early stopping: epochs without a better validation loss");
    v("learning_rate", learning_rate, "Adam");
    v("beta1", beta1, "");
    v("beta2", beta2, "");
    v("epsilon", epsilon, "");
    v("device", device, "cpu, cuda or cuda:K");
    v("log_every", log_every, "progress line and step scalars every N global steps");
    v("tensorboard", tensorboard, "write TensorBoard scalars to the run directory (events.out.tfevents.*)");
    v("max_batches_per_epoch", max_batches_per_epoch, "cap on training batches per epoch (0: all)");
    v("torch_threads", torch_threads, "intra-op threads of LibTorch (0: its default)");
    v("lr_schedule", lr_schedule, "cosine: to min_learning_rate at max_epochs; exponential: lr_decay per epoch");
    v("warmup_steps", warmup_steps, "linear warm-up from 0 over this many steps");
    v("min_learning_rate", min_learning_rate, "floor of the cosine schedule");
    v("lr_decay", lr_decay, "exponential schedule: factor per epoch");
    v("class_weights", class_weights, "loss weight per class e, mu, tau, jet");
    v("sample_weights", sample_weights, "multiply each candidate's loss by its weight column");
    v("checkpoint_every_steps", checkpoint_every_steps, "also checkpoint (last.pt) every N steps (0: off)");
    v("checkpoint_every_minutes", checkpoint_every_minutes, "also checkpoint (last.pt) every N minutes (0: off)");
    v("keep_checkpoints", keep_checkpoints, "epoch checkpoints kept besides the best one (0: all)");
    v("checkpoint_exit_code", checkpoint_exit_code, "exit code after a checkpoint on SIGTERM/SIGINT or stop_after_steps");
    v("stop_after_steps", stop_after_steps, "checkpoint and stop after this many steps in total (0: off)");
    v("exit_after_checkpoint", exit_after_checkpoint,
      "exit with checkpoint_exit_code after each checkpoint_every_steps/minutes checkpoint (HTCondor self-checkpointing)");
    v("precision", precision, "bf16: autocast; weights, optimizer and loss stay fp32");
    v("allow_tf32", allow_tf32, "TF32 matmuls on CUDA");
    v("cudnn_benchmark", cudnn_benchmark, "cuDNN autotuning on CUDA");
    v("cuda_graphs", cuda_graphs,
      "replay the encoder as one CUDA graph per batch shape (lengths bucketed); auto: on CUDA, off elsewhere");
    v("cuda_graph_limit", cuda_graph_limit, "graphs captured at most; further shapes run eagerly");
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
    TAUTRAIN_CHECK_KEY(warmup_steps >= 0, "warmup_steps", "must be >= 0");
    TAUTRAIN_CHECK_KEY(min_learning_rate >= 0 && min_learning_rate <= learning_rate, "min_learning_rate",
                       "must be in [0, learning_rate]");
    TAUTRAIN_CHECK_KEY(lr_decay > 0 && lr_decay <= 1, "lr_decay", "must be in (0, 1]");
    TAUTRAIN_CHECK_KEY(class_weights.size() == 4, "class_weights", "needs 4 values (e, mu, tau, jet), got ",
                       class_weights.size());
    for (double w : class_weights) TAUTRAIN_CHECK_KEY(w >= 0, "class_weights", "must be >= 0, got ", w);
    TAUTRAIN_CHECK_KEY(checkpoint_every_steps >= 0, "checkpoint_every_steps", "must be >= 0");
    TAUTRAIN_CHECK_KEY(checkpoint_every_minutes >= 0, "checkpoint_every_minutes", "must be >= 0");
    TAUTRAIN_CHECK_KEY(keep_checkpoints >= 0, "keep_checkpoints", "must be >= 0");
    TAUTRAIN_CHECK_KEY(checkpoint_exit_code >= 0 && checkpoint_exit_code < 256, "checkpoint_exit_code",
                       "must be in [0, 255]");
    TAUTRAIN_CHECK_KEY(stop_after_steps >= 0, "stop_after_steps", "must be >= 0");
    TAUTRAIN_CHECK_KEY(cuda_graphs != CudaGraphs::kOn || device.rfind("cuda", 0) == 0, "cuda_graphs",
                       "on needs train.device cuda, not ", device);
    TAUTRAIN_CHECK_KEY(cuda_graph_limit >= 0, "cuda_graph_limit", "must be >= 0");
    TAUTRAIN_CHECK_KEY(!exit_after_checkpoint || checkpoint_every_steps > 0 || checkpoint_every_minutes > 0,
                       "exit_after_checkpoint", "needs checkpoint_every_steps or checkpoint_every_minutes");
  }
};

}  // namespace tautrain::train
