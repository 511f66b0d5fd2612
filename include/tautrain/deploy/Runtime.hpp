#pragma once
// Scoring an exported graph with ONNX Runtime, as a deployment would, fed from shards.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tautrain/data/CandidateBlock.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/data/Pruning.hpp"

namespace tautrain::deploy {

/// The graph's inputs (deploy/Export.hpp) for the candidates of a block: shard columns, each
/// ragged collection padded to its longest candidate plus `extraPadding` rows of
/// `paddingValue`, which the graph must ignore.
struct GraphInputs {
  struct Tensor {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<float> floats;        ///< a collection's columns
    std::vector<std::int64_t> int64s;  ///< a collection's token counts
  };
  std::vector<Tensor> tensors;
  std::int64_t candidates = 0;
};

/// `capper`, when given, selects each candidate's tokens as data::Loader does at epoch 0
/// (dataset index firstCandidate + i): a random token cap is not in the graph. Without it every
/// token goes in, and the graph applies the dR cut itself.
GraphInputs graphInputs(const data::FeatureSchema& schema, const data::CandidateBlock& block,
                        const data::TokenPruner* capper = nullptr, std::int64_t firstCandidate = 0,
                        std::int64_t extraPadding = 0, float paddingValue = 0.0f);

/// Whether this build links ONNX Runtime (Debian 13's libonnxruntime-dev).
bool haveOnnxRuntime();

/// One ONNX Runtime session on the CPU, default graph optimisations (what deployments run).
class OnnxRuntimeModel {
 public:
  /// A ConfigError when the build has no ONNX Runtime; a DataError naming the file when
  /// ONNX Runtime refuses it.
  explicit OnnxRuntimeModel(const std::string& path, int threads = 1);
  ~OnnxRuntimeModel();
  OnnxRuntimeModel(const OnnxRuntimeModel&) = delete;
  OnnxRuntimeModel& operator=(const OnnxRuntimeModel&) = delete;

  struct Outputs {
    std::vector<float> probabilities;  ///< [candidates, 4]
    std::vector<float> discriminants;  ///< [candidates, 3]
  };
  Outputs run(const GraphInputs& inputs);
  /// "ONNX Runtime 1.21.0"
  static std::string version();

 private:
  struct Session;
  std::unique_ptr<Session> m_session;
};

}  // namespace tautrain::deploy
