#include "tautrain/train/History.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tautrain/core/Error.hpp"
#include "tautrain/io/Json.hpp"

namespace tautrain::train {

nlohmann::json historyToJson(const std::vector<EpochRecord>& history) {
  nlohmann::json json = nlohmann::json::array();
  for (const auto& r : history)
    json.push_back({{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"valid_loss", r.valid_loss},
                    {"valid_accuracy", r.valid_accuracy}, {"class_accuracy", r.class_accuracy}, {"auc", r.auc},
                    {"medium_wp_fpr", r.medium_fpr}, {"learning_rate", r.learning_rate},
                    {"candidates_per_s", r.candidates_per_s}, {"seconds", r.seconds}});
  return json;
}

std::vector<EpochRecord> historyFromJson(const nlohmann::json& json, const std::string& source) {
  std::vector<EpochRecord> history;
  try {
    for (const auto& item : json) {
      EpochRecord r;
      item.at("epoch").get_to(r.epoch);
      item.at("train_loss").get_to(r.train_loss);
      item.at("valid_loss").get_to(r.valid_loss);
      item.at("valid_accuracy").get_to(r.valid_accuracy);
      item.at("class_accuracy").get_to(r.class_accuracy);
      item.at("auc").get_to(r.auc);
      item.at("medium_wp_fpr").get_to(r.medium_fpr);
      item.at("learning_rate").get_to(r.learning_rate);
      item.at("candidates_per_s").get_to(r.candidates_per_s);
      item.at("seconds").get_to(r.seconds);
      history.push_back(r);
    }
  } catch (const nlohmann::json::exception& e) {
    throw DataError(source + ": bad training history: " + e.what());
  }
  return history;
}

void writeHistory(const std::string& directory, const std::vector<EpochRecord>& history) {
  std::string csv = "epoch,train_loss,valid_loss,valid_accuracy,acc_e,acc_mu,acc_tau,acc_jet,auc_D_e,auc_D_mu,auc_D_jet,"
                    "fpr_medium_D_e,fpr_medium_D_mu,fpr_medium_D_jet,learning_rate,candidates_per_s,seconds\n";
  for (const auto& r : history)
    csv += fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6g},{:.6g},{:.6g},{:g},"
                       "{:.1f},{:.2f}\n",
                       r.epoch, r.train_loss, r.valid_loss, r.valid_accuracy, r.class_accuracy[0],
                       r.class_accuracy[1], r.class_accuracy[2], r.class_accuracy[3], r.auc[0], r.auc[1], r.auc[2],
                       r.medium_fpr[0], r.medium_fpr[1], r.medium_fpr[2], r.learning_rate, r.candidates_per_s,
                       r.seconds);
  const std::filesystem::path dir(directory);
  io::writeJson((dir / "history.json").string(), historyToJson(history));
  io::writeFileAtomic((dir / "history.csv").string(), csv);
}

}  // namespace tautrain::train
