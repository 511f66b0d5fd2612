#include "tautrain/dist/Communicator.hpp"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(TAUTRAIN_REQUIRE_CUDA) && !defined(USE_C10D_NCCL)
#error "TAUTRAIN_REQUIRE_CUDA: this LibTorch has CUDA but c10d was built without NCCL"
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/torch.h>

#include <chrono>
#include <map>

#include "tautrain/compat/TorchCompat.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Names.hpp"

namespace tautrain::dist {

namespace {

using Milliseconds = std::chrono::milliseconds;

c10::intrusive_ptr<c10d::Store> makeStore(const DistConfig& config, const RankInfo& info, Milliseconds timeout) {
  if (config.init_method == "env") {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(info.master_port);
    options.isServer = info.rank == 0;
    options.numWorkers = static_cast<std::size_t>(info.world_size);
    options.timeout = timeout;
#if TAUTRAIN_TORCH_AT_LEAST(2, 4)
    // From 2.4 the store serves through libuv by default, which Debian's LibTorch is built
    // without ("use_libuv was requested but PyTorch was build without libuv support"); the
    // classic backend serves a job's few ranks as well.
    options.useLibUV = false;
#endif
    return c10::make_intrusive<c10d::TCPStore>(info.master_addr, options);
  }
  return c10::make_intrusive<c10d::FileStore>(config.init_method.substr(5), info.world_size);
}

}  // namespace

struct Communicator::Impl {
  RankInfo info;
  Backend backend = Backend::kAuto;  ///< resolved: never kAuto
  double bucketBytes = 0;
  Milliseconds timeout{0};
  c10::intrusive_ptr<compat::CollectiveBackend> group;

  /// Waits for a collective; any failure becomes an Error naming it, the rank and the timeout.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) const {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw Error(fmt::format("rank {} of {}: {} failed ({}): another rank has probably died or hangs (timeout "
                              "dist.timeout_s = {} s)",
                              info.rank, info.world_size, what, firstLine(e.what()), timeout.count() / 1000.0));
    }
  }
  /// Starts a collective; a failure to start becomes an Error naming it and the rank.
  template <class Launch>
  c10::intrusive_ptr<c10d::Work> start(const char* what, Launch launch) const {
    try {
      return launch();
    } catch (const std::exception& e) {
      throw Error(fmt::format("rank {} of {}: {} failed to start ({})", info.rank, info.world_size, what,
                              firstLine(e.what())));
    }
  }
  template <class Launch>
  void run(const char* what, Launch launch) const {
    wait(start(what, launch), what);
  }
  static std::string firstLine(const std::string& text) { return text.substr(0, text.find('\n')); }
};

Communicator::Communicator(const DistConfig& config, const RankInfo& info, bool cuda) : m_impl(std::make_unique<Impl>()) {
  auto& impl = *m_impl;
  impl.info = info;
  impl.bucketBytes = config.bucket_mb * 1024 * 1024;
  impl.timeout = Milliseconds(static_cast<std::int64_t>(config.timeout_s * 1000));
  impl.backend = config.backend != Backend::kAuto ? config.backend : cuda ? Backend::kNccl : Backend::kGloo;
  TAUTRAIN_CHECK_KEY(impl.backend != Backend::kNccl || cuda, "dist.backend", "nccl needs train.device cuda");
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::PrefixStore>("tautrain", makeStore(config, info, impl.timeout));
  } catch (const std::exception& e) {
    throw Error(fmt::format("rank {}: cannot reach the rendezvous ({} {}:{}) within {} s: {}", info.rank,
                            config.init_method, info.master_addr, info.master_port, config.timeout_s,
                            Impl::firstLine(e.what())));
  }
  if (impl.backend == Backend::kGloo) {
    auto options = c10d::ProcessGroupGloo::Options::create(impl.timeout);
    // One node: loopback always works. Several: GLOO_SOCKET_IFNAME picks the interface, as in PyTorch.
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"))
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (info.local_world_size == info.world_size)
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    options->threads = 2;
    try {
      impl.group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, info.rank, info.world_size, options);
    } catch (const std::exception& e) {
      throw Error(fmt::format("rank {}: Gloo group of {} ranks did not form within {} s: {}", info.rank,
                              info.world_size, config.timeout_s, Impl::firstLine(e.what())));
    }
  } else {
#ifdef USE_C10D_NCCL
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = impl.timeout;
    impl.group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, info.rank, info.world_size, options);
