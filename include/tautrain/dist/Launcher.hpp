#pragma once
// `tautrain launch`: starts the local ranks of a data-parallel run and supervises them, like
// torchrun: each rank gets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and
// MASTER_PORT; signals are forwarded; when one rank fails the others are stopped.
#include <string>
#include <vector>

namespace tautrain::dist {

struct LaunchOptions {
  int nproc_per_node = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;  ///< 0: a free port (one node only)
  /// After a rank fails: how long the others get to end after SIGTERM before SIGKILL.
  double grace_s = 30;
  std::string executable;             ///< the program each rank runs (empty: this one)
  std::vector<std::string> arguments;  ///< its arguments
};

/// Runs the ranks of this node to the end and returns the launcher's exit code: 0 when every
/// rank succeeded, else the first failing rank's code (128 + signal when one was killed).
int launch(const LaunchOptions& options);

}  // namespace tautrain::dist
