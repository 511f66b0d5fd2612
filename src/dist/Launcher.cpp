#include "tautrain/dist/Launcher.hpp"
#include "tautrain/dist/RankInfo.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <thread>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Machine.hpp"

extern char** environ;

namespace tautrain::dist {

namespace {

volatile std::sig_atomic_t g_pendingSignal = 0;

void rememberSignal(int signal) { g_pendingSignal = signal; }

/// A port nobody listens on now, for single-node runs that ask for port 0.
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  TAUTRAIN_CHECK(fd >= 0, Error, "launch: cannot open a socket to find a free port: ", std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  TAUTRAIN_CHECK(ok, Error, "launch: cannot find a free port: ", std::strerror(errno));
  return ntohs(address.sin_port);
}

/// The parent's environment with the rank variables replaced.
std::vector<std::string> rankEnvironment(const std::vector<std::pair<std::string, std::string>>& set) {
  std::vector<std::string> result;
  for (char** e = environ; *e; ++e) {
    const std::string entry(*e);
    const auto name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& item : set) replaced = replaced || item.first == name;
    if (!replaced) result.push_back(entry);
  }
  for (const auto& [name, value] : set) result.push_back(name + "=" + value);
  return result;
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

std::string describe(int status) {
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "exited with code " + std::to_string(exitCodeOf(status));
}

}  // namespace

int launch(const LaunchOptions& options) {
  TAUTRAIN_CHECK_KEY(options.nproc_per_node >= 1, "--nproc-per-node", "must be at least 1");
  TAUTRAIN_CHECK_KEY(options.nnodes >= 1, "--nnodes", "must be at least 1");
  TAUTRAIN_CHECK_KEY(options.node_rank >= 0 && options.node_rank < options.nnodes, "--node-rank", "is ",
                     options.node_rank, ", outside 0..", options.nnodes - 1);
  TAUTRAIN_CHECK_KEY(options.master_port != 0 || options.nnodes == 1, "--master-port",
                     "0 (a free port) works on one node only; the nodes must agree on a port");
  TAUTRAIN_CHECK_KEY(!options.arguments.empty(), "launch", "give the command after --, e.g. -- train -c run.yaml");
  auto logger = log::get("launch");
  const int port = options.master_port == 0 ? freePort() : options.master_port;
  const int world = options.nnodes * options.nproc_per_node;
  const auto executable = options.executable.empty() ? executablePath() : options.executable;

  struct sigaction forward {}, oldTerm {}, oldInt {}, oldHup {};
  forward.sa_handler = rememberSignal;
  sigemptyset(&forward.sa_mask);
  sigaction(SIGTERM, &forward, &oldTerm);
  sigaction(SIGINT, &forward, &oldInt);
  sigaction(SIGHUP, &forward, &oldHup);
  g_pendingSignal = 0;

  // A batch system lists the job's GPUs (indices, UUIDs or MIG instances): each rank gets its
  // own, so it sees exactly one GPU as cuda:0 (a MIG instance cannot be shared with others anyway).
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  const auto gpus = visibleDevices(visible ? visible : "");
  const bool oneGpuEach = static_cast<int>(gpus.size()) >= options.nproc_per_node;
  if (oneGpuEach) logger->info("CUDA_VISIBLE_DEVICES: one of {} per rank", visible);

  std::vector<pid_t> pids(static_cast<std::size_t>(options.nproc_per_node), -1);
  for (int local = 0; local < options.nproc_per_node; ++local) {
    const int rank = options.node_rank * options.nproc_per_node + local;
    std::vector<std::pair<std::string, std::string>> variables{
        {"RANK", std::to_string(rank)},
        {"WORLD_SIZE", std::to_string(world)},
        {"LOCAL_RANK", std::to_string(local)},
        {"LOCAL_WORLD_SIZE", std::to_string(options.nproc_per_node)},
        {"GROUP_RANK", std::to_string(options.node_rank)},
        {"MASTER_ADDR", options.master_addr},
        {"MASTER_PORT", std::to_string(port)}};
    if (oneGpuEach) variables.emplace_back("CUDA_VISIBLE_DEVICES", gpus[static_cast<std::size_t>(local)]);
    const auto environment = rankEnvironment(variables);
    std::vector<char*> envp, argv;
    for (const auto& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    argv.push_back(const_cast<char*>(executable.c_str()));
    for (const auto& a : options.arguments) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    TAUTRAIN_CHECK(pid >= 0, Error, "launch: fork failed: ", std::strerror(errno));
    if (pid == 0) {
      sigaction(SIGTERM, &oldTerm, nullptr);
      sigaction(SIGINT, &oldInt, nullptr);
      sigaction(SIGHUP, &oldHup, nullptr);
      ::execve(argv[0], argv.data(), envp.data());
      std::fprintf(stderr, "tautrain launch: cannot run %s: %s\n", argv[0], std::strerror(errno));
      ::_exit(127);
    }
    pids[static_cast<std::size_t>(local)] = pid;
  }
  logger->info("started ranks {}..{} of {} (node {} of {}), rendezvous {}:{}", options.node_rank * options.nproc_per_node,
               (options.node_rank + 1) * options.nproc_per_node - 1, world, options.node_rank, options.nnodes,
               options.master_addr, port);

  using Clock = std::chrono::steady_clock;
  int result = 0;
  int live = options.nproc_per_node;
  bool stopping = false;
  Clock::time_point killAt = Clock::time_point::max();
  const auto signalAll = [&](int signal) {
    for (const pid_t pid : pids)
      if (pid > 0) ::kill(pid, signal);
  };
  while (live > 0) {
    if (const int signal = g_pendingSignal) {
      g_pendingSignal = 0;
      logger->info("forwarding {} to the ranks", strsignal(signal));
      signalAll(signal);
    }
    if (Clock::now() >= killAt) {
      logger->warn("ranks still running {} s after SIGTERM: killing them", options.grace_s);
      signalAll(SIGKILL);
      killAt = Clock::time_point::max();
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    int local = 0;
    while (local < options.nproc_per_node && pids[static_cast<std::size_t>(local)] != pid) ++local;
    if (local == options.nproc_per_node) continue;
    pids[static_cast<std::size_t>(local)] = -1;
    --live;
    const int code = exitCodeOf(status);
    if (code == 0) continue;
    logger->warn("local rank {} {}", local, describe(status));
    if (result == 0) result = code;
    if (!stopping && live > 0) {
      // A rank that stops with a checkpoint code stops the others at the same step; a rank that
      // failed leaves them waiting in a collective: either way they get SIGTERM, then SIGKILL.
      stopping = true;
      signalAll(SIGTERM);
      killAt = Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(options.grace_s * 1000));
    }
  }
  sigaction(SIGTERM, &oldTerm, nullptr);
  sigaction(SIGINT, &oldInt, nullptr);
  sigaction(SIGHUP, &oldHup, nullptr);
  return result;
}

}  // namespace tautrain::dist
