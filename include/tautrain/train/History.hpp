#pragma once
// Per-epoch training history: what history.csv/json hold and what checkpoints carry.
#include <array>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace tautrain::train {

struct EpochRecord {
  int epoch = 0;
  double train_loss = 0;
  double valid_loss = 0;
  double valid_accuracy = 0;
  std::array<double, 4> class_accuracy{};  ///< e, mu, tau, jet
  std::array<double, 3> auc{};             ///< D_e, D_mu, D_jet
  std::array<double, 3> medium_fpr{};      ///< FPR at the Medium working point of each
  double learning_rate = 0;                ///< at the end of the epoch
  double candidates_per_s = 0;
  double seconds = 0;
};

nlohmann::json historyToJson(const std::vector<EpochRecord>& history);
/// `source` names the file in errors.
std::vector<EpochRecord> historyFromJson(const nlohmann::json& json, const std::string& source);
/// Writes DIR/history.json and DIR/history.csv atomically.
void writeHistory(const std::string& directory, const std::vector<EpochRecord>& history);

}  // namespace tautrain::train
