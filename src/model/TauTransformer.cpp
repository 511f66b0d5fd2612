#include "tautrain/model/TauTransformer.hpp"

#include <torch/torch.h>

#include <cmath>

#include "tautrain/compat/TorchCompat.hpp"
#include "tautrain/model/Attention.hpp"
#include "tautrain/model/Cost.hpp"

namespace tautrain::model {

namespace nn = torch::nn;

SelfAttentionImpl::SelfAttentionImpl(int dModel, int heads, bool fused) : m_heads(heads), m_fused(fused) {
  m_qkv = register_module("qkv", nn::Linear(dModel, 3 * dModel));
  m_out = register_module("out", nn::Linear(dModel, dModel));
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& padding) {
  const auto batch = x.size(0), length = x.size(1), dModel = x.size(2);
  const auto headDim = dModel / m_heads;
  // [B, L, 3, H, Dh] -> three [B, H, L, Dh]
  const auto qkv = m_qkv(x).view({batch, length, 3, m_heads, headDim}).permute({2, 0, 3, 1, 4});
  const auto q = qkv[0], k = qkv[1], v = qkv[2];
  const auto attended =  // [B, H, L, Dh]
      m_fused ? compat::fusedAttention(q, k, v, padding)
              : chunkedAttention(q, k, v, padding,
                                 attentionHeadsPerChunk(static_cast<double>(batch * length * length), m_heads,
                                                        static_cast<int>(q.element_size())));
  return m_out(attended.transpose(1, 2).reshape({batch, length, dModel}));
}

torch::Tensor SelfAttentionImpl::forwardVarlen(const torch::Tensor& x, const torch::Tensor& cuSeqlens,
                                               std::int64_t maxLen) {
  const auto tokens = x.size(0), dModel = x.size(1);
  // [T, 3, H, Dh] -> three [T, H, Dh]
  const auto qkv = m_qkv(x).view({tokens, 3, m_heads, dModel / m_heads});
  const auto attended = compat::varlenAttention(qkv.select(1, 0), qkv.select(1, 1), qkv.select(1, 2), cuSeqlens, maxLen);
  return m_out(attended.reshape({tokens, dModel}));
}

EncoderBlockImpl::EncoderBlockImpl(const ModelConfig& config, bool fusedAttention) {
  m_attention = register_module("attention", SelfAttention(config.d_model, config.heads, fusedAttention));
  m_norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({config.d_model})));
  m_norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({config.d_model})));
  m_ff1 = register_module("ff1", nn::Linear(config.d_model, config.d_ff));
  m_ff2 = register_module("ff2", nn::Linear(config.d_ff, config.d_model));
  m_dropout = register_module("dropout", nn::Dropout(config.dropout));
}

namespace {

/// fp32 without an operator call when it already is (the count of calls is a launch count on GPUs).
torch::Tensor asFloat(const torch::Tensor& x) { return x.scalar_type() == torch::kFloat ? x : x.to(torch::kFloat); }

}  // namespace

torch::Tensor EncoderBlockImpl::forward(const torch::Tensor& x, const TokenLayout& layout) {
  torch::Tensor attended;
  if (layout.varlen()) {
    attended = m_attention->forwardVarlen(x, layout.cu_seqlens, layout.max_len);
  } else if (layout.packed()) {
    const auto dModel = x.size(1);
    const auto padded = torch::zeros({layout.batch * layout.max_len, dModel}, x.options())
                            .index_copy(0, layout.token_slot, x)
                            .view({layout.batch, layout.max_len, dModel});
    attended = m_attention(padded, layout.padding).view({-1, dModel}).index_select(0, layout.token_slot);
  } else {
    attended = m_attention(x, layout.padding);
  }
  // Post-norm, as in the thesis: residual add, then LayerNorm. Norms take fp32 input, as CUDA
  // autocast casts it; LibTorch 1.x's CPU LayerNorm refuses bf16 input with fp32 weights.
  auto h = m_norm1(asFloat(x + m_dropout(attended)));
  return m_norm2(asFloat(h + m_dropout(m_ff2(torch::gelu(m_ff1(h))))));
}

