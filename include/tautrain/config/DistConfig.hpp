#pragma once
// The `dist` section: how the ranks of a data-parallel run find each other and share work.
#include <array>
#include <string>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Names.hpp"

namespace tautrain::dist {

/// kAuto: NCCL on CUDA, Gloo on CPU.
enum class Backend { kAuto, kNccl, kGloo };
constexpr std::array<core::Named<Backend>, 3> names(Backend) {
  return {{{Backend::kAuto, "auto"}, {Backend::kNccl, "nccl"}, {Backend::kGloo, "gloo"}}};
}

/// Whose batch data.batch_size is: each rank's, or the whole step's.
enum class BatchScope { kPerRank, kGlobal };
constexpr std::array<core::Named<BatchScope>, 2> names(BatchScope) {
  return {{{BatchScope::kPerRank, "per_rank"}, {BatchScope::kGlobal, "global"}}};
}

struct DistConfig {
  Backend backend = Backend::kAuto;
  std::string init_method = "env";
  double timeout_s = 600;
  BatchScope batch_scope = BatchScope::kPerRank;
  double bucket_mb = 25;

  template <class V>
  void describe(V& v) {
    v("backend", backend, "auto: NCCL on CUDA, Gloo on CPU");
    v("init_method", init_method, "env (TCP store at MASTER_ADDR:MASTER_PORT) or file:PATH on a shared file system");
    v("timeout_s", timeout_s, "a collective that waits longer (a rank died or hangs) fails the run");
    v("batch_scope", batch_scope,
      "per_rank: data.batch_size per rank, ranks read disjoint blocks; global: data.batch_size is the global "
      "batch, split across ranks (same steps as one process)");
    v("bucket_mb", bucket_mb, "gradient all-reduce bucket size");
  }
  void validate() const {
    TAUTRAIN_CHECK_KEY(init_method == "env" || init_method.rfind("file:", 0) == 0, "init_method",
                       "must be env or file:PATH, got '", init_method, "'");
    TAUTRAIN_CHECK_KEY(timeout_s > 0, "timeout_s", "must be positive");
    TAUTRAIN_CHECK_KEY(bucket_mb > 0, "bucket_mb", "must be positive");
  }
};

}  // namespace tautrain::dist
