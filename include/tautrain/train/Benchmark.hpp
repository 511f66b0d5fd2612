#pragma once
// Training and inference throughput of one config, for smart vs random batching and padded vs
// packed layouts (and, on CUDA, the encoder replayed from CUDA graphs), measured in one run so
// that the ratios are fair.
#include <cstdint>
#include <string>
#include <vector>

#include "tautrain/config/RunConfig.hpp"
#include "tautrain/model/Cost.hpp"

namespace tautrain::train {

struct ThroughputOptions {
  std::int64_t warmup_steps = 5;
  std::int64_t steps = 30;
  int rounds = 3;  ///< the median over rounds is reported
};

struct Throughput {
  bool smart = true;
  model::Layout layout = model::Layout::kPadded;
  /// The encoder replayed from CUDA graphs (padded, lengths bucketed); only on CUDA devices.
  bool cuda_graphs = false;
  double padding_efficiency = 0;  ///< real over padded tokens in the timed batches
  double train_candidates_per_s = 0;
  double infer_candidates_per_s = 0;
  model::Cost train_cost, infer_cost;  ///< per candidate of the timed batches, real tokens only
  /// Memory of training at its peak, weights included: on CUDA the allocator's peak over the
  /// timed steps, on the CPU a first step (on the batch of the highest estimate) counted by
  /// compat::HostMemoryCounter; -1: not known here (CUDA before LibTorch 2.9).
  std::int64_t train_peak_memory_bytes = -1;
  /// The cost model's prediction of that peak (model::CostModel::trainingMemoryBytes) for the
  /// most demanding timed batch, padding included.
  std::int64_t train_memory_estimate_bytes = 0;
  /// ATen operators per step not called from inside another: about the kernel launches on a GPU.
  std::int64_t train_operators_per_step = 0, infer_operators_per_step = 0;
  /// Host time per timed step: how long the step's calls take to return (on a GPU they only
  /// queue work, so this is what launches cost).
  double train_host_ms_per_step = 0, infer_host_ms_per_step = 0;
};

/// What the device does at best, measured in the same run: a large matmul in the precision of
/// training (bf16, TF32 or fp32) and a large device-to-device copy (bytes read + written).
struct DevicePeak {
  std::string dtype;
  double flops_per_s = 0;
  double bytes_per_s = 0;
};

/// Candidates/s that neither the arithmetic nor the memory traffic of `perCandidate` would
/// allow to exceed on `peak`: the physical floor of the step time, as a rate.
double floorRate(const model::Cost& perCandidate, const DevicePeak& peak);

struct ThroughputReport {
  std::vector<Throughput> rows;
  DevicePeak peak;
  std::int64_t parameters = 0;
  int threads = 0;  ///< LibTorch's intra-op threads (CPU)
  /// Tokens of each collection (schema order) of every timed candidate of the random-batching
  /// variant, so that an outside baseline can run the same candidates: [collection][candidate].
  std::vector<std::vector<std::int64_t>> timed_tokens;
};

/// Runs every variant on config.data's training files with config.model and config.train
/// (device, precision); one row per variant.
ThroughputReport measureThroughput(const config::RunConfig& config, const ThroughputOptions& options);

/// Element counts of the model's parameters (its gradient tensors), for all-reduce benchmarks.
std::vector<std::int64_t> parameterSizes(const config::RunConfig& config);

}  // namespace tautrain::train
