#pragma once
// Small, seeded data sets the tests make themselves.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "tautrain/config/ModelConfig.hpp"
#include "tautrain/data/CandidateBlock.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/data/Shard.hpp"

namespace tautrain::test {

/// A small TauT (d_model 16, 4 heads, 2 blocks) for the tests of the model itself.
inline model::ModelConfig smallModel(model::Layout layout = model::Layout::kPadded,
                                     model::Attention attention = model::Attention::kAuto) {
  model::ModelConfig config;
  config.layout = layout;
  config.attention = attention;
  config.d_model = 16;
  config.heads = 4;
  config.layers = 2;
  config.embed_hidden = 32;
  config.d_ff = 32;
  config.decoder_hidden1 = 32;
  config.decoder_hidden2 = 16;
  return config;
}

/// Every part appears in an error message.
inline void expectMentions(const std::string& message, std::initializer_list<std::string> parts) {
  for (const auto& part : parts) EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
}

/// A fresh directory per instance, removed afterwards.
class TempDir {
 public:
  explicit TempDir(const std::filesystem::path& base = std::filesystem::temp_directory_path()) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // The counter keeps two folders of one test apart: the second must not wipe the first.
    static std::atomic<int> made{0};
    std::string name = "tautrain-test-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
                       std::to_string(::getpid()) + "-" + std::to_string(made++);
    std::replace(name.begin(), name.end(), '/', '_');  // parameterised tests are named Suite/Test/0
    m_path = base / name;
    std::filesystem::remove_all(m_path);
    std::filesystem::create_directories(m_path);
  }
  ~TempDir() { std::filesystem::remove_all(m_path); }
  std::string file(const std::string& name) const { return (m_path / name).string(); }
  const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
};

/// A schema of few features: global [particle_type, tau_pt], pf [r, particle_type, rel_pt,
/// dxy, dxy_valid] with dxy valid_if dxy_valid, muon [r, particle_type].
inline data::FeatureSchema tinySchema() {
  return data::FeatureSchema::parse(R"(
schema_version: 1
token_types: [pf_electron, pf_muon, pf_photon, pf_charged_hadron, pf_neutral_hadron,
              pf_hf_hadronic, pf_hf_em, reco_electron, reco_muon, global]
collections:
  global: {per_candidate: true, categorical: [particle_type], features: [particle_type, tau_pt]}
  pf:
    categorical: [particle_type]
    features: [r, particle_type, rel_pt, dxy, dxy_valid]
    valid_if: {dxy: dxy_valid}
  muon: {categorical: [particle_type], features: [r, particle_type]}
)",
                                    "tiny schema");
}

/// Candidate i has (i % 7) + 1 pf tokens and i % 2 muon tokens; every value encodes where it
/// sits, so a test can recompute it: pf token k of candidate i has r = 0.1 * k, rel_pt = i + k / 100.
inline data::CandidateBlock tinyBlock(std::int64_t first, std::int64_t n) {
  data::CandidateBlock b;
  b.collections.resize(3);
  b.collections[0].n_features = 2;
  b.collections[1].n_features = 5;
  b.collections[2].n_features = 2;
  for (std::int64_t i = first; i < first + n; ++i) {
    b.label.push_back(static_cast<std::int8_t>(i % 4));
    b.pt.push_back(20.0f + static_cast<float>(i));
    b.eta.push_back(0.01f * static_cast<float>(i % 200) - 1.0f);
    b.decay_mode.push_back(static_cast<std::int8_t>(i % 4 == 2 ? 1 : -1));
    float* g = b.collections[0].addRow();
    g[0] = data::kGlobalToken;
    g[1] = 20.0f + static_cast<float>(i);
    b.collections[0].closeCandidate();
    for (int k = 0; k < (i % 7) + 1; ++k) {
      float* row = b.collections[1].addRow();
      row[0] = 0.1f * static_cast<float>(k);
      row[1] = static_cast<float>(data::kPfChargedHadron);
      row[2] = static_cast<float>(i) + static_cast<float>(k) / 100.0f;
      const bool valid = k % 2 == 0;
      row[3] = valid ? 0.01f * static_cast<float>(k + 1) : -999.0f;
      row[4] = valid ? 1.0f : 0.0f;
    }
    b.collections[1].closeCandidate();
    for (int k = 0; k < i % 2; ++k) {
      float* row = b.collections[2].addRow();
      row[0] = 0.05f;
      row[1] = static_cast<float>(data::kRecoMuon);
    }
    b.collections[2].closeCandidate();
  }
  return b;
}

/// Writes `shards` tiny shards of `perShard` candidates; returns their paths.
inline std::vector<std::string> writeTinyShards(const TempDir& dir, int shards, std::int64_t perShard) {
  std::vector<std::string> paths;
  for (int s = 0; s < shards; ++s) {
    paths.push_back(dir.file("tiny-" + std::to_string(s) + ".h5"));
    data::ShardWriter writer(paths.back(), tinySchema());
    writer.append(tinyBlock(s * perShard, perShard));
    writer.close();
  }
  return paths;
}

}  // namespace tautrain::test
