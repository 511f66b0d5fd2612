#pragma once
// A personal HTCondor pool for one test: its own configuration, directories and port, started
// with condor_master and stopped, with every process it started, whatever happens to the test.
// It needs HTCondor, root (to start the daemons) and an ordinary user to submit as
// (TAUTRAIN_CONDOR_USER): HTCondor refuses jobs from root. cmake/integration.sh provides all
// three in its Debian 13 root and sets TAUTRAIN_REQUIRE_HTCONDOR, which turns a missing piece
// into a failure instead of a skip.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/RunTautrain.hpp"

namespace tautrain::test {

class PersonalPool {
 public:
  /// Why no pool can run here; empty when one can.
  static std::string unavailable() {
    if (runCommand("command -v condor_master").code != 0) return "HTCondor is not installed (no condor_master)";
    if (::geteuid() != 0) return "starting HTCondor's daemons needs root";
    const char* user = std::getenv("TAUTRAIN_CONDOR_USER");
    if (!user || !*user) return "TAUTRAIN_CONDOR_USER (an ordinary user to submit as) is not set";
    if (!::getpwnam(user)) return std::string("TAUTRAIN_CONDOR_USER names no user: ") + user;
    return "";
  }

  /// Writes the pool's configuration under `directory`; with `start`, starts it and waits for
  /// its slot and schedd.
  PersonalPool(const std::filesystem::path& directory, bool start) : m_dir(directory) {
    m_user = std::getenv("TAUTRAIN_CONDOR_USER");
    const auto local = m_dir / "local";
    const int port = freePort();  // a port of its own: no clash with another pool on this machine
    for (const char* sub : {"log", "spool", "execute", "lock", "run"}) std::filesystem::create_directories(local / sub);
    std::ofstream(config()) << "include : /etc/condor/condor_config\n"
                            << "LOCAL_DIR = " << local.string() << "\n"
                            << "LOG = $(LOCAL_DIR)/log\nSPOOL = $(LOCAL_DIR)/spool\nEXECUTE = $(LOCAL_DIR)/execute\n"
                            << "LOCK = $(LOCAL_DIR)/lock\nRUN = $(LOCAL_DIR)/run\n"
                            << "COLLECTOR_HOST = 127.0.0.1:" << port << "\nSHARED_PORT_PORT = " << port << "\n"
                            // Jobs cannot unshare a mount namespace in a chroot.
                            << "MOUNT_UNDER_SCRATCH =\n"
                            << "DAGMAN_USER_LOG_SCAN_INTERVAL = 1\n";
    check(runCommand("chown -R condor:condor " + local.string()), "chown the pool's directories");
    if (start) this->start();
  }

  ~PersonalPool() { stop(); }
  PersonalPool(const PersonalPool&) = delete;
  PersonalPool& operator=(const PersonalPool&) = delete;

  std::string config() const { return (m_dir / "condor_config").string(); }
  std::filesystem::path executeDirectory() const { return m_dir / "local" / "execute"; }

  /// A command (program and shell words) run in `directory` as the submitting user, with the
  /// pool's configuration.
  Result asUser(const std::string& command, const std::filesystem::path& directory) const {
    return runCommand("cd " + directory.string() + " && CONDOR_CONFIG=" + config() + " runuser -u " + m_user + " -- " +
                      command);
  }
  /// The same as root (administration: condor_off, condor_q -allusers).
  Result asRoot(const std::string& command) const { return runCommand("CONDOR_CONFIG=" + config() + " " + command); }

  /// Makes `path` the submitting user's, as a job directory must be.
  void giveToUser(const std::filesystem::path& path) const {
    check(runCommand("chown -R " + m_user + " " + path.string()), "chown " + path.string());
  }

  /// An attribute of a job in the queue; empty once it left the queue.
  std::string jobAttribute(const std::string& job, const std::string& attribute) const {
    for (int attempt = 0;; ++attempt) {
      auto r = asRoot("condor_q -allusers " + job + " -af " + attribute);
      if (r.code == 0) {
        while (!r.output.empty() && (r.output.back() == '\n' || r.output.back() == ' ')) r.output.pop_back();
        return r.output;
      }
      // A busy schedd may not answer at once; an empty answer would read as "job done".
      if (attempt == 10) throw std::runtime_error("condor_q failed: " + r.output);
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }

  /// The end of the pool's own logs, for a failure message.
  std::string daemonLogs() const {
    // popen's sh has no brace expansion: every log named.
    const auto logs = (m_dir / "local" / "log").string();
    return runCommand("tail -n 15 " + logs + "/SchedLog " + logs + "/StartLog " + logs + "/ShadowLog " + logs +
                      "/StarterLog*")
        .output;
  }

 private:
  static int freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), size);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
    ::close(fd);
    return ntohs(address.sin_port);
  }

  static void check(const Result& r, const std::string& what) {
    if (r.code != 0) throw std::runtime_error(what + " failed: " + r.output);
  }

  void start() {
    const auto log = (m_dir / "condor_master.out").string();
    const auto configFile = config();
    m_master = ::fork();
    if (m_master == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a test killed by its time limit takes the pool with it
      std::FILE* out = std::freopen(log.c_str(), "w", stdout);
      if (out) ::dup2(::fileno(out), 2);
      ::setenv("CONDOR_CONFIG", configFile.c_str(), 1);
      ::execlp("condor_master", "condor_master", "-f", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Ready when the slot is advertised and the schedd answers.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      if (asRoot("condor_status -af Name").output.find("slot") != std::string::npos &&
          asRoot("condor_q -allusers -totals").code == 0)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    throw std::runtime_error("the personal HTCondor pool gave no slot within 90 s:\n" + daemonLogs());
  }

  /// Processes of this pool: its daemons (CONDOR_CONFIG) and its jobs (their scratch directory).
  std::vector<pid_t> processes() const {
    std::vector<pid_t> pids;
    const std::string daemon = "CONDOR_CONFIG=" + config(), job = "_CONDOR_SCRATCH_DIR=" + executeDirectory().string();
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const auto name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      const auto environ = readFile(entry.path() / "environ");
      const pid_t pid = std::stoi(name);
      if (pid != ::getpid() && (environ.find(daemon) != std::string::npos || environ.find(job) != std::string::npos))
        pids.push_back(pid);
    }
    return pids;
  }

  void stop() {
    if (m_master <= 0) return;
    asRoot("condor_off -master");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    int status = 0;
    while (::waitpid(m_master, &status, WNOHANG) == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::kill(-m_master, SIGKILL);
    ::waitpid(m_master, &status, WNOHANG);
    for (const pid_t pid : processes()) ::kill(pid, SIGKILL);
    m_master = -1;
  }

  std::filesystem::path m_dir;
  std::string m_user;
  pid_t m_master = -1;
};

}  // namespace tautrain::test
