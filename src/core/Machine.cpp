#include "tautrain/core/Machine.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <fstream>
#include <limits>
#include <thread>

namespace tautrain {

std::string machineDescription() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::string model = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return std::string(host) + ": " + model + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores";
}

std::string executablePath() {
  char path[4096] = {};
  const auto n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string("tautrain");
}

int runProgram(const std::vector<std::string>& argv, const std::string& stdoutPath, const std::string& stderrPath) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  constexpr int kCreate = O_WRONLY | O_CREAT | O_TRUNC;
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, stdoutPath.c_str(), kCreate, 0644);
  if (stderrPath == stdoutPath) {
    posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
  } else if (!stderrPath.empty()) {
    posix_spawn_file_actions_addopen(&files, STDERR_FILENO, stderrPath.c_str(), kCreate, 0644);
  }
  pid_t pid = 0;
  const int failed = posix_spawnp(&pid, args.front(), &files, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (failed != 0) return 127;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 127;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::int64_t raiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<std::int64_t>(limit.rlim_cur);
}

std::int64_t peakResidentBytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmHWM:") {
      std::int64_t kib = 0;
      in >> kib;
      return kib * 1024;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return -1;
}

void resetPeakResidentBytes() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
}

}  // namespace tautrain
