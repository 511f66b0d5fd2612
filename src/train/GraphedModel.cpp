#include "tautrain/train/GraphedModel.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include "tautrain/compat/DeviceGraph.hpp"
#include "tautrain/compat/TorchCompat.hpp"
#include "tautrain/core/Log.hpp"

namespace tautrain::train {

/// Static buffers of one shape: what the graphs read (x, padding, gradOut) and write (out,
/// grads), at fixed addresses, and the graphs themselves.
struct GraphedModel::Graph {
  explicit Graph(const torch::Device& device) : forward(device), backward(device) {}
  torch::Tensor x, padding, out, gradOut;
  std::vector<torch::Tensor> inputs;  ///< x, then the encoder's weights
  std::vector<torch::Tensor> grads;   ///< of inputs
  compat::DeviceGraph forward, backward;
};

namespace {

/// Hands the encoder's part of a step to the graphs: forward replays the forward graph on
/// the batch's x, backward replays the backward graph and returns its gradients for x and the
/// encoder's weights, which autograd then accumulates as it would the eager ones.
struct ReplayEncoder : torch::autograd::Function<ReplayEncoder> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, GraphedModel::Graph* graph,
                                                const torch::Tensor& x, at::TensorList weights) {
    (void)weights;  // inputs only so that autograd routes their gradients through backward
    ctx->saved_data["graph"] = reinterpret_cast<std::int64_t>(graph);
    graph->x.copy_(x);
    graph->forward.replay();
    return {graph->out.detach()};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list gradOutputs) {
    auto* graph = reinterpret_cast<GraphedModel::Graph*>(ctx->saved_data["graph"].toInt());
    // Captured graphs made gradOut at capture; an emulated one on its first backward.
    if (graph->gradOut.defined())
      graph->gradOut.copy_(gradOutputs[0]);
    else
      graph->gradOut = gradOutputs[0].clone();
    graph->backward.replay();
    torch::autograd::variable_list grads{torch::Tensor()};  // none for the graph pointer
    for (const auto& g : graph->grads) grads.push_back(g.defined() ? g.detach() : g);
    return grads;
  }
};

std::string megabytes(std::int64_t bytes) { return fmt::format("{:.0f} MB", static_cast<double>(bytes) / 1e6); }

}  // namespace

GraphedModel::GraphedModel(model::TauTransformer model, const torch::Device& device, int limit)
    : m_model(std::move(model)), m_device(device), m_limit(limit) {}

GraphedModel::~GraphedModel() = default;

torch::Tensor GraphedModel::forward(const data::TensorBatch& batch) {
  const bool training = m_model->is_training() && torch::GradMode::is_enabled();
  const auto x = m_model->embedPadded(batch);
  const Key key{x.size(0), x.size(1), training, static_cast<int>(x.scalar_type())};
  auto* graph = graphFor(key, x, batch.padding_mask);
  if (!graph) {
    ++m_eager;
    return m_model->encodePadded(x, batch.padding_mask);
  }
  ++m_replays;
  graph->padding.copy_(batch.padding_mask);
  if (training) return ReplayEncoder::apply(graph, x, at::TensorList(graph->inputs).slice(1))[0];
  graph->x.copy_(x);
  graph->forward.replay();
  return graph->out.clone();  // the next replay overwrites out
}

GraphedModel::Graph* GraphedModel::graphFor(const Key& key, const torch::Tensor& x, const torch::Tensor& padding) {
  if (const auto found = m_graphs.find(key); found != m_graphs.end()) return found->second.get();
  if (m_failed.count(key) || static_cast<int>(m_graphs.size()) >= m_limit) return nullptr;
  const bool training = std::get<2>(key);
  auto graph = std::make_unique<Graph>(m_device);
  auto* g = graph.get();
  g->x = x.detach().clone().requires_grad_(training);
  g->padding = padding.clone();
  g->inputs = {g->x};
  for (const auto& p : m_model->encoderParameters()) g->inputs.push_back(p);
  const auto forwardWork = [this, g, training] {
    // Emulated, this runs inside ReplayEncoder::forward, where autograd is off.
    torch::AutoGradMode gradMode(training);
    g->out = m_model->encodePadded(g->x, g->padding);
  };
  const auto backwardWork = [g] {
    g->grads = torch::autograd::grad({g->out}, g->inputs, {g->gradOut}, /*retain_graph=*/false,
                                     /*create_graph=*/false, /*allow_unused=*/true);
  };
  const auto reservedBefore = compat::reservedDeviceMemory(m_device);
  // Warm-up and capture draw dropout masks no step uses: the generator goes on as if they had
  // not run, so that a resumed run, which captures at other steps, draws what an unbroken one does.
  const auto rng = compat::rngState(m_device);
  try {
    if (!g->forward.emulated()) {
      // Warm-up outside the capture: lazy initialisation (cuBLAS workspaces, kernel selection)
      // must not be recorded. autograd::grad leaves the weights' .grad alone.
      compat::runOnSideStream(m_device, [&] {
        for (int i = 0; i < 3; ++i) {
          forwardWork();
          if (!training) continue;
          g->gradOut = torch::ones_like(g->out);
          backwardWork();
        }
      });
    }
    g->forward.capture(forwardWork);
    if (training) {
      if (!g->forward.emulated()) g->gradOut = torch::zeros_like(g->out);
      g->backward.capture(backwardWork, &g->forward);
    }
  } catch (const std::exception& e) {
    compat::setRngState(m_device, rng);
    m_failed.insert(key);
    log::get("train")->warn("CUDA graph of batch shape [{}, {}] ({}) not captured, it runs eagerly: {}",
                            std::get<0>(key), std::get<1>(key), training ? "training" : "inference", e.what());
    return nullptr;
  }
  compat::setRngState(m_device, rng);
  GraphedShape shape{std::get<0>(key), std::get<1>(key), training, std::string(c10::toString(x.scalar_type())),
                     compat::reservedDeviceMemory(m_device) - reservedBefore};
  m_shapes.push_back(shape);
  log::get("train")->info("CUDA graph {} of {}: batch shape [{}, {}], {}, {}, {}{}", m_shapes.size(), m_limit,
                          shape.size, shape.max_len, training ? "training" : "inference", shape.dtype,
                          megabytes(shape.bytes), g->forward.emulated() ? " (emulated)" : "");
  return m_graphs.emplace(key, std::move(graph)).first->second.get();
}

std::string GraphedModel::summary() const {
  std::int64_t bytes = 0;
  for (const auto& s : m_shapes) bytes += s.bytes;
  return fmt::format("CUDA graphs: {} captured ({}), {} replays, {} eager calls", m_shapes.size(), megabytes(bytes),
                     m_replays, m_eager);
}

}  // namespace tautrain::train
