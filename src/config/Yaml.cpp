#include "tautrain/config/Yaml.hpp"

#include <filesystem>

namespace tautrain::config {
namespace detail {

std::string joinPath(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::string describeSource(const std::string& sourceName, const YAML::Node& node) {
  const auto mark = node.Mark();
  if (mark.line < 0 || sourceName.rfind("--set", 0) == 0) return sourceName;
  return sourceName + ":" + std::to_string(mark.line + 1);
}

void throwTypeError(const std::string& path, const std::string& where, const char* expected, const YAML::Node& node) {
  std::string got = node.IsScalar() ? "'" + node.Scalar() + "'" : node.IsSequence() ? "a list" : node.IsMap() ? "a map" : "nothing";
  throw ConfigError(path, std::string("expected ") + expected + ", got " + got + " at " + where);
}

}  // namespace detail

void YamlReader::rejectUnknownKeys() const {
  for (const auto& item : m_node) {
    const auto key = item.first.as<std::string>();
    if (m_known.count(key)) continue;
    std::string known;
    for (const auto& k : m_known) known += (known.empty() ? "" : ", ") + k;
    throw ConfigError(detail::joinPath(m_prefix, key), "unknown key at " + detail::describeSource(m_sourceName, item.first) +
                                                           (known.empty() ? "" : " (known here: " + known + ")"));
  }
}

YAML::Node overrideToYaml(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("", "--set expects key.path=value, got '" + assignment + "'");
  const std::string path = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw ConfigError(path, "cannot parse the value of --set " + assignment + ": " + e.msg);
  }
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const auto dot = path.find('.', start);
    parts.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  YAML::Node node = value;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (it->empty()) throw ConfigError(path, "--set has an empty key in '" + assignment + "'");
    YAML::Node parent(YAML::NodeType::Map);
    parent[*it] = node;
    node = parent;
  }
  return node;
}

YAML::Node loadYamlFile(const std::string& path) {
  if (!std::filesystem::exists(path)) throw ConfigError("", "config file not found: " + path);
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::ParserException& e) {
    throw ConfigError("", path + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    throw ConfigError("", path + ": cannot read: " + e.msg);
  }
}

}  // namespace tautrain::config
