#pragma once
// Where this process sits in a data-parallel run, from the environment that torchrun,
// `tautrain launch`, Slurm or Open MPI set up.
#include <string>
#include <vector>

namespace tautrain::dist {

struct RankInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  /// Which variables described the run ("torchrun", "slurm", "openmpi"), or "single".
  std::string source = "single";

  bool distributed() const { return world_size > 1; }
};

/// RANK/WORLD_SIZE/LOCAL_RANK/LOCAL_WORLD_SIZE/MASTER_ADDR/MASTER_PORT (torchrun's names),
/// else SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID, else OMPI_COMM_WORLD_*; none: one process.
/// A malformed or inconsistent value is a ConfigError naming the variable.
RankInfo rankFromEnvironment();

/// The GPUs a process may use as CUDA_VISIBLE_DEVICES lists them: indices ("0,2"), GPU UUIDs
/// ("GPU-8f1c..."), MIG instances ("MIG-..." or "MIG-GPU-<uuid>/1/0"). Empty when unset.
std::vector<std::string> visibleDevices(const std::string& cudaVisibleDevices);

}  // namespace tautrain::dist
