#include "tautrain/model/Attention.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tautrain::model {

std::int64_t attentionHeadsPerChunk(double pairs, std::int64_t heads, int valueBytes) {
  const double perHead = pairs * valueBytes;
  if (perHead * static_cast<double>(heads) <= kAttentionChunkBytes) return heads;
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(kAttentionChunkBytes / perHead), 1, heads);
}

namespace {

/// The probabilities of one chunk of heads, as the reference attention computes them.
torch::Tensor probabilities(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& keyPadding) {
  const double scale = std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = torch::matmul(q, k.transpose(-2, -1)).div_(scale);
  scores.masked_fill_(keyPadding, -std::numeric_limits<float>::infinity());
  return torch::softmax(scores, -1);
}

class ChunkedAttention : public torch::autograd::Function<ChunkedAttention> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& padding, std::int64_t headsPerChunk) {
    const auto keyPadding = padding.view({padding.size(0), 1, 1, padding.size(1)});
    const auto heads = q.size(1);
    std::vector<torch::Tensor> out;
    for (std::int64_t h = 0; h < heads; h += headsPerChunk) {
      const auto n = std::min(headsPerChunk, heads - h);
      out.push_back(torch::matmul(probabilities(q.narrow(1, h, n), k.narrow(1, h, n), keyPadding), v.narrow(1, h, n)));
    }
    ctx->save_for_backward({q, k, v, padding});
    ctx->saved_data["heads_per_chunk"] = headsPerChunk;
    return torch::cat(out, 1);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list gradients) {
    const auto saved = ctx->get_saved_variables();
    const auto &q = saved[0], &k = saved[1], &v = saved[2], &padding = saved[3];
    const auto headsPerChunk = ctx->saved_data["heads_per_chunk"].toInt();
    const auto keyPadding = padding.view({padding.size(0), 1, 1, padding.size(1)});
    const double scale = std::sqrt(static_cast<double>(q.size(-1)));
    const auto out = gradients[0].to(v.scalar_type());
    auto dq = torch::empty_like(q), dk = torch::empty_like(k), dv = torch::empty_like(v);
    for (std::int64_t h = 0; h < q.size(1); h += headsPerChunk) {
      const auto n = std::min(headsPerChunk, q.size(1) - h);
      const auto qc = q.narrow(1, h, n), kc = k.narrow(1, h, n), vc = v.narrow(1, h, n), dOut = out.narrow(1, h, n);
      const auto p = probabilities(qc, kc, keyPadding);
      dv.narrow(1, h, n).copy_(torch::matmul(p.transpose(-2, -1), dOut));
      // Softmax backward, (dp - sum(dp p)) p, then the scale, as autograd takes them.
      const auto dp = torch::matmul(dOut, vc.transpose(-2, -1));
      const auto dScores = (dp - (dp * p).sum(-1, /*keepdim=*/true)).mul_(p).div_(scale);
      dq.narrow(1, h, n).copy_(torch::matmul(dScores, kc));
      dk.narrow(1, h, n).copy_(torch::matmul(dScores.transpose(-2, -1), qc));
    }
    return {dq, dk, dv, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor chunkedAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& padding, std::int64_t headsPerChunk) {
  // All heads fit in one chunk: autograd keeps the probabilities (in-place scaling and masking
  // are safe there, their backward needs neither input nor output).
  if (headsPerChunk >= q.size(1))
    return torch::matmul(probabilities(q, k, padding.view({padding.size(0), 1, 1, padding.size(1)})), v);
  return ChunkedAttention::apply(q, k, v, padding, headsPerChunk);
}

}  // namespace tautrain::model
