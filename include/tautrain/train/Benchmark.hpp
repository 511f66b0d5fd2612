#pragma once
// Training and inference throughput of one config, for smart vs random batching and padded vs
// packed layouts, measured in one run so that the ratios are fair.
#include <cstdint>
#include <string>
#include <vector>

#include "tautrain/config/RunConfig.hpp"

namespace tautrain::train {

struct ThroughputOptions {
  std::int64_t warmup_steps = 5;
  std::int64_t steps = 30;
  int rounds = 3;  ///< the median over rounds is reported
};

struct Throughput {
  bool smart = true;
  std::string layout;
  double padding_efficiency = 0;  ///< real over padded tokens in the timed batches
  double train_candidates_per_s = 0;
  double infer_candidates_per_s = 0;
};

/// Runs every variant on config.data's training files with config.model and config.train
/// (device, precision); returns one row per variant.
std::vector<Throughput> measureThroughput(const config::RunConfig& config, const ThroughputOptions& options);

/// Element counts of the model's parameters (its gradient tensors), for all-reduce benchmarks.
std::vector<std::int64_t> parameterSizes(const config::RunConfig& config);

}  // namespace tautrain::train
