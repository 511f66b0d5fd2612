#pragma once
// The trained parameters stored in a checkpoint, for tests that compare runs.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "tautrain/config/RunConfig.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/model/TauTransformer.hpp"
#include "tautrain/train/Checkpoint.hpp"

namespace tautrain::test {

/// Parameter name -> value, from a model built with the checkpoint's own config.
inline std::map<std::string, torch::Tensor> namedParametersOf(const std::string& checkpoint) {
  const auto state = train::readCheckpointState(checkpoint);
  const auto config = config::parseRunConfig(state.config_yaml, checkpoint);
  model::TauTransformer model(data::FeatureSchema::fromSpec(config.data.features), config.model);
  train::restoreCheckpoint(checkpoint, *model, nullptr, torch::kCPU);
  std::map<std::string, torch::Tensor> named;
  for (const auto& item : model->named_parameters()) named[item.key()] = item.value().detach();
  return named;
}

/// The parameters in the model's order.
inline std::vector<torch::Tensor> parametersOf(const std::string& checkpoint) {
  std::vector<torch::Tensor> values;
  for (auto& [name, value] : namedParametersOf(checkpoint)) values.push_back(value);
  return values;
}

}  // namespace tautrain::test
