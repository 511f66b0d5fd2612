#pragma once
// The reference (written-out) softmax attention, for LibTorch without a fused kernel (1.x) and
// for `model.attention: reference`. Its [B, H, L, L] probabilities grow with the square of a
// batch's length: a batch of 350 candidates of 300 tokens holds 0.5 GB per block for backward.
// Past a size it runs a few heads at a time and recomputes their scores in backward, so that
// neither the kept nor the transient scores grow past one chunk.
#include <torch/types.h>

#include <cstdint>

namespace tautrain::model {

/// Bytes of one chunk's [B, heads, L, L] scores that the reference attention stays within.
constexpr double kAttentionChunkBytes = 64.0 * 1024 * 1024;

/// Heads whose scores fit kAttentionChunkBytes together (at least 1), for `pairs` = B x L x L
/// query-key pairs per head; `heads` when all do, and the attention keeps its probabilities.
std::int64_t attentionHeadsPerChunk(double pairs, std::int64_t heads, int valueBytes);

/// softmax(q k^T / sqrt(Dh), keys where !padding) v for q, k, v [B, H, L, Dh] and padding
/// [B, L] (true = padding), `headsPerChunk` heads at a time; backward recomputes each chunk's
/// probabilities. The same values as the reference attention, to the last bits of the sums.
torch::Tensor chunkedAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& padding, std::int64_t headsPerChunk);

}  // namespace tautrain::model