#else
    throw ConfigError("dist.backend", "this LibTorch was built without NCCL (use gloo)");
#endif
  }
  log::get("dist")->info("rank {} of {} joined the {} group ({}, local rank {} of {})", info.rank, info.world_size,
                         core::nameOf(impl.backend), info.source, info.local_rank, info.local_world_size);
}

Communicator::~Communicator() = default;

int Communicator::rank() const { return m_impl->info.rank; }
int Communicator::size() const { return m_impl->info.world_size; }
Backend Communicator::backend() const { return m_impl->backend; }

void Communicator::broadcast(std::vector<at::Tensor>& tensors, int root) {
  c10d::BroadcastOptions options;
  options.rootRank = root;
  for (auto& tensor : tensors) {
    std::vector<at::Tensor> one{tensor};
    m_impl->run("broadcast", [&] { return m_impl->group->broadcast(one, options); });
  }
}

void Communicator::allReduceSum(std::vector<at::Tensor>& tensors) {
  // Buckets: consecutive tensors of one dtype and device, up to bucketBytes each.
  struct Bucket {
    std::vector<std::size_t> members;
    at::Tensor flat;
  };
  std::vector<Bucket> buckets;
  double bytes = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    const double size = static_cast<double>(t.numel() * t.element_size());
    const bool fits = !buckets.empty() && bytes + size <= m_impl->bucketBytes &&
                      tensors[buckets.back().members.front()].scalar_type() == t.scalar_type() &&
                      tensors[buckets.back().members.front()].device() == t.device();
    if (!fits) buckets.emplace_back(), bytes = 0;
    buckets.back().members.push_back(i);
    bytes += size;
  }
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& bucket : buckets) {
    std::vector<at::Tensor> parts;
    for (auto i : bucket.members) parts.push_back(tensors[i].reshape({-1}));
    bucket.flat = torch::cat(parts);
    std::vector<at::Tensor> one{bucket.flat};
    works.push_back(m_impl->start("all-reduce", [&] { return m_impl->group->allreduce(one); }));
  }
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    m_impl->wait(works[b], "all-reduce");
    std::int64_t offset = 0;
    for (auto i : buckets[b].members) {
      const auto n = tensors[i].numel();
      tensors[i].copy_(buckets[b].flat.narrow(0, offset, n).view(tensors[i].sizes()));
      offset += n;
    }
  }
}

at::Tensor Communicator::allGatherRows(const at::Tensor& local) {
  // Ranks may hold different row counts: share the counts, pad to the largest, gather, trim.
  auto counts = torch::zeros({size()}, torch::TensorOptions().dtype(torch::kLong).device(local.device()));
  counts[rank()] = local.size(0);
  std::vector<at::Tensor> countList{counts};
  allReduceSum(countList);
  const auto hostCounts = counts.cpu();
  const auto* n = hostCounts.data_ptr<std::int64_t>();
  const auto most = *std::max_element(n, n + size());
  auto shape = local.sizes().vec();
  shape[0] = most;
  auto padded = torch::zeros(shape, local.options());
  padded.narrow(0, 0, local.size(0)).copy_(local);
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < size(); ++r) outputs[0].push_back(torch::empty_like(padded));
  std::vector<at::Tensor> input{padded};
  m_impl->run("all-gather", [&] { return m_impl->group->allgather(outputs, input); });
  std::vector<at::Tensor> rows;
  for (int r = 0; r < size(); ++r) rows.push_back(outputs[0][r].narrow(0, 0, n[r]));
  return torch::cat(rows);
}

void Communicator::broadcastString(std::string& text, int root) {
  auto length = torch::tensor({static_cast<std::int64_t>(text.size())}, torch::kLong);
  std::vector<at::Tensor> lengths{length};
  broadcast(lengths, root);
  auto bytes = torch::zeros({length.item<std::int64_t>()}, torch::kUInt8);
  if (rank() == root) std::memcpy(bytes.data_ptr(), text.data(), text.size());
  std::vector<at::Tensor> data{bytes};
  if (bytes.numel() > 0) broadcast(data, root);
  text.assign(reinterpret_cast<const char*>(bytes.data_ptr()), static_cast<std::size_t>(bytes.numel()));
}

void Communicator::barrier() {
  m_impl->run("barrier", [&] { return m_impl->group->barrier(); });
}

}  // namespace tautrain::dist
