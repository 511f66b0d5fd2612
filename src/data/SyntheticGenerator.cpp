#include "tautrain/data/SyntheticGenerator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <thread>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/OrderedPipeline.hpp"
#include "tautrain/core/Random.hpp"
#include "tautrain/data/Shard.hpp"
#include "synthetic/Features.hpp"
#include "synthetic/Simulation.hpp"

namespace tautrain::data {

/// Candidate i: a simulation and its features, both drawing from the stream (seed, i).
struct SyntheticGenerator::Impl {
  const GeneratorConfig& config;
  synthetic::CandidateSimulation simulation;
  synthetic::FeatureFiller features;

  Impl(const FeatureSchema& schema, const GeneratorConfig& cfg) : config(cfg), simulation(cfg), features(schema) {}

  void candidate(std::int64_t index, CandidateBlock& block, std::vector<synthetic::Particle>& particles) const {
    Rng rng(streamSeed(config.seed, static_cast<std::uint64_t>(index)));
    synthetic::Truth t;
    const double signalCone = simulation.simulate(rng, t, particles);
    features.fill(rng, t, particles, signalCone, block);
  }
};

SyntheticGenerator::SyntheticGenerator(FeatureSchema schema, GeneratorConfig config)
    : m_schema(std::move(schema)), m_config(std::move(config)) {
  m_config.validate();
  m_impl = std::make_unique<Impl>(m_schema, m_config);
}

SyntheticGenerator::~SyntheticGenerator() = default;

CandidateBlock SyntheticGenerator::generate(std::int64_t first, std::int64_t n) const {
  CandidateBlock block;
  for (const auto& c : m_schema.collections) {
    TokenMatrix m;
    m.n_features = static_cast<int>(c.features.size());
    // Typical tokens per candidate (pf ~90, RECO leptons ~0.5): growing the vectors costs more.
    const std::size_t perCandidate = c.per_candidate ? 1 : c.name == "pf" ? 100 : 2;
    m.values.reserve(static_cast<std::size_t>(n) * perCandidate * m.n_features);
    m.offsets.reserve(static_cast<std::size_t>(n) + 1);
    block.collections.push_back(std::move(m));
  }
  std::vector<synthetic::Particle> particles;  // reused: candidates have ~100 particles each
  for (std::int64_t i = first; i < first + n; ++i) m_impl->candidate(i, block, particles);
  return block;
}

std::vector<std::string> SyntheticGenerator::writeShards(const Progress& progress) const {
  namespace fs = std::filesystem;
  fs::create_directories(m_config.output);
  const std::int64_t total = m_config.candidates;
  const std::int64_t chunk = 2048;
  const int threads = m_config.threads > 0 ? m_config.threads : std::max(1u, std::thread::hardware_concurrency());

  // Workers generate chunks in any order; the writer appends them strictly in order, so the
  // files are identical for any thread count.
  std::vector<std::pair<std::int64_t, std::int64_t>> chunks;  // (first, n), never crossing a shard
  for (std::int64_t shardBegin = 0; shardBegin < total; shardBegin += m_config.shard_size) {
    const std::int64_t shardEnd = std::min(total, shardBegin + m_config.shard_size);
    for (std::int64_t first = shardBegin; first < shardEnd; first += chunk)
      chunks.emplace_back(first, std::min(chunk, shardEnd - first));
  }
  PipelinePlan plan;
  plan.end_item = plan.end_task = static_cast<std::int64_t>(chunks.size());
  plan.tasks_ahead = static_cast<std::int64_t>(threads) * 4;  // bounds the memory of chunks not yet written
  OrderedPipeline<CandidateBlock> pipeline(std::move(plan), threads, [&](int, std::int64_t k, const auto& emit) {
    const auto [first, n] = chunks[static_cast<std::size_t>(k)];
    emit(k, [&, first = first, n = n] { return generate(first, n); });
  });

  ShardWriterOptions options;
  options.compression = {m_config.compression, m_config.compression_level, m_config.mantissa_bits};
  options.producer = "tautrain generate (seed " + std::to_string(m_config.seed) + ")";
  std::vector<std::string> paths;
  std::unique_ptr<ShardWriter> writer;
  std::int64_t candidatesWritten = 0;
  for (const auto& [first, n] : chunks) {
    const auto block = pipeline.next();
    if (first % m_config.shard_size == 0) {
      if (writer) writer->close();
      char name[32];
      std::snprintf(name, sizeof(name), "shard-%05lld.h5", static_cast<long long>(first / m_config.shard_size));
      paths.push_back((fs::path(m_config.output) / name).string());
      writer = std::make_unique<ShardWriter>(paths.back(), m_schema, options);
    }
    writer->append(*block);
    candidatesWritten += n;
    if (progress) progress(candidatesWritten, total);
  }
  if (writer) writer->close();
  return paths;
}

}  // namespace tautrain::data
