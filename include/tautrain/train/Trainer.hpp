#pragma once
// Training of the TauTransformer: Adam on categorical cross-entropy, validation every epoch,
// early stopping on validation loss, history and checkpoints in the run directory.
#include <array>
#include <string>
#include <vector>

#include "tautrain/config/RunConfig.hpp"

namespace tautrain::train {

struct EpochRecord {
  int epoch = 0;
  double train_loss = 0;
  double valid_loss = 0;
  double valid_accuracy = 0;
  std::array<double, 4> class_accuracy{};  ///< e, mu, tau, jet
  std::array<double, 3> auc{};             ///< D_e, D_mu, D_jet
  std::array<double, 3> medium_fpr{};      ///< FPR at the Medium working point of each
  double learning_rate = 0;
  double candidates_per_s = 0;
  double seconds = 0;
};

struct TrainResult {
  std::vector<EpochRecord> history;
  int best_epoch = 0;
  double best_valid_loss = 0;
  bool early_stopped = false;
};

/// Trains on config.data with config.model and config.train; writes into config.output:
/// scaler.json, history.json, history.csv, checkpoints/epoch-NNN.pt, best.pt, last.pt.
TrainResult runTraining(const config::RunConfig& config);

}  // namespace tautrain::train
