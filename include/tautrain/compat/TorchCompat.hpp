#pragma once
// The one place that tells LibTorch versions apart: Debian's CPU LibTorch 1.13 (CI, tests)
// and the CUDA LibTorch 2.x of GPU nodes build the same sources through these functions.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/version.h>

#include <cstdint>
#include <memory>
#include <vector>

#define TAUTRAIN_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace c10 {
class DebugInfoGuard;
}  // namespace c10

namespace c10d {
class ProcessGroup;
class Backend;
}  // namespace c10d

namespace tautrain::compat {

/// What c10d's Gloo and NCCL groups derive from and run collectives through: ProcessGroup in
/// LibTorch 1.x, Backend from 2.0 (ProcessGroup became a dispatcher over backends).
#if TAUTRAIN_TORCH_AT_LEAST(2, 0)
using CollectiveBackend = ::c10d::Backend;
#else
using CollectiveBackend = ::c10d::ProcessGroup;
#endif

/// scaled_dot_product_attention (flash / memory-efficient kernels) arrived in LibTorch 2.0.
constexpr bool kHasFusedAttention = TAUTRAIN_TORCH_AT_LEAST(2, 0);

/// Fused attention of q, k, v [B, H, L, Dh]; keyPadding [B, L] is true for padding.
/// Throws when !kHasFusedAttention.
at::Tensor fusedAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& keyPadding);

/// Attention over candidates laid end to end, without padding: the memory-efficient kernel
/// with cumulative sequence lengths (and its backward), CUDA only. Its signature as used here
/// holds from LibTorch 2.2 (checked against the 2.6 headers); 2.0 and 2.1 had another.
constexpr bool kHasVarlenAttention = TAUTRAIN_TORCH_AT_LEAST(2, 2);

/// q, k, v [T, H, Dh] of B candidates one after another, cuSeqlens int32 [B + 1] their
/// boundaries, maxLen at least the longest -> [T, H, Dh]. Throws unless kHasVarlenAttention
/// and the tensors are on a CUDA device.
at::Tensor varlenAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& cuSeqlens,
                           std::int64_t maxLen);

/// bf16 mixed precision on the device (CUDA or CPU) for the guard's lifetime; the cast cache
/// is dropped at the end, because the optimizer updates the weights it caches copies of.
/// A no-op when !enabled.
class AutocastGuard {
 public:
  AutocastGuard(const c10::Device& device, bool enabled);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  c10::Device m_device;
  bool m_enabled;
};

/// tensors[i] *= factor (a one-element tensor on their device, of any shape) for all i: one
/// multi-tensor kernel from LibTorch 2.1, which takes the factor as a tensor; a loop before.
void multiplyAll(const std::vector<at::Tensor>& tensors, const at::Tensor& factor);

/// TF32 matmuls and cuDNN autotuning (process-wide; only matter on CUDA).
void setCudaMath(bool allowTf32, bool cudnnBenchmark);

/// Peak bytes of tensors a CUDA device's caching allocator held since the last reset; -1
/// elsewhere (a CPU device, or a build without CUDA).
std::int64_t peakDeviceMemory(const c10::Device& device);
void resetPeakDeviceMemory(const c10::Device& device);

/// Bytes of CPU tensors allocated while it lives, by this thread and the threads LibTorch hands
/// its work to: the CPU's missing peak-memory statistic. LibTorch's CPU allocator reports to it
/// as it would to its memory profiler; memory held before it started is not counted.
class HostMemoryCounter {
 public:
  HostMemoryCounter();
  ~HostMemoryCounter();
  HostMemoryCounter(const HostMemoryCounter&) = delete;
  HostMemoryCounter& operator=(const HostMemoryCounter&) = delete;

  /// The most bytes held at once since construction, over what was held then.
  std::int64_t peak() const;

 private:
  struct Reporter;
  std::shared_ptr<Reporter> m_reporter;
  std::unique_ptr<c10::DebugInfoGuard> m_guard;
};

/// State of the default random generator of a device (dropout draws from it), for checkpoints.
at::Tensor rngState(const c10::Device& device);
void setRngState(const c10::Device& device, const at::Tensor& state);

}  // namespace tautrain::compat
