#pragma once
// Physics-motivated synthetic tau candidates (docs/synthetic-data.md).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tautrain/data/CandidateBlock.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/config/GeneratorConfig.hpp"

namespace tautrain::data {

class SyntheticGenerator {
 public:
  /// Throws when the schema has a collection or feature the generator cannot fill.
  SyntheticGenerator(FeatureSchema schema, GeneratorConfig config);
  ~SyntheticGenerator();

  /// Candidates [first, first + n); candidate i depends only on (seed, i).
  CandidateBlock generate(std::int64_t first, std::int64_t n) const;

  /// Called after each finished chunk with (candidates done, candidates in total).
  using Progress = std::function<void(std::int64_t, std::int64_t)>;
  /// Writes config.candidates candidates into shards under config.output; returns their paths.
  std::vector<std::string> writeShards(const Progress& progress = {}) const;

  const FeatureSchema& schema() const { return m_schema; }

 private:
  struct Impl;
  FeatureSchema m_schema;
  GeneratorConfig m_config;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace tautrain::data
