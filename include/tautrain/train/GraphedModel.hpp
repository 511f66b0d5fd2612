#pragma once
// The encoder of a TauTransformer (blocks, pooling, decoder) replayed from CUDA graphs, one per
// batch shape [B, L] and mode (training with its backward, or inference); the embeddings, the
// loss and Adam run eagerly around it. An eager step calls ~1 000 operators, each a launch with
// a few microseconds of host time; a replay is one launch (docs/gpu.md).
#include <torch/nn.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tautrain/data/TensorBatch.hpp"
#include "tautrain/model/TauTransformer.hpp"

namespace tautrain::train {

/// A captured shape and the device memory its graphs keep.
struct GraphedShape {
  std::int64_t size = 0, max_len = 0;
  bool training = false;
  std::string dtype;
  std::int64_t bytes = 0;  ///< growth of the allocator's reserve over warm-up and capture (0 emulated)
};

class GraphedModel {
 public:
  /// Graphs on `device`, at most `limit` shapes. On a CPU they are emulated (replay runs the
  /// encoder again), which exercises everything but the capture itself.
  GraphedModel(model::TauTransformer model, const torch::Device& device, int limit);
  ~GraphedModel();
  GraphedModel(const GraphedModel&) = delete;
  GraphedModel& operator=(const GraphedModel&) = delete;

  /// The logits of model->forward in the padded layout (whatever model.layout says), with the
  /// same gradients in training mode: embeddings eagerly, then the graph of the batch's shape,
  /// captured when first seen (after warm-up runs on CUDA). Shapes past the limit, and shapes
  /// whose capture failed (logged once), run eagerly. Call it inside the step's autocast.
  torch::Tensor forward(const data::TensorBatch& batch);

  const std::vector<GraphedShape>& captured() const { return m_shapes; }
  std::int64_t replays() const { return m_replays; }
  std::int64_t eagerCalls() const { return m_eager; }
  /// One line for the log: graphs, their memory, replays and eager calls.
  std::string summary() const;

  struct Graph;

 private:
  using Key = std::tuple<std::int64_t, std::int64_t, bool, int>;  // B, L, training, dtype
  Graph* graphFor(const Key& key, const torch::Tensor& x, const torch::Tensor& padding);

  model::TauTransformer m_model;
  torch::Device m_device;
  int m_limit;
  std::map<Key, std::unique_ptr<Graph>> m_graphs;
  std::set<Key> m_failed;
  std::vector<GraphedShape> m_shapes;
  std::int64_t m_replays = 0, m_eager = 0;
};

}  // namespace tautrain::train
