#include "tautrain/data/SyntheticGenerator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "support/TestData.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/data/Shard.hpp"

using namespace tautrain;
using data::FeatureSchema;
using data::SyntheticGenerator;

namespace {

data::GeneratorConfig smallConfig(std::int64_t n) {
  data::GeneratorConfig config;
  config.candidates = n;
  config.seed = 99;
  return config;
}

/// Mean of a global feature over candidates of one class.
double classMean(const data::CandidateBlock& b, const data::Collection& global, const char* feature, int label) {
  const int column = global.index(feature);
  double sum = 0;
  int n = 0;
  for (std::int64_t i = 0; i < b.size(); ++i)
    if (b.label[i] == label) sum += b.collections[0].row(i)[column], ++n;
  return n ? sum / n : 0;
}

}  // namespace

TEST(Generator, CandidateDependsOnlyOnSeedAndIndex) {
  SyntheticGenerator generator(FeatureSchema::builtin(), smallConfig(100));
  const auto whole = generator.generate(0, 60);
  const auto tail = generator.generate(40, 20);
  for (std::size_t c = 0; c < whole.collections.size(); ++c) {
    const auto& w = whole.collections[c];
    const auto& t = tail.collections[c];
    const auto first = w.offsets[40];
    ASSERT_EQ(t.tokens(), w.offsets[60] - first);
    EXPECT_TRUE(std::equal(t.values.begin(), t.values.end(), w.values.begin() + first * w.n_features)) << c;
  }
  auto other = smallConfig(100);
  other.seed = 100;
  EXPECT_NE(SyntheticGenerator(FeatureSchema::builtin(), other).generate(0, 60).collections[1].values,
            whole.collections[1].values);
}

TEST(Generator, ShardsAreIdenticalForAnyThreadCount) {
  test::TempDir dir;
  auto config = smallConfig(5000);
  config.shard_size = 2100;
  config.threads = 1;
  config.output = dir.file("one");
  const auto one = SyntheticGenerator(FeatureSchema::builtin(), config).writeShards();
  config.threads = 3;
  config.output = dir.file("three");
  const auto three = SyntheticGenerator(FeatureSchema::builtin(), config).writeShards();
  ASSERT_EQ(one.size(), 3u);
  ASSERT_EQ(three.size(), 3u);
  const auto schema = FeatureSchema::builtin();
  for (std::size_t s = 0; s < one.size(); ++s) {
    data::ShardReader a(one[s], schema), b(three[s], schema);
    ASSERT_EQ(a.size(), b.size());
    const auto ba = a.read(0, a.size()), bb = b.read(0, b.size());
    EXPECT_EQ(ba.label, bb.label);
    for (std::size_t c = 0; c < ba.collections.size(); ++c) EXPECT_EQ(ba.collections[c].values, bb.collections[c].values);
  }
}

TEST(Generator, EveryColumnIsFilledFiniteWithValidTypesAndDefaultsWhereInvalid) {
  const auto schema = FeatureSchema::builtin();
  const auto block = SyntheticGenerator(schema, smallConfig(3000)).generate(0, 3000);
  for (std::size_t c = 0; c < schema.collections.size(); ++c) {
    const auto& coll = schema.collections[c];
    const auto& m = block.collections[c];
    const auto validity = coll.validityColumns();
    const int type = coll.typeColumn();
    std::vector<bool> varies(coll.features.size(), false);
    for (std::int64_t t = 0; t < m.tokens(); ++t) {
      const float* row = m.row(t);
      for (std::size_t f = 0; f < coll.features.size(); ++f) {
        ASSERT_TRUE(std::isfinite(row[f])) << coll.name << "." << coll.features[f];
        if (validity[f] >= 0 && row[validity[f]] == 0.0f) {
          EXPECT_EQ(row[f], 0.0f) << coll.name << "." << coll.features[f] << " set although invalid";
        }
        if (row[f] != m.row(0)[f]) varies[f] = true;
      }
      ASSERT_GE(row[type], 0.0f);
      ASSERT_LE(row[type], 9.0f);
    }
    // Every feature carries information somewhere (the type of a fixed-type collection aside).
    for (std::size_t f = 0; f < coll.features.size(); ++f)
      if (static_cast<int>(f) != type) {
        EXPECT_TRUE(varies[f]) << coll.name << "." << coll.features[f] << " is constant";
      }
  }
}

