#pragma once
// Inference of a checkpoint over a data set: the step between model and evaluation.
#include <string>
#include <vector>

#include "tautrain/eval/Scores.hpp"

namespace tautrain::train {

/// Scores every candidate of `shards` with the model of `checkpoint` (its own
/// schema, config and scaler) in smart batches without gradients; rows follow the data order.
eval::ScoreTable scoreCheckpoint(const std::string& checkpoint, const std::vector<std::string>& shards,
                                 const std::string& device);

}  // namespace tautrain::train
