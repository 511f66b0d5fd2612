#pragma once
// The whole configuration of a tautrain run: one section per module, defaults in code.
#include <cstdint>
#include <string>

#include "tautrain/config/DataConfig.hpp"
#include "tautrain/config/GeneratorConfig.hpp"
#include "tautrain/config/DistConfig.hpp"
#include "tautrain/config/EvalConfig.hpp"
#include "tautrain/config/ModelConfig.hpp"
#include "tautrain/config/TrainConfig.hpp"

namespace tautrain::config {

struct RunConfig {
  std::uint64_t seed = 1;
  std::string output = "runs/default";
  data::DataConfig data;
  data::GeneratorConfig generator;
  model::ModelConfig model;
  train::TrainConfig train;
  dist::DistConfig dist;
  eval::EvalConfig eval;

  template <class V>
  void describe(V& v) {
    v("seed", seed, "seed of batching, pruning and (later) initialisation");
    v("output", output, "run directory: effective config, log and results go here");
    v.section("data", data);
    v.section("generator", generator);
    v.section("model", model);
    v.section("train", train);
    v.section("dist", dist);
    v.section("eval", eval);
  }
};

/// Reads YAML files (left to right) and --set overrides over the defaults, and validates.
/// `defaults` (key=value) replace code defaults below the files, for commands with their own.
RunConfig loadRunConfig(const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                        const std::vector<std::string>& defaults = {});
/// Reads a config from YAML text (a checkpoint's resolved config; `source` names it in errors),
/// then --set overrides.
RunConfig parseRunConfig(const std::string& yaml, const std::string& source, const std::vector<std::string>& overrides = {});
std::string dumpRunConfig(const RunConfig& config);

}  // namespace tautrain::config
