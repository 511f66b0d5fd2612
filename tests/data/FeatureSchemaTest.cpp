#include "tautrain/data/FeatureSchema.hpp"

#include <gtest/gtest.h>

#include "tautrain/core/Error.hpp"

using tautrain::data::FeatureSchema;

TEST(FeatureSchema, BuiltinHasTheThesisFeatureCounts) {
  const auto schema = FeatureSchema::builtin();
  EXPECT_EQ(schema.collection("global").features.size(), 43u);
  EXPECT_EQ(schema.collection("pf").features.size(), 35u);
  EXPECT_EQ(schema.collection("ele").features.size(), 46u);
  EXPECT_EQ(schema.collection("muon").features.size(), 36u);
  EXPECT_EQ(schema.token_types.size(), 10u);
  EXPECT_TRUE(schema.collection("global").per_candidate);
  EXPECT_EQ(schema.raggedCollections().size(), 3u);
  const auto& pf = schema.collection("pf");
  EXPECT_TRUE(pf.isCategorical(pf.index("particle_type")));
  EXPECT_FALSE(pf.isCategorical(pf.index("rel_pt")));
  EXPECT_EQ(pf.validityColumns()[pf.index("dz_sig")], pf.index("dz_sig_valid"));
  EXPECT_EQ(pf.validityColumns()[pf.index("rel_pt")], -1);
}

TEST(FeatureSchema, BuiltinIsTheFileInConfigs) {
  const auto file = FeatureSchema::load(std::string(TAUTRAIN_SOURCE_DIR) + "/configs/features/taut.yaml");
  const auto builtin = FeatureSchema::builtin();
  ASSERT_EQ(file.collections.size(), builtin.collections.size());
  for (std::size_t c = 0; c < file.collections.size(); ++c) {
    EXPECT_EQ(file.collections[c].features, builtin.collections[c].features);
    EXPECT_EQ(file.collections[c].valid_if, builtin.collections[c].valid_if);
  }
}

TEST(FeatureSchema, MistakesAreReportedWithTheirKey) {
  auto errorOf = [](const std::string& text) -> std::string {
    try {
      FeatureSchema::parse(text, "test.yaml");
    } catch (const tautrain::ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(errorOf("collections: {pf: {features: [a, a]}}").find("listed twice"), std::string::npos);
  EXPECT_NE(errorOf("collections: {pf: {features: [a], valid_if: {a: b}}}").find("valid_if"), std::string::npos);
  EXPECT_NE(errorOf("collections: {pf: {feature: [a]}}").find("collections.pf.feature"), std::string::npos);
  EXPECT_NE(errorOf("schema_version: 7\ncollections: {pf: {features: [a]}}").find("not supported"), std::string::npos);
  EXPECT_NE(errorOf("colections: {}").find("test.yaml"), std::string::npos);
}
