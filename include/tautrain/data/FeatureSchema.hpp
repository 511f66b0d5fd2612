#pragma once
// The feature columns of every token collection, as listed in configs/features/*.yaml.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tautrain::data {

inline constexpr int kSchemaVersion = 1;

/// Class labels in model output order.
enum Label : int { kElectron = 0, kMuon = 1, kTau = 2, kJet = 3 };
inline constexpr int kNumClasses = 4;
inline constexpr const char* kClassNames[kNumClasses] = {"e", "mu", "tau", "jet"};

/// Token type indices stored in particle_type (configs/features/taut.yaml, token_types).
enum TokenType : int {
  kPfElectron = 0, kPfMuon = 1, kPfPhoton = 2, kPfChargedHadron = 3, kPfNeutralHadron = 4,
  kPfHfHadronic = 5, kPfHfEm = 6, kRecoElectron = 7, kRecoMuon = 8, kGlobalToken = 9,
};

struct Collection {
  std::string name;
  /// One token per candidate (the global token): no offsets array in the file.
  bool per_candidate = false;
  std::vector<std::string> features;
  std::vector<std::string> categorical;
  /// feature -> the 0/1 flag feature that says whether its value is real.
  std::map<std::string, std::string> valid_if;

  /// Column index of a feature, or -1.
  int find(const std::string& feature) const;
  /// Column index of a feature; throws naming the collection when absent.
  int index(const std::string& feature) const;
  bool isCategorical(int column) const;
  /// Columns the model reads as numbers (all but the categorical ones).
  int continuousCount() const;
  /// Column of the validity flag of each column (-1: always valid).
  std::vector<int> validityColumns() const;
  /// Column holding the token type (particle_type); -1 when the collection has none.
  int typeColumn() const;
};

struct FeatureSchema {
  int version = kSchemaVersion;
  std::vector<std::string> token_types;
  std::vector<Collection> collections;

  const Collection& collection(const std::string& name) const;
  /// Token types the model embeds: the schema's list, or the built-in types up to the global token.
  std::int64_t tokenTypeCount() const;
  /// Collections with variable token counts (everything but the global token).
  std::vector<const Collection*> raggedCollections() const;

  /// Parses a schema file; errors name the file and key.
  static FeatureSchema load(const std::string& path);
  static FeatureSchema parse(const std::string& yamlText, const std::string& sourceName);
  /// The thesis feature set compiled into the binary (configs/features/taut.yaml).
  static FeatureSchema builtin();
  /// "builtin" or a path.
  static FeatureSchema fromSpec(const std::string& spec);
};

}  // namespace tautrain::data
