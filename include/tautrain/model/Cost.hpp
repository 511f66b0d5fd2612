#pragma once
// Arithmetic and memory traffic of the TauTransformer on a batch's real tokens: the physical
// floor that throughput is compared with (docs/gpu.md, "How far from the floor").
#include <cstdint>
#include <vector>

#include "tautrain/config/ModelConfig.hpp"
#include "tautrain/data/Batching.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/data/HostBatch.hpp"

namespace tautrain::model {

/// FLOPs count matrix products only (2 per multiply-add): element-wise work is small in FLOPs
/// but shows up in bytes. Bytes are a lower bound of memory traffic, every tensor moved once.
struct Cost {
  double flops = 0;
  double bytes = 0;
  Cost& operator+=(const Cost& other) {
    flops += other.flops, bytes += other.bytes;
    return *this;
  }
};

/// What a batch's activation memory depends on. A planned batch whose padding is not known
/// yet is bounded by tokens = token_slots.
struct BatchShape {
  double tokens = 0;       // real tokens
  double token_slots = 0;  // candidates x longest
  double longest = 0;      // tokens of the longest candidate
  static BatchShape of(const data::HostBatch& batch);
};

/// Whether the model's padded attention (and varlen's fallback off CUDA) runs fused under
/// `config` with this LibTorch (auto: where it can).
bool runsFusedAttention(const ModelConfig& config);

class CostModel {
 public:
  /// valueBytes: size of an activation (2 for bf16, 4 for fp32).
  CostModel(const data::FeatureSchema& schema, const ModelConfig& config, int valueBytes);

  /// One forward pass without padding: inputs read once, the residual stream read and written
  /// once per block.
  Cost inference(const data::HostBatch& batch) const;
  /// Forward + backward (backward ~ 2 x forward FLOPs) + one Adam update of `parameters`
  /// fp32 weights. Bytes: inputs read once; per block the activations backward needs
  /// (savedValuesPerToken) written once and read once, the residual stream and its gradient
  /// read and written once; Adam reads weight, gradient and both moments and writes three.
  Cost training(const data::HostBatch& batch, std::int64_t parameters) const;

  /// Values per token that one encoder block keeps for the backward pass, attention scores
  /// aside: the block's input, q/k/v, the output projection's input, two dropout masks, both
  /// norms' inputs, the feed-forward's input (d_model each) and its hidden layer before and
  /// after the GELU (d_ff each): 10 d_model + 2 d_ff.
  double savedValuesPerToken() const;

  /// Memory of one training step at its peak: fp32 weights, gradients and both Adam moments of
  /// `parameters`, and the activations of `batch`. Attention works on the padded token slots in
  /// both layouts (its input, q/k/v and output projection's input: 5 d_model); the rest of a
  /// block works on the slots when padded and on the real tokens when packed; the embedding
  /// always on the real tokens. The reference attention keeps its [heads, L, L] probabilities
  /// in every block, and the last block's backward needs two more as far as they exceed its
  /// freed feed-forward values; past kAttentionChunkBytes it keeps none and needs three of one
  /// chunk of heads (model/Attention.hpp); fused attention keeps none. Checked against measured peaks in
  /// tests (CPU, both layouts) and by `tautrain bench train` (CPU and CUDA).
  double trainingMemoryBytes(std::int64_t parameters, const BatchShape& batch) const;

  /// The most trainingMemoryBytes that any batch `limits` allows can need, for candidates of up
  /// to `longest` tokens, every candidate as long as the longest (nothing known of padding). Under
  /// an attention budget the worst batch need not be the longest one: shorter ones hold more
  /// candidates, so every length up to `longest` is tried.
  double worstTrainingMemoryBytes(std::int64_t parameters, const data::BatchingOptions& limits,
                                  std::int64_t longest) const;

  /// Multiply-adds per token of each collection's embedding, of one encoder block, per
  /// (query, key) pair of one block's attention, and per candidate in the decoder.
  const std::vector<double>& embedMacsPerToken() const { return m_embedMacs; }
  double blockMacsPerToken() const { return m_blockMacs; }
  double attentionMacsPerPair() const { return m_pairMacs; }
  double decoderMacsPerCandidate() const { return m_decoderMacs; }

 private:
  double forwardFlops(const data::HostBatch& batch) const;
  double inputBytes(const data::HostBatch& batch) const;

  ModelConfig m_config;
  bool m_fusedAttention;
  int m_valueBytes;
  std::vector<double> m_embedMacs, m_inputBytesPerToken;
  double m_blockMacs = 0, m_pairMacs = 0, m_decoderMacs = 0;
};

}  // namespace tautrain::model
