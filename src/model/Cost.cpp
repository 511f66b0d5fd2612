#include "tautrain/model/Cost.hpp"

#include <algorithm>

#include "tautrain/compat/TorchCompat.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/model/Attention.hpp"

namespace tautrain::model {

namespace {

/// Adam touches four fp32 values per weight and writes back three.
constexpr double kAdamBytesPerParameter = 7 * 4;

}  // namespace

bool runsFusedAttention(const ModelConfig& config) {
  return config.attention == Attention::kFused ||
         ((config.attention == Attention::kAuto || config.attention == Attention::kVarlen) && compat::kHasFusedAttention);
}

CostModel::CostModel(const data::FeatureSchema& schema, const ModelConfig& config, int valueBytes)
    : m_config(config), m_fusedAttention(runsFusedAttention(config)), m_valueBytes(valueBytes) {
  const double d = config.d_model, ff = config.d_ff, hidden = config.embed_hidden;
  for (const auto& c : schema.collections) {
    const double inputs = c.continuousCount();
    m_embedMacs.push_back((inputs + config.type_embedding) * hidden + hidden * d);
    m_inputBytesPerToken.push_back(inputs * 4 + 8);  // fp32 features, int64 token type
  }
  m_blockMacs = 3 * d * d + d * d + 2 * d * ff;  // qkv, output projection, feed-forward
  m_pairMacs = 2 * d;                            // q.k and the weighted sum of v, over all heads
  m_decoderMacs = d * config.decoder_hidden1 + static_cast<double>(config.decoder_hidden1) * config.decoder_hidden2 +
                  config.decoder_hidden2 * static_cast<double>(data::kNumClasses);
}

double CostModel::forwardFlops(const data::HostBatch& batch) const {
  TAUTRAIN_CHECK(batch.collections.size() == m_embedMacs.size(), DataError, "cost model: the batch has ",
                 batch.collections.size(), " token collections, the schema ", m_embedMacs.size());
  double macs = static_cast<double>(batch.size) * m_decoderMacs;
  for (std::size_t c = 0; c < m_embedMacs.size(); ++c)
    macs += static_cast<double>(batch.collections[c].tokens()) * m_embedMacs[c];
  for (std::size_t i = 0; i + 1 < batch.cu_seqlens.size(); ++i) {
    const double length = batch.cu_seqlens[i + 1] - batch.cu_seqlens[i];
    macs += m_config.layers * (length * m_blockMacs + length * length * m_pairMacs);
  }
  return 2 * macs;
}

double CostModel::inputBytes(const data::HostBatch& batch) const {
  double bytes = 0;
  for (std::size_t c = 0; c < m_inputBytesPerToken.size(); ++c)
    bytes += static_cast<double>(batch.collections[c].tokens()) * m_inputBytesPerToken[c];
  return bytes;
}

Cost CostModel::inference(const data::HostBatch& batch) const {
  const double tokens = static_cast<double>(batch.realTokens());
  const double residual = 2.0 * m_config.d_model * m_valueBytes;
  return {forwardFlops(batch), inputBytes(batch) + tokens * m_config.layers * residual};
}

Cost CostModel::training(const data::HostBatch& batch, std::int64_t parameters) const {
  const double tokens = static_cast<double>(batch.realTokens());
  const double d = m_config.d_model;
  const double saved = 2.0 * savedValuesPerToken() * m_valueBytes;
  const double residualAndGradient = 4.0 * d * m_valueBytes;
  const double embedHidden = 2.0 * m_config.embed_hidden * m_valueBytes;
  const double bytes = inputBytes(batch) + tokens * (m_config.layers * (saved + residualAndGradient) + embedHidden) +
                       static_cast<double>(parameters) * kAdamBytesPerParameter;
  return {3 * forwardFlops(batch), bytes};
}

double CostModel::savedValuesPerToken() const { return 10.0 * m_config.d_model + 2.0 * m_config.d_ff; }

BatchShape BatchShape::of(const data::HostBatch& batch) {
  return {static_cast<double>(batch.realTokens()), static_cast<double>(batch.paddedTokens()),
          static_cast<double>(batch.max_len)};
}

double CostModel::trainingMemoryBytes(std::int64_t parameters, const BatchShape& batch) const {
  const double state = 16.0 * static_cast<double>(parameters);  // fp32 weights, gradients, two moments
  const double d = m_config.d_model;
  // The reference attention keeps its probabilities when all heads fit one chunk
  // (model/Attention.hpp); past that it holds one chunk's at a time, in backward three.
  const double pairs = batch.token_slots * batch.longest;  // B x L x L per head
  const auto chunkHeads = m_fusedAttention ? 0 : attentionHeadsPerChunk(pairs, m_config.heads, m_valueBytes);
  const bool keepsScores = !m_fusedAttention && chunkHeads >= m_config.heads;
  const double scores = keepsScores ? m_config.heads * batch.longest : 0;
  const double attention = batch.token_slots * (5.0 * d + scores);
  const double restTokens = m_config.layout == Layout::kPacked ? batch.tokens : batch.token_slots;
  const double rest = restTokens * (savedValuesPerToken() - 5.0 * d);
  const double embedding = batch.tokens * (2.0 * m_config.embed_hidden + 2.0 * d);  // hidden before/after GELU, output
  // Backward starts with every block's saved values held. The last block's attention backward
  // then briefly needs two more score-sized tensors (the gradients of the probabilities and
  // of the scores), while that block's feed-forward values (2 d_ff + 4 d_model) are already
  // freed: only what the first exceeds the second by adds to the peak.
  const double freedFeedForward = restTokens * (2.0 * m_config.d_ff + 4.0 * d);
  const double transient = keepsScores ? 2.0 * batch.token_slots * scores : 3.0 * static_cast<double>(chunkHeads) * pairs;
  const double lastBackward = std::max(0.0, transient - freedFeedForward);
  return state + (m_config.layers * (attention + rest) + embedding + lastBackward) * m_valueBytes;
}

double CostModel::worstTrainingMemoryBytes(std::int64_t parameters, const data::BatchingOptions& limits,
                                           std::int64_t longest) const {
  double worst = 0;
  for (std::int64_t length = 1; length <= longest; ++length) {
    const auto l = static_cast<double>(length);
    const double slots = data::candidatesAllowed(limits, l) * l;
    worst = std::max(worst, trainingMemoryBytes(parameters, {slots, slots, l}));
  }
  return worst;
}

}  // namespace tautrain::model
