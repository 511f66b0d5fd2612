#pragma once
// Inference throughput of an exported graph in ONNX Runtime against the checkpoint in LibTorch,
// on the same candidates in the same run, on the CPU (docs/deployment.md, "Speed").
#include <cstdint>
#include <string>
#include <vector>

namespace tautrain::deploy {

struct InferenceBenchOptions {
  std::int64_t candidates = 4096;          ///< the first candidates of the shards
  std::vector<int> batch_sizes{1, 256};    ///< 1: one candidate per call, as a producer does
  int threads = 1;                         ///< intra-op threads of both (CMSSW runs one per stream)
  int rounds = 3;                          ///< the median over interleaved rounds is reported
};

struct InferenceThroughput {
  int batch_size = 0;
  double libtorch_candidates_per_s = 0;
  double onnxruntime_candidates_per_s = 0;
};

struct InferenceBenchReport {
  std::string runtime;  ///< "ONNX Runtime 1.21.0"
  std::int64_t candidates = 0;
  int threads = 0;
  std::vector<InferenceThroughput> rows;
};

/// Exports `checkpoint` to `onnxPath`, then scores the same batches (consecutive candidates in
/// shard order, as events arrive) with both, fp32, inputs prepared beforehand: LibTorch gets the
/// loader's scaled tokens, ONNX Runtime the shard columns (its graph scales them itself). A
/// ConfigError without ONNX Runtime in the build.
InferenceBenchReport measureInference(const std::string& checkpoint, const std::vector<std::string>& shards,
                                      const std::string& onnxPath, const InferenceBenchOptions& options);

}  // namespace tautrain::deploy
