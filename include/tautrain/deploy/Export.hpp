#pragma once
// A trained TauTransformer as an ONNX graph for ONNX Runtime (CMSSW, Athena): the scaler, the
// validity flags, the token types and the dR cut are folded in, so the graph takes the shard
// columns as they are (docs/deployment.md).
#include <cstdint>
#include <string>
#include <vector>

namespace tautrain::deploy {

/// ONNX opset of the exported graphs: 17, the highest that both libonnx 1.12 (Debian 12, whose
/// checker validates every export) and ONNX Runtime 1.17 (CMSSW's) know; it has
/// LayerNormalization, and GELU is written with Erf (GELU itself needs opset 20).
inline constexpr int kOnnxOpset = 17;

/// Names of the graph's inputs and outputs. Per ragged collection C: input C, float
/// [candidates, tokens, columns of C in shard order], and C_count, int64 [candidates], the real
/// tokens of each candidate (rows past it are padding, whatever they hold). The per-candidate
/// (global) collection: float [candidates, columns]. Outputs: "probabilities" [candidates, 4]
/// (e, mu, tau, jet) and "discriminants" [candidates, 3] (D_e, D_mu, D_jet).
struct GraphSignature {
  std::vector<std::string> inputs, outputs;
};

struct ExportSummary {
  GraphSignature signature;
  std::int64_t nodes = 0;
  std::int64_t bytes = 0;
};

/// Writes the model of `checkpoint` to `output` (atomically), after libonnx's checker and
/// strict shape inference accepted it. A random token cap (data.pruning.max_tokens) cannot be
/// part of a graph: the export refuses it unless `allowTokenCap`, and the consumer then has to
/// apply the cap itself (the graph's metadata says so).
ExportSummary exportOnnx(const std::string& checkpoint, const std::string& output, bool allowTokenCap = false);

/// Runs libonnx's checker and strict shape inference on an ONNX file; a DataError naming the
/// file and the checker's complaint otherwise.
void checkOnnxFile(const std::string& path);

/// The graph's metadata (key, value) pairs: tautrain version, checkpoint, feature columns, class
/// and discriminant definitions, pruning.
std::vector<std::pair<std::string, std::string>> onnxMetadata(const std::string& path);

}  // namespace tautrain::deploy
