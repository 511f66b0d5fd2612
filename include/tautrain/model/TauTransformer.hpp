#pragma once
// The TauTransformer: per-collection feature embeddings plus a shared type embedding, post-norm
// self-attention encoder without positional encoding, masked sum pooling, MLP decoder.
#include <torch/nn.h>

#include <string>
#include <vector>

#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/model/ModelConfig.hpp"

namespace tautrain::model {

/// Multi-head self-attention written out (works on every LibTorch); padded keys are masked.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int dModel, int heads);
  /// x [B, L, d], padding [B, L] (true = padding) -> [B, L, d]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& padding);

 private:
  int m_heads;
  torch::nn::Linear m_qkv{nullptr}, m_out{nullptr};
};
TORCH_MODULE(SelfAttention);

class EncoderBlockImpl : public torch::nn::Module {
 public:
  EncoderBlockImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& padding);

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
  /// Class logits [B, 4] (e, mu, tau, jet).
  torch::Tensor forward(const data::TensorBatch& batch);

  /// Trainable parameters per block ("type_embedding", "embed.pf", "encoder.0", ..., "decoder").
  std::vector<std::pair<std::string, std::int64_t>> parameterCounts() const;
  std::int64_t parameterCount() const;

 private:
  ModelConfig m_config;
  std::vector<std::string> m_collections;
  torch::nn::Embedding m_typeEmbedding{nullptr};
  std::vector<torch::nn::Sequential> m_embed;
  std::vector<EncoderBlock> m_blocks;
  torch::nn::Sequential m_decoder{nullptr};
  torch::nn::Dropout m_dropout{nullptr};
};
TORCH_MODULE(TauTransformer);

}  // namespace tautrain::model
