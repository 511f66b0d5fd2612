#pragma once
// Runs the tautrain executable as a user would: to the end (runTautrain) or in the background
// (Spawned), for tests of exit codes, messages, signals and multi-process runs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace tautrain::test {

struct Result {
  int code = -1;
  std::string output;  ///< stdout and stderr
};

/// The whole content of a file ("" when it cannot be read).
inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

/// A shell command line run to the end, its stderr with its stdout.
inline Result runCommand(const std::string& commandLine) {
  Result result;
  const std::string command = commandLine + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// `prefix` runs the executable under another command (timeout, env, ...).
inline Result runTautrain(const std::string& arguments, const std::string& prefix = "") {
  return runCommand(prefix + TAUTRAIN_EXECUTABLE + " " + arguments);
}

inline void expectFailure(const Result& r, int code, std::initializer_list<const char*> mentions) {
  EXPECT_EQ(r.code, code) << r.output;
  for (const char* m : mentions) EXPECT_NE(r.output.find(m), std::string::npos) << "'" << m << "' not in: " << r.output;
}

/// Command-line words of a text (no quoting: the tests' paths have no spaces).
inline std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> result;
  for (std::string w; in >> w;) result.push_back(w);
  return result;
}

/// --set options of a tiny, fast run on the shards in `dataDirectory`: 75/25 split by file,
/// batches of 100, a model of a few thousand parameters, one LibTorch thread.
inline std::string tinyRunSettings(const std::string& dataDirectory) {
  return "--set data.files=[" + dataDirectory +
         "] --set data.valid_fraction=0.25 --set data.batch_size=100 --set data.threads=1 --set model.d_model=8 "
         "--set model.heads=2 --set model.layers=1 --set model.embed_hidden=16 --set model.d_ff=16 "
         "--set model.decoder_hidden1=16 --set model.decoder_hidden2=8 --set train.learning_rate=0.003 "
         "--set train.torch_threads=1";
}

/// tautrain started in the background with its output going to `logFile`.
class Spawned {
 public:
  Spawned(const std::vector<std::string>& arguments, std::string logFile) : m_log(std::move(logFile)) {
    std::vector<std::string> args{TAUTRAIN_EXECUTABLE};
    args.insert(args.end(), arguments.begin(), arguments.end());
    m_pid = ::fork();
    if (m_pid == 0) {
      std::FILE* out = std::freopen(m_log.c_str(), "w", stdout);
      if (out) ::dup2(::fileno(out), 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Spawned() {
    if (m_pid > 0 && !m_done) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
  }
  pid_t pid() const { return m_pid; }
  void signal(int sig) const { ::kill(m_pid, sig); }
  std::string output() const { return readFile(m_log); }
  /// Waits until the output contains `text` (true) or `seconds` pass (false).
  bool waitForOutput(const std::string& text, double seconds) const {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      if (output().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  /// Exit code (128 + signal when killed), or -1 when still running after `seconds`.
  int wait(double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_done = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  /// Process ids of its children (the ranks of a launcher).
  std::vector<pid_t> children() const {
    std::vector<pid_t> pids;
    std::ifstream in("/proc/" + std::to_string(m_pid) + "/task/" + std::to_string(m_pid) + "/children");
    for (pid_t p; in >> p;) pids.push_back(p);
    return pids;
  }

 private:
  std::string m_log;
  pid_t m_pid = -1;
  bool m_done = false;
};

}  // namespace tautrain::test
