#pragma once
// All-reduce timing for `tautrain bench allreduce`, with a local copy of the same bytes as the
// baseline measured in the same run.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tautrain/config/DistConfig.hpp"
#include "tautrain/dist/RankInfo.hpp"

namespace tautrain::dist {

class Communicator;

/// A group joined with its start timed: what a job pays once, before its first step.
struct TimedGroup {
  std::unique_ptr<Communicator> comm;
  double join_seconds = 0;              ///< the rendezvous and the process group
  double first_all_reduce_seconds = 0;  ///< one float; NCCL creates its communicator here
};
TimedGroup joinTimed(const DistConfig& config, const RankInfo& info, bool cuda);

struct AllReduceTiming {
  std::int64_t bytes = 0;
  int tensors = 1;            ///< how many tensors the buffer was split into (bucketing)
  double seconds = 0;         ///< median time of one all-reduce
  double copy_seconds = 0;    ///< median time of copying the same bytes locally
  double algorithm_gbps = 0;  ///< bytes / seconds
  double bus_gbps = 0;        ///< algorithm bandwidth x 2 (N - 1) / N, as nccl-tests report it
};

/// Times all-reduces of float32 buffers split as `tensorSizes` (element counts) on every rank
/// (a collective: all ranks call it with the same arguments).
AllReduceTiming timeAllReduce(Communicator& comm, const std::vector<std::int64_t>& tensorSizes, int iterations,
                              bool cuda);

struct AllReduceRow {
  std::string buffer;  ///< "model gradients" or its size, e.g. "64 KiB"
  AllReduceTiming timing;
};

/// The gradient all-reduce of training (`gradientSizes`, element counts, bucketed as in
/// training), then single buffers from 4 KiB to 64 MiB (a collective, like timeAllReduce).
std::vector<AllReduceRow> timeGradientsAndSizes(Communicator& comm, const std::vector<std::int64_t>& gradientSizes,
                                                int iterations, bool cuda);

}  // namespace tautrain::dist
