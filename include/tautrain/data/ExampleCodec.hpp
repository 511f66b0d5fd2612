#pragma once
// Candidates as tf.train.Example messages, mapped through data.tfrecord (docs/data-format.md).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tautrain/data/CandidateBlock.hpp"
#include "tautrain/config/DataConfig.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/io/TfExample.hpp"

namespace tautrain::data {

/// Maps Examples to candidates and back through a TfRecordConfig.
class ExampleCodec {
 public:
  /// Errors (a key used twice, a collection without a length key) are ConfigErrors.
  ExampleCodec(const FeatureSchema& schema, const TfRecordConfig& mapping);

  /// Whether the Example carries per-candidate weights.
  bool hasWeight(const io::TfExample& example) const;
  /// Appends the Example's candidates to `block` (whose collections match the schema) and
  /// returns how many; `withWeight` says whether weights are expected. Leaves `block` as it was
  /// and throws a DataError starting with `where` when the Example does not fit the mapping.
  std::int64_t decode(const io::TfExample& example, bool withWeight, CandidateBlock& block,
                      const std::string& where) const;
  /// Candidates [begin, end) of `block` as one Example.
  io::TfExample encode(const CandidateBlock& block, std::int64_t begin, std::int64_t end) const;

  /// An empty block with one matrix per schema collection.
  CandidateBlock emptyBlock() const;

 private:
  struct CollectionKeys {
    std::string length;  ///< empty for the per-candidate collection
    std::vector<std::string> features;
    std::vector<bool> categorical;
  };
  const FeatureSchema* m_schema;
  TfRecordConfig m_mapping;
  std::vector<CollectionKeys> m_collections;
  std::map<std::int64_t, int> m_labelOfCode;
  std::vector<std::int64_t> m_codeOfLabel;
};

}  // namespace tautrain::data
