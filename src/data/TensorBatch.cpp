#include "tautrain/data/TensorBatch.hpp"

#include <torch/torch.h>

#include <cstring>

namespace tautrain::data {

namespace {

template <typename T>
torch::Tensor tensorFrom(const std::vector<T>& values, std::vector<std::int64_t> shape, torch::ScalarType type,
                         bool pinned) {
  auto options = torch::TensorOptions().dtype(type).pinned_memory(pinned);
  torch::Tensor t = torch::empty(shape, options);
  if (!values.empty()) std::memcpy(t.data_ptr(), values.data(), values.size() * sizeof(T));
  return t;
}

}  // namespace

TensorBatch toTensors(const HostBatch& batch, bool pinned) {
  pinned = pinned && torch::cuda::is_available();
  TensorBatch out;
  out.size = batch.size;
  out.max_len = batch.max_len;
  out.tokens = batch.realTokens();
  for (const auto& c : batch.collections) {
    TensorCollection t;
    t.name = c.collection;
    t.features = tensorFrom(c.features, {c.tokens(), c.n_features}, torch::kFloat32, pinned);
    t.type = tensorFrom(c.type, {c.tokens()}, torch::kInt64, pinned);
    t.padded_pos = tensorFrom(c.padded_pos, {c.tokens()}, torch::kInt64, pinned);
    t.packed_pos = tensorFrom(c.packed_pos, {c.tokens()}, torch::kInt64, pinned);
    out.collections.push_back(std::move(t));
  }
  out.padding_mask = tensorFrom(batch.padding_mask, {batch.size, batch.max_len}, torch::kBool, pinned);
  out.cu_seqlens = tensorFrom(batch.cu_seqlens, {batch.size + 1}, torch::kInt32, pinned);
  out.label = tensorFrom(batch.label, {batch.size}, torch::kInt64, pinned);
  out.weight = tensorFrom(batch.weight, {batch.size}, torch::kFloat32, pinned);
  return out;
}

TensorBatch TensorBatch::to(const torch::Device& device, bool non_blocking) const {
  TensorBatch out = *this;
  for (auto& c : out.collections) {
    c.features = c.features.to(device, non_blocking);
    c.type = c.type.to(device, non_blocking);
    c.padded_pos = c.padded_pos.to(device, non_blocking);
    c.packed_pos = c.packed_pos.to(device, non_blocking);
  }
  out.padding_mask = padding_mask.to(device, non_blocking);
  out.cu_seqlens = cu_seqlens.to(device, non_blocking);
  out.label = label.to(device, non_blocking);
  out.weight = weight.to(device, non_blocking);
  return out;
}

}  // namespace tautrain::data
