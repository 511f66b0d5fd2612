#include "tautrain/dist/AllReduceBench.hpp"

#include <torch/torch.h>

#include "tautrain/core/Measure.hpp"
#include "tautrain/dist/Communicator.hpp"

namespace tautrain::dist {

namespace {

void synchronize(bool cuda) {
  if (cuda) torch::cuda::synchronize();
}

}  // namespace

TimedGroup joinTimed(const DistConfig& config, const RankInfo& info, bool cuda) {
  TimedGroup group;
  auto start = SteadyClock::now();
  group.comm = std::make_unique<Communicator>(config, info, cuda);
  group.join_seconds = secondsSince(start);
  std::vector<at::Tensor> one{torch::ones({1}, torch::TensorOptions().device(cuda ? torch::kCUDA : torch::kCPU))};
  start = SteadyClock::now();
  group.comm->allReduceSum(one);
  synchronize(cuda);
  group.first_all_reduce_seconds = secondsSince(start);
  return group;
}

AllReduceTiming timeAllReduce(Communicator& comm, const std::vector<std::int64_t>& tensorSizes, int iterations,
                              bool cuda) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(cuda ? torch::kCUDA : torch::kCPU);
  std::vector<at::Tensor> tensors;
  std::int64_t elements = 0;
  for (const auto n : tensorSizes) tensors.push_back(torch::ones({n}, options)), elements += n;
  std::vector<double> reduce, copy;
  for (int i = 0; i < iterations + 3; ++i) {  // the first three warm up
    comm.barrier();
    synchronize(cuda);
    auto start = SteadyClock::now();
    comm.allReduceSum(tensors);
    synchronize(cuda);
    const double reduceSeconds = secondsSince(start);
    auto source = torch::cat(tensors), target = torch::empty_like(source);
    synchronize(cuda);
    start = SteadyClock::now();
    target.copy_(source);
    synchronize(cuda);
    const double copySeconds = secondsSince(start);
    if (i >= 3) reduce.push_back(reduceSeconds), copy.push_back(copySeconds);
    for (auto& t : tensors) t.fill_(1.0f);  // keep values finite over many sums
  }
  AllReduceTiming timing;
  timing.bytes = elements * 4;
  timing.tensors = static_cast<int>(tensorSizes.size());
  timing.seconds = median(reduce);
  timing.copy_seconds = median(copy);
  timing.algorithm_gbps = static_cast<double>(timing.bytes) / timing.seconds / 1e9;
  timing.bus_gbps = timing.algorithm_gbps * 2.0 * (comm.size() - 1) / comm.size();
  return timing;
}

std::vector<AllReduceRow> timeGradientsAndSizes(Communicator& comm, const std::vector<std::int64_t>& gradientSizes,
                                                int iterations, bool cuda) {
  std::vector<AllReduceRow> rows{{"model gradients", timeAllReduce(comm, gradientSizes, iterations, cuda)}};
  for (const std::int64_t bytes : {std::int64_t{4} << 10, std::int64_t{64} << 10, std::int64_t{1} << 20,
                                   std::int64_t{16} << 20, std::int64_t{64} << 20})
    rows.push_back({std::to_string(bytes >> 10) + " KiB", timeAllReduce(comm, {bytes / 4}, iterations, cuda)});
  return rows;
}

}  // namespace tautrain::dist
