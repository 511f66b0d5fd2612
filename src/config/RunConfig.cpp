#include "tautrain/config/RunConfig.hpp"

#include "tautrain/config/Yaml.hpp"

namespace tautrain::config {

RunConfig loadRunConfig(const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                        const std::vector<std::string>& defaults) {
  RunConfig config;
  readConfig(config, files, overrides, defaults);
  return config;
}

std::string dumpRunConfig(const RunConfig& config) { return dumpConfig(config); }

}  // namespace tautrain::config
