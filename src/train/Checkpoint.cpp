#include "tautrain/train/Checkpoint.hpp"

#include <torch/serialize.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tautrain/compat/TorchCompat.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/io/Json.hpp"

namespace tautrain::train {

namespace {

constexpr int kFormatVersion = 1;

nlohmann::json stateToJson(const TrainingState& s) {
  return {{"format_version", kFormatVersion}, {"epoch", s.epoch}, {"step", s.step}, {"global_step", s.global_step},
          {"epoch_complete", s.epoch_complete}, {"loss_sum", s.loss_sum}, {"candidates", s.candidates},
          {"seconds", s.seconds}, {"best_epoch", s.best_epoch}, {"best_valid_loss", s.best_valid_loss},
          {"stalled", s.stalled}, {"history", historyToJson(s.history)}, {"config", s.config_yaml},
          {"scaler", s.scaler_json}};
}

/// Tensors land on `device`, where model and optimizer state live.
torch::serialize::InputArchive openArchive(const std::string& path, const torch::Device& device = torch::kCPU) {
  TAUTRAIN_CHECK(std::filesystem::exists(path), DataError, path, ": checkpoint not found");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, device);
  } catch (const c10::Error& e) {
    throw DataError(path + ": not a readable tautrain checkpoint: " + e.what_without_backtrace());
  }
  return archive;
}

}  // namespace

torch::Tensor rankRngState(const torch::Device& device) {
  auto row = compat::rngState(torch::kCPU).reshape({-1});
  if (device.is_cuda()) row = torch::cat({row, compat::rngState(device).cpu().reshape({-1})});
  return row.unsqueeze(0);
}

void saveCheckpoint(const std::vector<std::string>& paths, const torch::nn::Module& model,
                    const torch::optim::Optimizer& optimizer, const TrainingState& state, const torch::Device& device,
                    const torch::Tensor& rankRng) {
  torch::serialize::OutputArchive archive, modelArchive, optimizerArchive;
  model.save(modelArchive);
  optimizer.save(optimizerArchive);
  archive.write("model", modelArchive);
  archive.write("optimizer", optimizerArchive);
  archive.write("state", c10::IValue(stateToJson(state).dump()));
  archive.write("rng_cpu", compat::rngState(torch::kCPU));
  if (device.is_cuda()) archive.write("rng_device", compat::rngState(device));
  if (rankRng.defined()) archive.write("rng_ranks", rankRng.cpu());
  std::ostringstream bytes;
  archive.save_to(bytes);
  for (const auto& path : paths) io::writeFileAtomic(path, bytes.str());
}

TrainingState readCheckpointState(const std::string& path) {
  auto archive = openArchive(path);
  TrainingState s;
  try {
    c10::IValue value;
    archive.read("state", value);
    const auto json = nlohmann::json::parse(value.toStringRef());
    TAUTRAIN_CHECK(json.at("format_version").get<int>() == kFormatVersion, DataError, path,
                   ": checkpoint format version ", json.at("format_version").get<int>(), ", this build reads ",
                   kFormatVersion);
    json.at("epoch").get_to(s.epoch);
    json.at("step").get_to(s.step);
    json.at("global_step").get_to(s.global_step);
    json.at("epoch_complete").get_to(s.epoch_complete);
    json.at("loss_sum").get_to(s.loss_sum);
    json.at("candidates").get_to(s.candidates);
    json.at("seconds").get_to(s.seconds);
    json.at("best_epoch").get_to(s.best_epoch);
    json.at("best_valid_loss").get_to(s.best_valid_loss);
    json.at("stalled").get_to(s.stalled);
    json.at("config").get_to(s.config_yaml);
    json.at("scaler").get_to(s.scaler_json);
    s.history = historyFromJson(json.at("history"), path);
  } catch (const c10::Error& e) {
    throw DataError(path + ": checkpoint without training state: " + e.what_without_backtrace());
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path + ": bad checkpoint state: " + e.what());
  }
  return s;
}

data::StandardScaler checkpointScaler(const TrainingState& state, const std::string& path) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(state.scaler_json);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path + ": the checkpoint holds no readable standard scaler: " + e.what());
  }
  return data::StandardScaler::fromJson(json, path);
}

bool restoreCheckpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                       const torch::Device& device, int rank, int worldSize) {
  model.to(device);
  auto archive = openArchive(path, device);
  try {
    torch::serialize::InputArchive modelArchive;
    archive.read("model", modelArchive);
    model.load(modelArchive);
    if (!optimizer) return true;
    torch::serialize::InputArchive optimizerArchive;
    archive.read("optimizer", optimizerArchive);
    optimizer->load(optimizerArchive);
    torch::Tensor rng;
    if (worldSize > 1) {
      // Each rank continues its own dropout stream; a checkpoint of another world size has none.
      if (!archive.try_read("rng_ranks", rng) || rng.size(0) != worldSize) return false;
      const auto row = rng[rank];
      const auto cpuBytes = compat::rngState(torch::kCPU).numel();
      compat::setRngState(torch::kCPU, row.narrow(0, 0, cpuBytes).clone());
      if (device.is_cuda())
        compat::setRngState(device, row.narrow(0, cpuBytes, row.size(0) - cpuBytes).clone());
      return true;
    }
    archive.read("rng_cpu", rng);
    compat::setRngState(torch::kCPU, rng.cpu());
    if (device.is_cuda() && archive.try_read("rng_device", rng)) compat::setRngState(device, rng.cpu());
  } catch (const c10::Error& e) {
    throw DataError(path + ": checkpoint does not fit this model or optimizer: " + e.what_without_backtrace());
  }
  return true;
}

}  // namespace tautrain::train