TEST(Generator, StatisticsFollowTheThesisData) {
  const auto schema = FeatureSchema::builtin();
  const std::int64_t n = 8000;
  const auto b = SyntheticGenerator(schema, smallConfig(n)).generate(0, n);
  std::vector<std::int64_t> totals;
  std::array<int, 4> classes{};
  std::map<int, int> modes;
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t total = 0;
    for (const auto& m : b.collections) total += m.count(i);
    totals.push_back(total);
    ++classes[b.label[i]];
    if (b.label[i] == data::kTau) ++modes[b.decay_mode[i]];
    else EXPECT_EQ(b.decay_mode[i], -1);
    EXPECT_GE(b.pt[i], 20.0f);
    EXPECT_LE(b.pt[i], 1000.0f * 1.0001f);
    EXPECT_LT(std::abs(b.eta[i]), 2.3f);
  }
  std::sort(totals.begin(), totals.end());
  EXPECT_NEAR(static_cast<double>(totals[n / 2]), 85.0, 10.0);  // median near 85 tokens
  EXPECT_GT(totals[n - 1], 200);                                  // a long tail
  EXPECT_NEAR(b.collections[3].tokens() / double(n), 0.5, 0.12);  // RECO muons per candidate
  EXPECT_NEAR(b.collections[2].tokens() / double(n), 0.4, 0.12);  // RECO electrons per candidate
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(classes[k] / double(n), 0.25, 0.03);
  const int taus = classes[data::kTau];
  // Hadronic branching fractions 11.5, 25.9, 9.5, 9.8, 4.8 % (renormalised to 61.5).
  EXPECT_NEAR(modes[0] / double(taus), 11.5 / 61.5, 0.03);
  EXPECT_NEAR(modes[1] / double(taus), 25.9 / 61.5, 0.03);
  EXPECT_NEAR(modes[10] / double(taus), 9.8 / 61.5, 0.03);
}

TEST(Generator, ClassesDifferTheWayPhysicsSays) {
  const auto schema = FeatureSchema::builtin();
  const auto b = SyntheticGenerator(schema, smallConfig(6000)).generate(0, 6000);
  const auto& global = schema.collection("global");
  // Taus are isolated, jets are not.
  EXPECT_LT(classMean(b, global, "tau_chargedIsoPtSum", data::kTau),
            0.5 * classMean(b, global, "tau_chargedIsoPtSum", data::kJet));
  // Electrons deposit their energy in the ECAL, muons hardly at all.
  EXPECT_GT(classMean(b, global, "tau_emFraction", data::kElectron), 0.8);
  EXPECT_LT(classMean(b, global, "tau_emFraction", data::kMuon), 0.3);
  // Three-prong taus fly: their flight-length significance exceeds that of jets.
  EXPECT_GT(classMean(b, global, "tau_flightLength_sig", data::kTau),
            classMean(b, global, "tau_flightLength_sig", data::kJet));
}

TEST(Generator, ClassFractionsAreConfigurable) {
  auto config = smallConfig(2000);
  config.class_fractions = {0, 0, 1, 3};
  const auto b = SyntheticGenerator(FeatureSchema::builtin(), config).generate(0, 2000);
  const auto taus = std::count(b.label.begin(), b.label.end(), data::kTau);
  EXPECT_EQ(std::count(b.label.begin(), b.label.end(), data::kElectron), 0);
  EXPECT_NEAR(taus / 2000.0, 0.25, 0.03);
}

TEST(Generator, ReducedSchemaWorksAndUnknownFeatureIsRejected) {
  const auto tiny = test::tinySchema();
  // tiny's pf lacks most features: fine; but "dxy_valid" is not a pf feature the generator knows.
  EXPECT_THROW(SyntheticGenerator(tiny, smallConfig(10)), ConfigError);
  auto reduced = FeatureSchema::builtin();
  reduced.collections[1].features.resize(5);
  reduced.collections[1].valid_if.clear();
  const auto b = SyntheticGenerator(reduced, smallConfig(10)).generate(0, 10);
  EXPECT_EQ(b.collections[1].n_features, 5);
  EXPECT_GT(b.collections[1].tokens(), 10);
}
