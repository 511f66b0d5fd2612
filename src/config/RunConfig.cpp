#include "tautrain/config/RunConfig.hpp"

#include "tautrain/config/Yaml.hpp"

namespace tautrain::config {

RunConfig loadRunConfig(const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                        const std::vector<std::string>& defaults) {
  RunConfig config;
  readConfig(config, files, overrides, defaults);
  return config;
}

RunConfig parseRunConfig(const std::string& yaml, const std::string& source, const std::vector<std::string>& overrides) {
  RunConfig config;
  SourceMap sources;
  try {
    applyYaml(config, YAML::Load(yaml), source, sources);
  } catch (const YAML::Exception& e) {
    throw ConfigError("", source + ": cannot parse the stored config: " + e.msg);
  }
  for (const auto& assignment : overrides) applyYaml(config, overrideToYaml(assignment), "--set " + assignment, sources);
  validateConfig(config, sources);
  return config;
}

std::string dumpRunConfig(const RunConfig& config) { return dumpConfig(config); }

}  // namespace tautrain::config
