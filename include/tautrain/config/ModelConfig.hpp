#pragma once
// Sizes of the TauTransformer (docs/physics.md §3); the defaults are the thesis model.
#include <array>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Names.hpp"

namespace tautrain::model {

/// How a batch is laid out: kPadded [B, L, d], or kPacked [tokens, d] so that embeddings,
/// feed-forwards and norms spend nothing on padding (attention too with kVarlen).
enum class Layout { kPadded, kPacked };
constexpr std::array<core::Named<Layout>, 2> names(Layout) {
  return {{{Layout::kPadded, "padded"}, {Layout::kPacked, "packed"}}};
}

/// kReference: written out, every LibTorch; kFused: scaled_dot_product_attention, LibTorch >= 2.0;
/// kVarlen: on the packed tokens without re-padding (LibTorch >= 2.2, packed layout; on CUDA,
/// elsewhere it re-pads as kAuto does); kAuto: varlen where layout, device and LibTorch allow,
/// else fused where available.
enum class Attention { kReference, kFused, kVarlen, kAuto };
constexpr std::array<core::Named<Attention>, 4> names(Attention) {
  return {{{Attention::kReference, "reference"},
           {Attention::kFused, "fused"},
           {Attention::kVarlen, "varlen"},
           {Attention::kAuto, "auto"}}};
}

struct ModelConfig {
  int type_embedding = 2;   ///< token type -> this many dims, appended to each token's features
  int d_model = 64;
  int embed_hidden = 256;   ///< hidden width of each collection's feature embedding
  int layers = 6;
  int heads = 8;
  int d_ff = 256;
  int decoder_hidden1 = 256;
  int decoder_hidden2 = 128;
  double dropout = 0.1;
  Layout layout = Layout::kPadded;
  Attention attention = Attention::kAuto;

  template <class V>
  void describe(V& v) {
    v("type_embedding", type_embedding, "dimensions of the shared token-type embedding");
    v("d_model", d_model, "width of the token representation");
    v("embed_hidden", embed_hidden, "hidden width of the per-collection feature embedding");
    v("layers", layers, "post-norm encoder blocks");
    v("heads", heads, "attention heads (d_model / heads per head)");
    v("d_ff", d_ff, "hidden width of the encoder feed-forward");
    v("decoder_hidden1", decoder_hidden1, "decoder: d_model -> hidden1 -> hidden2 -> 4");
    v("decoder_hidden2", decoder_hidden2, "");
    v("dropout", dropout, "dropout everywhere");
    v("layout", layout, "packed: no compute on padding outside attention");
    v("attention", attention, "fused needs LibTorch >= 2.0, varlen CUDA, LibTorch >= 2.2 and the packed layout");
  }
  void validate() const {
    TAUTRAIN_CHECK_KEY(type_embedding > 0, "type_embedding", "must be positive");
    TAUTRAIN_CHECK_KEY(d_model > 0, "d_model", "must be positive");
    TAUTRAIN_CHECK_KEY(heads > 0 && d_model % heads == 0, "heads", "must divide d_model (", d_model, ")");
    TAUTRAIN_CHECK_KEY(layers >= 0, "layers", "must be >= 0");
    TAUTRAIN_CHECK_KEY(embed_hidden > 0 && d_ff > 0 && decoder_hidden1 > 0 && decoder_hidden2 > 0, "d_ff",
                       "hidden widths must be positive");
    TAUTRAIN_CHECK_KEY(dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1)");
    TAUTRAIN_CHECK_KEY(attention != Attention::kVarlen || layout == Layout::kPacked, "attention",
                       "varlen attends over packed tokens: it needs layout: packed");
  }
};

}  // namespace tautrain::model
