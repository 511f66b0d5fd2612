#include "tautrain/dist/RankInfo.hpp"

#include <cstdlib>
#include <sstream>
#include <string>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Text.hpp"

namespace tautrain::dist {

namespace {

const char* env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

int intVariable(const char* name, int fallback) {
  const char* value = env(name);
  if (!value) return fallback;
  try {
    std::size_t used = 0;
    const int parsed = std::stoi(value, &used);
    if (used == std::string(value).size()) return parsed;
  } catch (const std::exception&) {
  }
  throw ConfigError(name, std::string("environment variable is '") + value + "', expected an integer");
}

}  // namespace

RankInfo rankFromEnvironment() {
  RankInfo info;
  struct Names {
    const char *rank, *world, *localRank, *localWorld, *source;
  };
  for (const auto& names : {Names{"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "torchrun"},
                            Names{"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE", "slurm"},
                            Names{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                                  "OMPI_COMM_WORLD_LOCAL_SIZE", "openmpi"}}) {
    if (!env(names.rank) || !env(names.world)) continue;
    info.rank = intVariable(names.rank, 0);
    info.world_size = intVariable(names.world, 1);
    info.local_rank = intVariable(names.localRank, info.rank);
    info.local_world_size = intVariable(names.localWorld, info.world_size);
    info.source = names.source;
    TAUTRAIN_CHECK_KEY(info.world_size >= 1, names.world, "must be at least 1, got ", info.world_size);
    TAUTRAIN_CHECK_KEY(info.rank >= 0 && info.rank < info.world_size, names.rank, "is ", info.rank,
                       ", outside 0..", info.world_size - 1);
    TAUTRAIN_CHECK_KEY(info.local_rank >= 0 && info.local_rank < info.local_world_size, names.localRank, "is ",
                       info.local_rank, ", outside 0..", info.local_world_size - 1);
    break;
  }
  if (const char* addr = env("MASTER_ADDR")) info.master_addr = addr;
  info.master_port = intVariable("MASTER_PORT", info.master_port);
  TAUTRAIN_CHECK_KEY(info.master_port > 0 && info.master_port < 65536, "MASTER_PORT", "is ", info.master_port,
                     ", not a TCP port");
  return info;
}

std::vector<std::string> visibleDevices(const std::string& cudaVisibleDevices) {
  std::vector<std::string> devices;
  std::stringstream in(cudaVisibleDevices);
  for (std::string item; std::getline(in, item, ',');) {
    item = trim(item);
    // CUDA stops at the first invalid entry (e.g. -1 hides all GPUs).
    if (item.empty() || item[0] == '-') break;
    devices.push_back(item);
  }
  return devices;
}

}  // namespace tautrain::dist
