#pragma once
// SIGTERM and SIGINT as a request to stop cleanly: long work polls stopRequested() between
// steps, checkpoints and exits. A second signal of the same kind terminates at once.
namespace tautrain {

class StopSignalGuard {
 public:
  /// Installs the handlers; the previous ones come back on destruction.
  StopSignalGuard();
  ~StopSignalGuard();
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;

  /// The signal that asked to stop, or 0.
  static int stopRequested();
};

}  // namespace tautrain
