#pragma once
// YAML <-> Config structs. Sources apply in order: defaults, YAML files left to right,
// then --set key=value overrides; errors name the key path and the file and line.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tautrain/config/Fields.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Names.hpp"

namespace tautrain::config {

/// Where each key path got its value from ("file.yaml:12", "--set a.b=1").
using SourceMap = std::map<std::string, std::string>;

namespace detail {

std::string joinPath(const std::string& prefix, const std::string& key);
std::string describeSource(const std::string& sourceName, const YAML::Node& node);
[[noreturn]] void throwTypeError(const std::string& path, const std::string& where, const char* expected,
                                 const YAML::Node& node);

template <typename T>
const char* typeName() {
  if constexpr (std::is_same_v<T, bool>) return "a boolean (true/false)";
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) return "a non-negative integer";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else return "a string";
}

template <typename T>
T scalarAs(const YAML::Node& node, const std::string& path, const std::string& where) {
  if constexpr (core::HasNames<T>::value) {
    const auto text = scalarAs<std::string>(node, path, where);
    if (auto value = core::parseName<T>(text)) return *value;
    throw ConfigError(path, "must be " + core::allowedNames<T>() + ", not '" + text + "' (at " + where + ")");
  } else {
    if (!node.IsScalar()) throwTypeError(path, where, typeName<T>(), node);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      // yaml-cpp accepts "1.5" for ints on some versions; insist on an integer literal.
      const std::string& text = node.Scalar();
      if (text.find_first_of(".eE") != std::string::npos && text.rfind("0x", 0) != 0)
        throwTypeError(path, where, typeName<T>(), node);
      if constexpr (std::is_unsigned_v<T>)
        if (!text.empty() && text[0] == '-') throwTypeError(path, where, typeName<T>(), node);
    }
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      throwTypeError(path, where, typeName<T>(), node);
    }
  }
}

}  // namespace detail

/// Reads one YAML source into a Config struct; only keys present in the source change.
class YamlReader {
 public:
  YamlReader(YAML::Node node, std::string sourceName, SourceMap& sources, std::string prefix = "")
      : m_node(std::move(node)), m_sourceName(std::move(sourceName)), m_sources(sources), m_prefix(std::move(prefix)) {}

  template <typename T>
  void operator()(const char* key, T& value, const char* /*help*/) {
    m_known.insert(key);
    YAML::Node child = m_node[key];
    if (!child) return;
    const std::string path = detail::joinPath(m_prefix, key);
    const std::string where = detail::describeSource(m_sourceName, child);
    read(child, path, where, value);
    m_sources[path] = where;
  }

  template <typename Section>
  void section(const char* key, Section& sub) {
    m_known.insert(key);
    YAML::Node child = m_node[key];
    if (!child || child.IsNull()) return;
    const std::string path = detail::joinPath(m_prefix, key);
    if (!child.IsMap())
      throw ConfigError(path, "expected a section (a map of keys) at " + detail::describeSource(m_sourceName, child));
    YamlReader nested(child, m_sourceName, m_sources, path);
    sub.describe(nested);
    nested.rejectUnknownKeys();
  }

  /// Any key in the source that the struct did not describe is a mistake (a typo, an old name).
  void rejectUnknownKeys() const;

 private:
  template <typename T>
  void read(const YAML::Node& node, const std::string& path, const std::string& where, T& value) {
    value = detail::scalarAs<T>(node, path, where);
  }
  template <typename T>
  void read(const YAML::Node& node, const std::string& path, const std::string& where, std::vector<T>& value) {
    if (node.IsScalar() && !node.Scalar().empty())
      throw ConfigError(path, "expected a list at " + where);
    std::vector<T> result;
    for (std::size_t i = 0; i < node.size(); ++i)
      result.push_back(detail::scalarAs<T>(node[i], path + "[" + std::to_string(i) + "]",
                                           detail::describeSource(m_sourceName, node[i])));
    value = std::move(result);
  }
  template <typename T>
  void read(const YAML::Node& node, const std::string& path, const std::string& where,
            std::map<std::string, T>& value) {
    if (!node.IsMap()) throw ConfigError(path, "expected a map at " + where);
    std::map<std::string, T> result;
    for (const auto& item : node) {
      const auto key = item.first.as<std::string>();
      result[key] = detail::scalarAs<T>(item.second, path + "." + key,
                                        detail::describeSource(m_sourceName, item.second));
    }
    value = std::move(result);
  }

