#include "tautrain/data/FeatureSchema.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "tautrain/core/Error.hpp"

namespace tautrain::data {

extern const char* const kBuiltinFeatureSchema;  // generated from configs/features/taut.yaml

int Collection::find(const std::string& feature) const {
  auto it = std::find(features.begin(), features.end(), feature);
  return it == features.end() ? -1 : static_cast<int>(it - features.begin());
}

int Collection::index(const std::string& feature) const {
  const int column = find(feature);
  TAUTRAIN_CHECK(column >= 0, DataError, "collection '", name, "' has no feature '", feature, "'");
  return column;
}

bool Collection::isCategorical(int column) const {
  return std::find(categorical.begin(), categorical.end(), features.at(column)) != categorical.end();
}

int Collection::continuousCount() const {
  int count = 0;
  for (int f = 0; f < static_cast<int>(features.size()); ++f) count += isCategorical(f) ? 0 : 1;
  return count;
}

std::vector<int> Collection::validityColumns() const {
  std::vector<int> columns(features.size(), -1);
  for (const auto& [feature, flag] : valid_if) columns[index(feature)] = index(flag);
  return columns;
}

int Collection::typeColumn() const { return find("particle_type"); }

const Collection& FeatureSchema::collection(const std::string& name) const {
  for (const auto& c : collections)
    if (c.name == name) return c;
  throw DataError("the feature schema has no collection '" + name + "'");
}

std::int64_t FeatureSchema::tokenTypeCount() const {
  return token_types.empty() ? kGlobalToken + 1 : static_cast<std::int64_t>(token_types.size());
}

std::vector<const Collection*> FeatureSchema::raggedCollections() const {
  std::vector<const Collection*> result;
  for (const auto& c : collections)
    if (!c.per_candidate) result.push_back(&c);
  return result;
}

namespace {

std::vector<std::string> stringList(const YAML::Node& node, const std::string& where) {
  if (!node) return {};
  if (!node.IsSequence()) throw ConfigError(where, "expected a list");
  std::vector<std::string> result;
  for (const auto& item : node) result.push_back(item.as<std::string>());
  return result;
}

}  // namespace

FeatureSchema FeatureSchema::parse(const std::string& yamlText, const std::string& sourceName) {
  FeatureSchema schema;
  try {
    const YAML::Node root = YAML::Load(yamlText);
    for (const auto& item : root) {
      const auto key = item.first.as<std::string>();
      if (key != "schema_version" && key != "token_types" && key != "collections")
        throw ConfigError(key, "unknown key (schema_version, token_types, collections)");
    }
    schema.version = root["schema_version"].as<int>(kSchemaVersion);
    if (schema.version != kSchemaVersion)
      throw ConfigError("schema_version", "version " + std::to_string(schema.version) + " is not supported (this build reads " +
                                               std::to_string(kSchemaVersion) + ")");
    schema.token_types = stringList(root["token_types"], "token_types");
    if (!root["collections"] || !root["collections"].IsMap()) throw ConfigError("collections", "expected a map of collections");
    for (const auto& item : root["collections"]) {
      Collection c;
      c.name = item.first.as<std::string>();
      const std::string prefix = "collections." + c.name;
      for (const auto& field : item.second) {
        const auto key = field.first.as<std::string>();
        if (key != "per_candidate" && key != "features" && key != "categorical" && key != "valid_if")
          throw ConfigError(prefix + "." + key, "unknown key (per_candidate, features, categorical, valid_if)");
      }
      c.per_candidate = item.second["per_candidate"].as<bool>(false);
      c.features = stringList(item.second["features"], prefix + ".features");
      c.categorical = stringList(item.second["categorical"], prefix + ".categorical");
      if (c.features.empty()) throw ConfigError(prefix + ".features", "a collection needs at least one feature");
      std::set<std::string> seen;
      for (const auto& f : c.features)
        if (!seen.insert(f).second) throw ConfigError(prefix + ".features", "feature '" + f + "' is listed twice");
      for (const auto& f : c.categorical)
        if (!seen.count(f)) throw ConfigError(prefix + ".categorical", "'" + f + "' is not one of the features");
      if (const auto valid = item.second["valid_if"]) {
        for (const auto& v : valid) {
          const auto feature = v.first.as<std::string>();
          const auto flag = v.second.as<std::string>();
          if (!seen.count(feature) || !seen.count(flag))
            throw ConfigError(prefix + ".valid_if." + feature, "both '" + feature + "' and '" + flag + "' must be features");
          c.valid_if[feature] = flag;
        }
      }
      schema.collections.push_back(std::move(c));
    }
    if (std::count_if(schema.collections.begin(), schema.collections.end(), [](auto& c) { return c.per_candidate; }) > 1)
      throw ConfigError("collections", "at most one collection may be per_candidate");
  } catch (const ConfigError& e) {
    throw ConfigError(e.key(), sourceName + ": " + e.message());
  } catch (const YAML::Exception& e) {
    throw ConfigError("", sourceName + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return schema;
}

FeatureSchema FeatureSchema::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("data.features", "cannot open feature schema file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

FeatureSchema FeatureSchema::builtin() {
  static const FeatureSchema schema = parse(kBuiltinFeatureSchema, "builtin feature schema");
  return schema;
}

FeatureSchema FeatureSchema::fromSpec(const std::string& spec) { return spec == "builtin" ? builtin() : load(spec); }

}  // namespace tautrain::data
