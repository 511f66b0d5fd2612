#pragma once
// A HostBatch as LibTorch tensors (the only data header that needs torch).
#include <torch/types.h>

#include <string>
#include <vector>

#include "tautrain/data/HostBatch.hpp"

namespace tautrain::data {

struct TensorCollection {
  std::string name;
  torch::Tensor features;    ///< float [n_tokens, n_features]
  torch::Tensor type;        ///< int64 [n_tokens]
  torch::Tensor padded_pos;  ///< int64 [n_tokens], into [size * max_len]
  torch::Tensor packed_pos;  ///< int64 [n_tokens], into [total tokens]
};

struct TensorBatch {
  std::int64_t size = 0;
  std::int64_t max_len = 0;
  std::int64_t tokens = 0;  ///< real tokens, the packed length
  std::vector<TensorCollection> collections;
  torch::Tensor padding_mask;  ///< bool [size, max_len], true = padding
  torch::Tensor cu_seqlens;    ///< int32 [size + 1]
  torch::Tensor label;         ///< int64 [size]
  torch::Tensor weight;        ///< float [size]

  /// Copies to a device; non_blocking overlaps the copy with compute when the source is pinned.
  TensorBatch to(const torch::Device& device, bool non_blocking = true) const;
};

/// Builds CPU tensors, in page-locked memory when pinned (needs a CUDA build).
TensorBatch toTensors(const HostBatch& batch, bool pinned = false);

}  // namespace tautrain::data