  YAML::Node m_node;
  std::string m_sourceName;
  SourceMap& m_sources;
  std::string m_prefix;
  std::set<std::string> m_known;
};

/// Writes a Config struct as YAML, each key preceded by its help text.
class YamlWriter {
 public:
  explicit YamlWriter(YAML::Emitter& out) : m_out(out) {}

  template <typename T>
  void operator()(const char* key, const T& value, const char* help) {
    m_out << YAML::Key << key << YAML::Value;
    if constexpr (core::HasNames<T>::value) {
      const std::string choices = core::allowedNames<T>();
      m_out << core::nameOf(value) << YAML::Comment(help && *help ? choices + "; " + help : choices);
      return;
    } else if constexpr (std::is_same_v<T, std::string>) m_out << YAML::DoubleQuoted << value;
    else if constexpr (std::is_same_v<T, std::vector<std::string>> || std::is_same_v<T, std::vector<double>> ||
                       std::is_same_v<T, std::vector<std::int64_t>>)
      m_out << YAML::Flow << value;
    else m_out << value;
    if (help && *help) m_out << YAML::Comment(help);
  }

  template <typename Section>
  void section(const char* key, const Section& sub) {
    m_out << YAML::Key << key << YAML::Value << YAML::BeginMap;
    const_cast<Section&>(sub).describe(*this);
    m_out << YAML::EndMap;
  }

 private:
  YAML::Emitter& m_out;
};

/// Runs validate() of every section, prefixing the key path and adding the value's source.
class Validator {
 public:
  Validator(const SourceMap& sources, std::string prefix = "") : m_sources(sources), m_prefix(std::move(prefix)) {}

  template <typename T>
  void operator()(const char*, const T&, const char*) {}

  template <typename Section>
  void section(const char* key, const Section& sub) {
    const std::string path = detail::joinPath(m_prefix, key);
    Validator nested(m_sources, path);
    const_cast<Section&>(sub).describe(nested);
    run(sub, path);
  }

  template <typename Root>
  void run(const Root& root, const std::string& path) const {
    if constexpr (HasValidate<Root>::value) {
      try {
        root.validate();
      } catch (const ConfigError& e) {
        const std::string full = e.key().empty() ? path : detail::joinPath(path, e.key());
        auto source = m_sources.find(full);
        throw ConfigError(full, e.message() + (source != m_sources.end() ? " (set at " + source->second + ")" : ""));
      }
    }
  }

 private:
  const SourceMap& m_sources;
  std::string m_prefix;
};

/// Reads `root` from its sources in order and validates it: `defaults` (key=value, a
/// command's own defaults), then YAML files left to right, then --set overrides.
template <typename Root>
SourceMap readConfig(Root& root, const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                     const std::vector<std::string>& defaults = {});

/// Parses "a.b.c=value" into a YAML document {a: {b: {c: value}}}.
YAML::Node overrideToYaml(const std::string& assignment);

/// Loads a YAML file with a clear error naming it.
YAML::Node loadYamlFile(const std::string& path);

template <typename Root>
void validateConfig(const Root& root, const SourceMap& sources) {
  Validator validator(sources);
  const_cast<Root&>(root).describe(validator);
  validator.run(root, "");
}

template <typename Root>
void applyYaml(Root& root, const YAML::Node& node, const std::string& sourceName, SourceMap& sources) {
  if (!node || node.IsNull()) return;
  if (!node.IsMap()) throw ConfigError("", sourceName + ": the top level must be a map of sections");
  YamlReader reader(node, sourceName, sources);
  root.describe(reader);
  reader.rejectUnknownKeys();
}

template <typename Root>
SourceMap readConfig(Root& root, const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                     const std::vector<std::string>& defaults) {
  SourceMap sources;
  for (const auto& assignment : defaults) applyYaml(root, overrideToYaml(assignment), "default " + assignment, sources);
  for (const auto& file : files) applyYaml(root, loadYamlFile(file), file, sources);
  for (const auto& assignment : overrides) applyYaml(root, overrideToYaml(assignment), "--set " + assignment, sources);
  validateConfig(root, sources);
  return sources;
}

template <typename Root>
std::string dumpConfig(const Root& root) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  YamlWriter writer(out);
  const_cast<Root&>(root).describe(writer);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace tautrain::config
