#include "tautrain/compat/DeviceGraph.hpp"

#include <map>
#include <mutex>
#include <utility>

#include "tautrain/core/Error.hpp"

#include <ATen/autocast_mode.h>

#ifdef TAUTRAIN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace tautrain::compat {

bool cudaGraphsCompiled() {
#ifdef TAUTRAIN_WITH_CUDA
  return true;
#else
  return false;
#endif
}

#ifdef TAUTRAIN_WITH_CUDA
namespace {

c10::DeviceIndex indexOf(const c10::Device& device) {
  return device.index() >= 0 ? device.index() : c10::cuda::current_device();
}

/// One side stream per device for every capture and warm-up, as torch.cuda.graph keeps one:
/// autograd runs a node's backward on the stream of its forward, so a backward captured on
/// another stream than its forward would run outside the capture.
c10::cuda::CUDAStream captureStream(c10::DeviceIndex index) {
  static std::mutex mutex;
  static std::map<c10::DeviceIndex, c10::cuda::CUDAStream> streams;
  std::lock_guard<std::mutex> lock(mutex);
  const auto found = streams.find(index);
  if (found != streams.end()) return found->second;
  return streams.emplace(index, c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index)).first->second;
}

}  // namespace
#endif

struct DeviceGraph::Impl {
  explicit Impl(const c10::Device& d) : device(d) {}
  c10::Device device;
  std::function<void()> work;  // emulated
#ifdef TAUTRAIN_WITH_CUDA
  std::unique_ptr<at::cuda::CUDAGraph> graph;
#endif
};

DeviceGraph::DeviceGraph(const c10::Device& device) : m_impl(std::make_unique<Impl>(device)) {
  TAUTRAIN_CHECK_KEY(!device.is_cuda() || cudaGraphsCompiled(), "train.cuda_graphs", "this build has no CUDA");
}

DeviceGraph::~DeviceGraph() = default;

bool DeviceGraph::emulated() const { return !m_impl->device.is_cuda(); }

void DeviceGraph::capture(std::function<void()> work, const DeviceGraph* sharePool) {
  if (emulated()) {
    m_impl->work = std::move(work);
    return;
  }
#ifdef TAUTRAIN_WITH_CUDA
  const auto index = indexOf(m_impl->device);
  c10::cuda::CUDAGuard deviceGuard(index);
  auto graph = std::make_unique<at::cuda::CUDAGraph>();
  const auto pool =
      sharePool && sharePool->m_impl->graph ? sharePool->m_impl->graph->pool() : at::cuda::graph_pool_handle();
  // Capture may not run on the default stream; what was queued before must have finished.
  const auto side = captureStream(index);
  at::cuda::device_synchronize();
  // Autocast's cache of casted weights would live outside the graph's memory.
  const bool castCache = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_cache_enabled(false);
  try {
    c10::cuda::CUDAStreamGuard streamGuard(side);
    // Thread-local: the loader's threads may pin host memory while the step is captured.
    graph->capture_begin(pool, cudaStreamCaptureModeThreadLocal);
    try {
      work();
    } catch (...) {
      try {
        graph->capture_end();
      } catch (...) {  // the capture is invalid anyway; the first error says why
      }
      throw;
    }
    graph->capture_end();
  } catch (...) {
    at::autocast::set_autocast_cache_enabled(castCache);
    throw;
  }
  at::autocast::set_autocast_cache_enabled(castCache);
  at::cuda::device_synchronize();
  m_impl->graph = std::move(graph);
#else
  (void)work, (void)sharePool;
#endif
}

void DeviceGraph::replay() {
  if (emulated()) {
    TAUTRAIN_CHECK(static_cast<bool>(m_impl->work), Error, "DeviceGraph: replay before capture");
    m_impl->work();
    return;
  }
#ifdef TAUTRAIN_WITH_CUDA
  TAUTRAIN_CHECK(m_impl->graph != nullptr, Error, "DeviceGraph: replay before capture");
  m_impl->graph->replay();
#endif
}

void runOnSideStream(const c10::Device& device, const std::function<void()>& work) {
#ifdef TAUTRAIN_WITH_CUDA
  if (device.is_cuda()) {
    const auto index = indexOf(device);
    c10::cuda::CUDAGuard deviceGuard(index);
    at::cuda::device_synchronize();
    {
      c10::cuda::CUDAStreamGuard streamGuard(captureStream(index));
      work();
    }
    at::cuda::device_synchronize();
    return;
  }
#endif
  (void)device;
  work();
}

std::int64_t reservedDeviceMemory(const c10::Device& device) {
#ifdef TAUTRAIN_WITH_CUDA
  if (device.is_cuda()) {
    const auto index = indexOf(device);
    // [0]: the aggregate over small and large pools (the enum moved namespaces between versions).
    return c10::cuda::CUDACachingAllocator::getDeviceStats(index).reserved_bytes[0].current;
  }
#endif
  (void)device;
  return 0;
}

}  // namespace tautrain::compat
