#pragma once
// CUDA graphs: a stretch of GPU work captured once and replayed as one launch, which removes the
// per-operator host cost that caps an eager step (docs/gpu.md). Without CUDA the graph is
// emulated: replay runs the captured work again, so the data flow around it (static buffers,
// what is read and written when) is the same and can be tested on a CPU.
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <memory>

namespace tautrain::compat {

/// Whether this build can capture CUDA graphs (it was compiled against a CUDA LibTorch).
bool cudaGraphsCompiled();

class DeviceGraph {
 public:
  explicit DeviceGraph(const c10::Device& device);
  ~DeviceGraph();
  DeviceGraph(const DeviceGraph&) = delete;
  DeviceGraph& operator=(const DeviceGraph&) = delete;

  /// Captures work(). On CUDA it runs once on a side stream while being recorded, allocating
  /// from a private memory pool, or from `sharePool`'s when given (then the two must always be
  /// replayed in the order they were captured), with autocast's weight cache off. Throws when
  /// the work cannot be captured (it synchronises with the host, for example). Emulated, the
  /// work is only kept: it first runs at the first replay.
  void capture(std::function<void()> work, const DeviceGraph* sharePool = nullptr);
  /// Runs what was captured on the current stream, reading and writing the same memory.
  void replay();
  bool emulated() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// work() on a side stream of a CUDA device, everything before it finished and everything in it
/// finished on return (what a capture needs beforehand: warm-up runs); elsewhere just work().
void runOnSideStream(const c10::Device& device, const std::function<void()>& work);

/// Bytes the device's caching allocator holds from the driver (CUDA), 0 elsewhere: what a
/// capture adds to it is the memory its graph keeps.
std::int64_t reservedDeviceMemory(const c10::Device& device);

}  // namespace tautrain::compat
