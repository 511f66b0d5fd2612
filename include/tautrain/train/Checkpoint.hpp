#pragma once
// A checkpoint is one file that holds everything needed to continue a run bit for bit: model
// weights, optimizer state, the random generators, the resolved config, the scaler, the
// position in the epoch and the history. Evaluation needs nothing else either.
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tautrain/data/Scaler.hpp"
#include "tautrain/train/History.hpp"

namespace tautrain::train {

struct TrainingState {
  int epoch = 1;                ///< the epoch in progress, or the last one done when epoch_complete
  std::int64_t step = 0;        ///< training steps done in `epoch`
  std::int64_t global_step = 0; ///< training steps done in the run
  bool epoch_complete = false;  ///< `epoch` is validated and in history
  double loss_sum = 0;          ///< of the steps done in `epoch`
  std::int64_t candidates = 0;  ///< trained on in `epoch`
  double seconds = 0;           ///< spent training in `epoch`
  int best_epoch = 0;
  double best_valid_loss = 0;
  int stalled = 0;              ///< epochs since the best one
  std::vector<EpochRecord> history;
  std::string config_yaml;
  std::string scaler_json;
};

/// Serialises the checkpoint once and writes it to every one of `paths` atomically (temporary
/// file, fsync, rename): the previous file at each path survives any failure. `rankRng` holds
/// every rank's generator states of a data-parallel run, one row per rank (see rankRngState).
void saveCheckpoint(const std::vector<std::string>& paths, const torch::nn::Module& model,
                    const torch::optim::Optimizer& optimizer, const TrainingState& state, const torch::Device& device,
                    const torch::Tensor& rankRng = {});

/// This process's CPU and `device` generator states as one uint8 row, for rankRng.
torch::Tensor rankRngState(const torch::Device& device);

/// Reads only the state: config, scaler, position and history.
TrainingState readCheckpointState(const std::string& path);

/// The standard scaler the checkpoint's model was trained with; a DataError naming `path` when
/// the checkpoint holds none or an unreadable one.
data::StandardScaler checkpointScaler(const TrainingState& state, const std::string& path);

/// Loads weights into a model built from the checkpoint's config; with an optimizer, also its
/// state and the random generators of the CPU and of `device` (rank `rank`'s of `worldSize`).
/// Returns false when the checkpoint holds no generator states for this rank and world size.
bool restoreCheckpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                       const torch::Device& device, int rank = 0, int worldSize = 1);

}  // namespace tautrain::train
