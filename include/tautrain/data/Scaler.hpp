#pragma once
// Per-feature standard scaler, fitted in one streaming, numerically stable pass (Welford with
// Chan's merge) over the training shards; invalid values (validity flag 0) are ignored.
#include <nlohmann/json_fwd.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tautrain/data/CandidateBlock.hpp"
#include "tautrain/data/FeatureSchema.hpp"

namespace tautrain::data {

class Dataset;

/// Running mean and variance of one feature.
struct RunningMoments {
  std::int64_t count = 0;
  double mean = 0;
  double m2 = 0;
  void add(double x) {
    ++count;
    const double delta = x - mean;
    mean += delta / static_cast<double>(count);
    m2 += delta * (x - mean);
  }
  void merge(const RunningMoments& other);
  double stddev() const { return count > 1 ? std::sqrt(m2 / static_cast<double>(count)) : 0.0; }
};

class StandardScaler {
 public:
  struct Feature {
    std::string name;
    double mean = 0;
    double std = 1;  ///< 1 where the feature is constant or never valid
    std::int64_t count = 0;
  };
  struct CollectionScale {
    std::string name;
    std::vector<Feature> features;
  };

  /// Fits on every candidate of the dataset; threads read shards in parallel.
  static StandardScaler fit(const Dataset& dataset, int threads = 1,
                            const std::function<void(std::int64_t, std::int64_t)>& progress = {});
  /// Accumulates moments of one block (exposed for tests and custom pipelines).
  static void accumulate(const FeatureSchema& schema, const CandidateBlock& block,
                         std::vector<std::vector<RunningMoments>>& moments);
  static StandardScaler fromMoments(const FeatureSchema& schema, const std::vector<std::vector<RunningMoments>>& moments);

  /// Scaled value (value - mean) / std of column `column` of collection `c`, as one float
  /// multiply-add: it runs for every token feature the loader delivers.
  float apply(std::size_t c, std::size_t column, float value) const {
    return value * m_scale[c][column] + m_shift[c][column];
  }
  /// The two constants of apply(), for graphs that repeat it (deploy/Export).
  float scale(std::size_t c, std::size_t column) const { return m_scale[c][column]; }
  float shift(std::size_t c, std::size_t column) const { return m_shift[c][column]; }
  const std::vector<CollectionScale>& collections() const { return m_collections; }
  /// Throws when the scaler was fitted for other features than the schema's.
  void checkMatches(const FeatureSchema& schema, const std::string& source) const;

  nlohmann::json toJson() const;
  static StandardScaler fromJson(const nlohmann::json& json, const std::string& source);
  void save(const std::string& path) const;
  static StandardScaler load(const std::string& path);

 private:
  void precompute();
  std::vector<CollectionScale> m_collections;
  std::vector<std::vector<float>> m_scale, m_shift;
};

}  // namespace tautrain::data
