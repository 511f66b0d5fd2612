#pragma once
// Training of the TauTransformer: Adam on weighted categorical cross-entropy, validation every
// epoch, early stopping on validation loss, checkpoints that resume bit for bit.
#include <string>
#include <vector>

#include "tautrain/config/RunConfig.hpp"
#include "tautrain/train/History.hpp"

namespace tautrain::train {

struct TrainResult {
  std::vector<EpochRecord> history;
  int best_epoch = 0;
  double best_valid_loss = 0;
  bool early_stopped = false;
  /// Stopped before the end (SIGTERM/SIGINT or train.stop_after_steps) after writing last.pt;
  /// `tautrain train --resume` continues.
  bool interrupted = false;
};

/// Trains on config.data with config.model and config.train; writes into config.output:
/// scaler.json, history.json, history.csv, checkpoints/epoch-NNN.pt, best.pt, last.pt and
/// roc-best.csv. With `resumeFrom`, continues from that checkpoint (see readCheckpointState
/// for the config it was written with).
TrainResult runTraining(const config::RunConfig& config, const std::string& resumeFrom = "");

}  // namespace tautrain::train
