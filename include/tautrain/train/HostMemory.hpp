#pragma once
// Host memory of one training process at its peak, part by part: what `tautrain condor` asks
// HTCondor for (request_memory) and what a run compares its measured peak with
// (docs/htcondor.md#host-memory).
#include <cstdint>

#include "tautrain/data/Shard.hpp"

namespace tautrain::config {
struct RunConfig;
}

namespace tautrain::train {

struct HostMemory {
  double program = 0;   ///< code, libraries and LibTorch's own state before any data
  double index = 0;     ///< shards' index and metadata caches, the loaders' token counts and plans
  double windows = 0;   ///< raw features of the windows the loader threads hold, and batches ahead
  double training = 0;  ///< weights, gradients, Adam moments and activations, when training on the CPU
  double total() const { return program + index + windows + training; }
};

/// The peak of one rank of a run of `config` on `train` and `valid` (worldSize ranks share the
/// plan), with training candidates of up to `longest` tokens (validation keeps no activations
/// for backward). On a GPU the training state lives there (jobs::estimateGpuMemoryMb) and the
/// process holds the CUDA runtime instead.
HostMemory predictHostMemory(const config::RunConfig& config, const data::DataExtent& train,
                             const data::DataExtent& valid, std::int64_t parameters, std::int64_t longest, bool onGpu,
                             int worldSize = 1);

}  // namespace tautrain::train
