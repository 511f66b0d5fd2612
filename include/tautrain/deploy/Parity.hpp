#pragma once
// LibTorch and ONNX Runtime scoring the same candidates: do they agree closely enough that no
// analysis could tell? (docs/deployment.md, "Parity")
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tautrain::deploy {

struct Difference {
  double max_abs = 0;
  double max_rel = 0;          ///< |a - b| / max(|a|, |b|)
  std::int64_t worst = -1;     ///< the candidate of max_abs
};

struct ParityReport {
  std::string runtime;             ///< "ONNX Runtime 1.21.0"
  std::int64_t candidates = 0;
  std::int64_t extra_padding = 0;  ///< padding rows beyond the longest candidate, fed to the graph
  std::array<Difference, 4> classes;        ///< e, mu, tau, jet probabilities
  std::array<Difference, 3> discriminants;  ///< D_e, D_mu, D_jet
  /// Per discriminant: candidates (tau or its background) on whose side of a working-point
  /// threshold the two disagree, summed over the working points; thresholds from LibTorch's ROC.
  std::array<std::int64_t, 3> flipped{};
  double maxAbs() const;
  std::string text() const;
};

/// Scores every candidate of `shards` with the checkpoint in LibTorch and with the exported
/// graph in ONNX Runtime, the graph's padding `extraPadding` rows longer than needed (filled
/// with NaN, which the graph must ignore), and compares.
ParityReport compareWithOnnxRuntime(const std::string& checkpoint, const std::string& onnxPath,
                                    const std::vector<std::string>& shards, std::int64_t extraPadding = 3);

}  // namespace tautrain::deploy
