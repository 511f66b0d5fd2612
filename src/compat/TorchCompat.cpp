#include "tautrain/compat/TorchCompat.hpp"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>

#include <atomic>
#include <mutex>

#ifdef TAUTRAIN_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "tautrain/core/Error.hpp"

namespace tautrain::compat {

at::Tensor fusedAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& keyPadding) {
#if TAUTRAIN_TORCH_AT_LEAST(2, 0)
  // SDPA's boolean mask marks the keys that take part.
  const auto attend = keyPadding.logical_not().view({keyPadding.size(0), 1, 1, keyPadding.size(1)});
  return at::scaled_dot_product_attention(q, k, v, attend);
#else
  (void)q, (void)k, (void)v, (void)keyPadding;
  throw ConfigError("model.attention", "fused attention needs LibTorch 2.0 or newer; this build has " TORCH_VERSION);
#endif
}

at::Tensor varlenAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& cuSeqlens,
                           std::int64_t maxLen) {
#if TAUTRAIN_TORCH_AT_LEAST(2, 2)
  TAUTRAIN_CHECK_KEY(q.is_cuda(), "model.attention", "varlen attention runs on CUDA only; this batch is on ", q.device());
  // The kernel sees one sequence of T tokens [1, T, H, Dh] that cuSeqlens cuts into candidates.
  const auto attended = std::get<0>(at::_efficient_attention_forward(
      q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), /*bias=*/{}, cuSeqlens, cuSeqlens, maxLen, maxLen,
      /*dropout_p=*/0.0, /*custom_mask_type=*/0, /*compute_log_sumexp=*/true));  // backward needs the log-sum-exp
  return attended.squeeze(0);
#else
  (void)q, (void)k, (void)v, (void)cuSeqlens, (void)maxLen;
  throw ConfigError("model.attention", "varlen attention needs LibTorch 2.2 or newer; this build has " TORCH_VERSION);
#endif
}

namespace {

void setAutocast(const c10::Device& device, bool enabled) {
#if TAUTRAIN_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_dtype(device.type(), at::kBFloat16);
  at::autocast::set_autocast_enabled(device.type(), enabled);
#else
  if (device.is_cuda()) {
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

#ifdef TAUTRAIN_WITH_CUDA
c10::DeviceIndex indexOf(const c10::Device& device) { return device.has_index() ? device.index() : 0; }
#endif

}  // namespace

AutocastGuard::AutocastGuard(const c10::Device& device, bool enabled) : m_device(device), m_enabled(enabled) {
  if (m_enabled) setAutocast(m_device, true);
}

AutocastGuard::~AutocastGuard() {
  if (!m_enabled) return;
  setAutocast(m_device, false);
  at::autocast::clear_cache();
}

void multiplyAll(const std::vector<at::Tensor>& tensors, const at::Tensor& factor) {
  if (tensors.empty()) return;
#if TAUTRAIN_TORCH_AT_LEAST(2, 1)
  // The multi-tensor kernel takes only a 0-dim factor.
  at::_foreach_mul_(tensors, factor.reshape({}));
#else
  for (auto tensor : tensors) tensor.mul_(factor);
#endif
}

void setCudaMath(bool allowTf32, bool cudnnBenchmark) {
  at::globalContext().setAllowTF32CuBLAS(allowTf32);
  at::globalContext().setAllowTF32CuDNN(allowTf32);
  at::globalContext().setBenchmarkCuDNN(cudnnBenchmark);
}

std::int64_t peakDeviceMemory(const c10::Device& device) {
#ifdef TAUTRAIN_WITH_CUDA
  // [0]: the aggregate over small and large pools (the enum moved namespaces between versions).
  if (device.is_cuda()) return c10::cuda::CUDACachingAllocator::getDeviceStats(indexOf(device)).allocated_bytes[0].peak;
#endif
  (void)device;
  return -1;
}

void resetPeakDeviceMemory(const c10::Device& device) {
#ifdef TAUTRAIN_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(indexOf(device));
#endif
  (void)device;
}

namespace {

/// The byte-count type of the allocator's reports: int64_t in LibTorch 1.x, size_t in 2.x.
template <typename Total, typename Reserved>
Total totalType(void (*)(void*, int64_t, Total, Reserved, c10::Device));
using ReportedTotal = decltype(totalType(&c10::reportMemoryUsageToProfiler));

}  // namespace

struct HostMemoryCounter::Reporter : c10::MemoryReportingInfoBase {
  std::atomic<std::int64_t> held{0}, peak{0};

  void reportMemoryUsage(void*, int64_t bytes, ReportedTotal, ReportedTotal, c10::Device device) override {
    if (!device.is_cpu()) return;
    const auto now = held.fetch_add(bytes) + bytes;
    auto seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
  }
  bool memoryProfilingEnabled() const override { return true; }
};

HostMemoryCounter::HostMemoryCounter()
    : m_reporter(std::make_shared<Reporter>()),
      m_guard(std::make_unique<c10::DebugInfoGuard>(c10::DebugInfoKind::PROFILER_STATE, m_reporter)) {}

HostMemoryCounter::~HostMemoryCounter() = default;

std::int64_t HostMemoryCounter::peak() const { return m_reporter->peak.load(); }

at::Tensor rngState(const c10::Device& device) {
  auto generator = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void setRngState(const c10::Device& device, const at::Tensor& state) {
  auto generator = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

}  // namespace tautrain::compat
