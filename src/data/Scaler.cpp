#include "tautrain/data/Scaler.hpp"

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "tautrain/core/Error.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/io/Json.hpp"

namespace tautrain::data {

void RunningMoments::merge(const RunningMoments& other) {
  if (other.count == 0) return;
  if (count == 0) {
    *this = other;
    return;
  }
  const double total = static_cast<double>(count + other.count);
  const double delta = other.mean - mean;
  mean += delta * static_cast<double>(other.count) / total;
  m2 += other.m2 + delta * delta * static_cast<double>(count) * static_cast<double>(other.count) / total;
  count += other.count;
}

void StandardScaler::accumulate(const FeatureSchema& schema, const CandidateBlock& block,
                                std::vector<std::vector<RunningMoments>>& moments) {
  if (moments.empty())
    for (const auto& c : schema.collections) moments.emplace_back(c.features.size());
  for (std::size_t c = 0; c < schema.collections.size(); ++c) {
    const auto& coll = schema.collections[c];
    const auto validity = coll.validityColumns();
    const auto& m = block.collections[c];
    for (std::int64_t t = 0; t < m.tokens(); ++t) {
      const float* row = m.row(t);
      for (std::size_t f = 0; f < coll.features.size(); ++f) {
        if (validity[f] >= 0 && row[validity[f]] == 0.0f) continue;
        moments[c][f].add(row[f]);
      }
    }
  }
}

StandardScaler StandardScaler::fromMoments(const FeatureSchema& schema,
                                           const std::vector<std::vector<RunningMoments>>& moments) {
  StandardScaler scaler;
  for (std::size_t c = 0; c < schema.collections.size(); ++c) {
    const auto& coll = schema.collections[c];
    CollectionScale scale{coll.name, {}};
    for (std::size_t f = 0; f < coll.features.size(); ++f) {
      Feature feature{coll.features[f], 0.0, 1.0, 0};
      if (!coll.isCategorical(static_cast<int>(f)) && !moments.empty()) {
        const auto& m = moments[c][f];
        feature.count = m.count;
        feature.mean = m.mean;
        const double sd = m.stddev();
        feature.std = sd > 1e-12 ? sd : 1.0;
      }
      scale.features.push_back(feature);
    }
    scaler.m_collections.push_back(std::move(scale));
  }
  scaler.precompute();
  return scaler;
}

void StandardScaler::precompute() {
  m_scale.clear();
  m_shift.clear();
  for (const auto& c : m_collections) {
    std::vector<float> scale, shift;
    for (const auto& f : c.features) {
      scale.push_back(static_cast<float>(1.0 / f.std));
      shift.push_back(static_cast<float>(-f.mean / f.std));
    }
    m_scale.push_back(std::move(scale));
    m_shift.push_back(std::move(shift));
  }
}

StandardScaler StandardScaler::fit(const Dataset& dataset, int threads,
                                   const std::function<void(std::int64_t, std::int64_t)>& progress) {
  const auto& schema = dataset.schema();
  std::vector<std::vector<RunningMoments>> total;
  std::mutex mutex;
  std::atomic<std::size_t> nextShard{0};
  std::atomic<std::int64_t> done{0};
  std::exception_ptr failure;
  auto worker = [&] {
    try {
      std::vector<std::vector<RunningMoments>> local;
      for (std::size_t s; (s = nextShard++) < dataset.shardCount();) {
        const auto& shard = dataset.shard(s);
        for (std::int64_t begin = 0; begin < shard.size(); begin += 8192) {
          const auto end = std::min(shard.size(), begin + 8192);
          accumulate(schema, shard.read(begin, end), local);
          done += end - begin;
          if (progress) {
            std::lock_guard lock(mutex);
            progress(done.load(), dataset.size());
          }
        }
      }
      std::lock_guard lock(mutex);
      if (total.empty()) total = local;
      else
        for (std::size_t c = 0; c < local.size(); ++c)
          for (std::size_t f = 0; f < local[c].size(); ++f) total[c][f].merge(local[c][f]);
    } catch (...) {
      std::lock_guard lock(mutex);
      failure = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  return fromMoments(schema, total);
}

void StandardScaler::checkMatches(const FeatureSchema& schema, const std::string& source) const {
  TAUTRAIN_CHECK(m_collections.size() == schema.collections.size(), DataError, source, ": scaler has ",
                 m_collections.size(), " collections, the feature schema ", schema.collections.size());
  for (std::size_t c = 0; c < m_collections.size(); ++c) {
    const auto& coll = schema.collections[c];
    TAUTRAIN_CHECK(m_collections[c].name == coll.name && m_collections[c].features.size() == coll.features.size(),
                   DataError, source, ": scaler collection '", m_collections[c].name,
                   "' does not match the feature schema's '", coll.name, "'");
    for (std::size_t f = 0; f < coll.features.size(); ++f)
      TAUTRAIN_CHECK(m_collections[c].features[f].name == coll.features[f], DataError, source, ": scaler feature '",
                     m_collections[c].features[f].name, "' of '", coll.name, "' where the schema has '",
                     coll.features[f], "'");
  }
}

nlohmann::json StandardScaler::toJson() const {
  nlohmann::json json;
  json["format"] = "tautrain-scaler";
  json["version"] = 1;
  for (const auto& c : m_collections) {
    nlohmann::json features = nlohmann::json::array();
    for (const auto& f : c.features) features.push_back({{"name", f.name}, {"mean", f.mean}, {"std", f.std}, {"count", f.count}});
    json["collections"].push_back({{"name", c.name}, {"features", features}});
  }
  return json;
}

StandardScaler StandardScaler::fromJson(const nlohmann::json& json, const std::string& source) {
  StandardScaler scaler;
  try {
    TAUTRAIN_CHECK(json.value("format", "") == "tautrain-scaler", DataError, source, ": not a tautrain scaler");
    for (const auto& c : json.at("collections")) {
      CollectionScale scale{c.at("name").get<std::string>(), {}};
      for (const auto& f : c.at("features"))
        scale.features.push_back({f.at("name").get<std::string>(), f.at("mean").get<double>(), f.at("std").get<double>(),
                                  f.at("count").get<std::int64_t>()});
      scaler.m_collections.push_back(std::move(scale));
    }
  } catch (const nlohmann::json::exception& e) {
    throw DataError(source + ": malformed scaler: " + e.what());
  }
  scaler.precompute();
  return scaler;
}

void StandardScaler::save(const std::string& path) const { io::writeJson(path, toJson()); }

StandardScaler StandardScaler::load(const std::string& path) { return fromJson(io::readJson(path), path); }

}  // namespace tautrain::data
