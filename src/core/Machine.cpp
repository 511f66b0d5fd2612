#include "tautrain/core/Machine.hpp"

#include <unistd.h>

#include <fstream>
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

}  // namespace tautrain
