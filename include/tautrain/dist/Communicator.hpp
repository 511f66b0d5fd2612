#pragma once
// Collectives of a data-parallel run over LibTorch's c10d: NCCL for CUDA tensors, Gloo for CPU.
// Every failure (a rank that died, a collective past dist.timeout_s) is a tautrain::Error that
// says which collective and which rank, so no rank waits forever.
#include <memory>
#include <string>
#include <vector>

#include "tautrain/config/DistConfig.hpp"
#include "tautrain/dist/RankInfo.hpp"

namespace at {
class Tensor;
}

namespace tautrain::dist {

class Communicator {
 public:
  /// Joins the group of `info.world_size` ranks; `cuda` picks NCCL under backend auto.
  Communicator(const DistConfig& config, const RankInfo& info, bool cuda);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const;
  int size() const;
  /// The backend in use: auto resolved to NCCL or Gloo.
  Backend backend() const;

  /// Every rank's tensors become root's.
  void broadcast(std::vector<at::Tensor>& tensors, int root = 0);
  /// Sums each tensor across ranks in place. Tensors of one dtype and device travel flattened
  /// in buckets of about dist.bucket_mb, all launched before the first is waited for.
  void allReduceSum(std::vector<at::Tensor>& tensors);
  /// Concatenates every rank's rows (dim 0, any count per rank) in rank order.
  at::Tensor allGatherRows(const at::Tensor& local);
  /// Root's string on every rank.
  void broadcastString(std::string& text, int root = 0);
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace tautrain::dist
