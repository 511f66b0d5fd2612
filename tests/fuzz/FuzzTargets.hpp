#pragma once
// What the fuzzers run on each input; the unit tests replay the stored corpus through the same
// functions. Bad input may raise a DataError; anything else (a crash, another exception, a
// sanitizer report, an inconsistent result) is a bug.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tautrain/core/Error.hpp"
#include "tautrain/config/DataConfig.hpp"
#include "tautrain/data/ExampleCodec.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/io/TfExample.hpp"
#include "tautrain/io/TfRecord.hpp"

namespace tautrain::test {

inline void requireThat(bool condition) {
  if (!condition) std::abort();
}

/// Reads every record, strictly and skipping corrupt ones.
inline void fuzzTfRecord(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (const bool skip : {false, true}) {
    try {
      io::TfRecordReader reader(bytes, "fuzz input", {skip});
      std::string payload;
      std::size_t payloadBytes = 0;
      while (reader.next(payload)) payloadBytes += payload.size();
      requireThat(payloadBytes <= size);
    } catch (const DataError&) {
      requireThat(!skip);
    }
  }
}

/// The schema the Example corpus is written for: keys 'label', 'pt', 'eta', 'decay_mode',
/// 'weight', 'global/x', 'pf/length', 'pf/r', 'pf/type'.
inline const data::FeatureSchema& fuzzSchema() {
  static const auto schema = data::FeatureSchema::parse(R"(
schema_version: 1
token_types: [pf_electron, pf_muon, pf_photon, pf_charged_hadron, pf_neutral_hadron,
              pf_hf_hadronic, pf_hf_em, reco_electron, reco_muon, global]
collections:
  global: {per_candidate: true, features: [x]}
  pf: {categorical: [type], features: [r, type]}
)",
                                                        "fuzz schema");
  return schema;
}

/// Parses an Example and decodes it into candidates; whatever decodes must be consistent.
inline void fuzzExample(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  io::TfExample example;
  if (!io::parseExample(bytes, example)) return;
  io::TfExample reparsed;
  requireThat(io::parseExample(io::serializeExample(example), reparsed) && reparsed.size() == example.size());
  static const data::ExampleCodec codec(fuzzSchema(), data::TfRecordConfig{});
  auto block = codec.emptyBlock();
  try {
    const auto n = codec.decode(example, codec.hasWeight(example), block, "fuzz input");
    requireThat(block.size() == n && n > 0);
    for (const auto& matrix : block.collections)
      requireThat(static_cast<std::int64_t>(matrix.offsets.size()) == n + 1 &&
                  matrix.values.size() == static_cast<std::size_t>(matrix.tokens() * matrix.n_features));
    const auto again = codec.encode(block, 0, n);
    requireThat(again.size() >= 6);
  } catch (const DataError&) {
    requireThat(block.size() == 0);
  }
}

}  // namespace tautrain::test