namespace {

void glorot(nn::Module& module) {
  for (auto& p : module.named_parameters(/*recurse=*/true)) {
    if (p.key().find("weight") == std::string::npos || p.value().dim() < 2) continue;
    torch::NoGradGuard guard;
    nn::init::xavier_uniform_(p.value());
  }
  for (auto& p : module.named_parameters(true))
    if (p.key().find("bias") != std::string::npos) {
      torch::NoGradGuard guard;
      p.value().zero_();
    }
}

std::int64_t countOf(const nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace

TauTransformerImpl::TauTransformerImpl(const data::FeatureSchema& schema, const ModelConfig& config)
    : m_config(config) {
  config.validate();
  m_fusedAttention = runsFusedAttention(config);
  TAUTRAIN_CHECK_KEY(!m_fusedAttention || compat::kHasFusedAttention, "model.attention",
                     "fused attention needs LibTorch 2.0 or newer; this build has " TORCH_VERSION);
  TAUTRAIN_CHECK_KEY(config.attention != Attention::kVarlen || compat::kHasVarlenAttention, "model.attention",
                     "varlen attention needs LibTorch 2.2 or newer; this build has " TORCH_VERSION);
  m_varlenAttention = config.layout == Layout::kPacked && compat::kHasVarlenAttention &&
                      (config.attention == Attention::kVarlen || config.attention == Attention::kAuto);
  m_typeEmbedding = register_module("type_embedding", nn::Embedding(schema.tokenTypeCount(), config.type_embedding));
  for (const auto& c : schema.collections) {
    m_collections.push_back(c.name);
    nn::Sequential embed(nn::Linear(c.continuousCount() + config.type_embedding, config.embed_hidden), nn::GELU(),
                         nn::Linear(config.embed_hidden, config.d_model));
    m_embed.push_back(register_module("embed_" + c.name, embed));
  }
  for (int l = 0; l < config.layers; ++l) m_blocks.push_back(register_module("encoder" + std::to_string(l), EncoderBlock(config, m_fusedAttention)));
  m_decoder = register_module(
      "decoder", nn::Sequential(nn::Linear(config.d_model, config.decoder_hidden1), nn::GELU(),
                                nn::Linear(config.decoder_hidden1, config.decoder_hidden2), nn::GELU(),
                                nn::Linear(config.decoder_hidden2, data::kNumClasses)));
  m_dropout = register_module("dropout", nn::Dropout(config.dropout));
  glorot(*this);
}

torch::Tensor TauTransformerImpl::embed(const data::TensorBatch& batch, bool packed, torch::Tensor* tokenSlot) {
  const auto longOptions = torch::TensorOptions().dtype(torch::kLong).device(m_typeEmbedding->weight.device());
  if (packed) *tokenSlot = torch::empty({batch.tokens}, longOptions);
  std::vector<std::pair<torch::Tensor, torch::Tensor>> embedded;  // (row, embedding) per collection
  for (std::size_t c = 0; c < m_embed.size(); ++c) {
    const auto& tokens = batch.collections[c];
    if (tokens.type.numel() == 0) continue;
    const auto input = torch::cat({tokens.features, m_typeEmbedding(tokens.type)}, 1);
    embedded.emplace_back(packed ? tokens.packed_pos : tokens.padded_pos, m_embed[c]->forward(input));
    if (packed) tokenSlot->index_put_({tokens.packed_pos}, tokens.padded_pos);
  }
  // Created after the embeddings so that it takes their dtype under autocast.
  const auto rows = packed ? batch.tokens : batch.size * batch.max_len;
  auto x = torch::zeros({rows, m_config.d_model}, embedded.empty() ? torch::TensorOptions(longOptions).dtype(torch::kFloat)
                                                                   : embedded.front().second.options());
  for (const auto& [row, values] : embedded) x = x.index_put({row}, values);
  if (!packed) x = x.view({batch.size, batch.max_len, m_config.d_model});
  return m_dropout(x);
}

torch::Tensor TauTransformerImpl::embedPadded(const data::TensorBatch& batch) { return embed(batch, false, nullptr); }

torch::Tensor TauTransformerImpl::encodePadded(const torch::Tensor& x, const torch::Tensor& padding) {
  const TokenLayout layout{padding, {}, {}, x.size(0), x.size(1)};
  auto h = x;
  for (auto& block : m_blocks) h = block(h, layout);
  // Sum over real tokens only.
  return m_decoder->forward(h.masked_fill(padding.unsqueeze(-1), 0.0).sum(1));
}

torch::Tensor TauTransformerImpl::forward(const data::TensorBatch& batch) {
  if (m_config.layout == Layout::kPadded) return encodePadded(embedPadded(batch), batch.padding_mask);
  TokenLayout layout{batch.padding_mask, {}, {}, batch.size, batch.max_len};
  auto x = embed(batch, true, &layout.token_slot);
  // The kernel is CUDA only; elsewhere (scoring a checkpoint on a CPU) attention re-pads.
  if (m_varlenAttention && x.is_cuda()) layout.cu_seqlens = batch.cu_seqlens;
  for (auto& block : m_blocks) x = block(x, layout);
  const auto pooled = torch::zeros({batch.size, m_config.d_model}, x.options())
                          .index_add(0, layout.token_slot.div(batch.max_len, "floor"), x);
  return m_decoder->forward(pooled);
}

std::vector<torch::Tensor> TauTransformerImpl::encoderParameters() const {
  std::vector<torch::Tensor> parameters;
  for (const auto& block : m_blocks)
    for (const auto& p : block->parameters()) parameters.push_back(p);
  for (const auto& p : m_decoder->parameters()) parameters.push_back(p);
  return parameters;
}

std::vector<std::pair<std::string, std::int64_t>> TauTransformerImpl::parameterCounts() const {
  std::vector<std::pair<std::string, std::int64_t>> counts{{"type_embedding", countOf(*m_typeEmbedding)}};
  for (std::size_t c = 0; c < m_embed.size(); ++c) counts.emplace_back("embed." + m_collections[c], countOf(*m_embed[c]));
  for (std::size_t l = 0; l < m_blocks.size(); ++l) counts.emplace_back("encoder." + std::to_string(l), countOf(*m_blocks[l]));
  counts.emplace_back("decoder", countOf(*m_decoder));
  return counts;
}

std::int64_t TauTransformerImpl::parameterCount() const { return countOf(*this); }

}  // namespace tautrain::model
