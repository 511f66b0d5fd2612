#pragma once
// The TauTransformer: per-collection feature embeddings plus a shared type embedding, post-norm
// self-attention encoder without positional encoding, masked sum pooling, MLP decoder.
#include <torch/nn.h>

#include <string>
#include <vector>

#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/config/ModelConfig.hpp"

namespace tautrain::model {

/// Multi-head self-attention; padded keys are masked. The reference path is written out and
/// works on every LibTorch, the fused one calls scaled_dot_product_attention.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int dModel, int heads, bool fused);
  /// x [B, L, d], padding [B, L] (true = padding) -> [B, L, d]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& padding);
  /// x [T, d] of candidates one after another, cuSeqlens int32 [B + 1] -> [T, d], through the
  /// variable-length kernel (CUDA only).
  torch::Tensor forwardVarlen(const torch::Tensor& x, const torch::Tensor& cuSeqlens, std::int64_t maxLen);

 private:
  int m_heads;
  bool m_fused;
  torch::nn::Linear m_qkv{nullptr}, m_out{nullptr};
};
TORCH_MODULE(SelfAttention);

/// Where a batch's tokens live. Padded: x is [B, L, d]. Packed: x is [T, d] and token_slot
/// [T] gives each token's slot in [B * L], through which attention scatters and gathers;
/// with cu_seqlens (varlen) attention runs on the packed tokens themselves.
struct TokenLayout {
  torch::Tensor padding;  ///< bool [B, L], true = padding
  torch::Tensor token_slot;
  torch::Tensor cu_seqlens;  ///< int32 [B + 1]
  std::int64_t batch = 0, max_len = 0;
  bool packed() const { return token_slot.defined(); }
  bool varlen() const { return cu_seqlens.defined(); }
};

class EncoderBlockImpl : public torch::nn::Module {
 public:
  EncoderBlockImpl(const ModelConfig& config, bool fusedAttention);
  torch::Tensor forward(const torch::Tensor& x, const TokenLayout& layout);

 private:
  SelfAttention m_attention{nullptr};
  torch::nn::LayerNorm m_norm1{nullptr}, m_norm2{nullptr};
  torch::nn::Linear m_ff1{nullptr}, m_ff2{nullptr};
  torch::nn::Dropout m_dropout{nullptr};
};
TORCH_MODULE(EncoderBlock);

class TauTransformerImpl : public torch::nn::Module {
 public:
  /// Input widths come from the schema: each collection's non-categorical features.
  TauTransformerImpl(const data::FeatureSchema& schema, const ModelConfig& config);
  /// Class logits [B, 4] (e, mu, tau, jet), in the layout of model.layout.
  torch::Tensor forward(const data::TensorBatch& batch);
  /// forward in the padded layout whatever model.layout says, in two parts: the embedded tokens
  /// [B, L, d] (after dropout), then encoder, pooling and decoder -> logits. The second has
  /// fixed shapes per [B, L], which is what a CUDA graph captures.
  torch::Tensor embedPadded(const data::TensorBatch& batch);
  torch::Tensor encodePadded(const torch::Tensor& x, const torch::Tensor& padding);
  /// The weights encodePadded uses (encoder and decoder).
  std::vector<torch::Tensor> encoderParameters() const;
  /// Whether attention runs through the fused kernel (model.attention and the LibTorch version).
  bool fusedAttention() const { return m_fusedAttention; }
  /// Whether packed batches on a CUDA device attend through the variable-length kernel.
  bool varlenAttention() const { return m_varlenAttention; }

  /// Trainable parameters per block ("type_embedding", "embed.pf", "encoder.0", ..., "decoder").
  std::vector<std::pair<std::string, std::int64_t>> parameterCounts() const;
  std::int64_t parameterCount() const;

 private:
  torch::Tensor embed(const data::TensorBatch& batch, bool packed, torch::Tensor* tokenSlot);

  ModelConfig m_config;
  bool m_fusedAttention = false, m_varlenAttention = false;
  std::vector<std::string> m_collections;
  torch::nn::Embedding m_typeEmbedding{nullptr};
  std::vector<torch::nn::Sequential> m_embed;
  std::vector<EncoderBlock> m_blocks;
  torch::nn::Sequential m_decoder{nullptr};
  torch::nn::Dropout m_dropout{nullptr};
};
TORCH_MODULE(TauTransformer);

}  // namespace tautrain::model
