#pragma once
// Conversion between TFRecord files of tf.train.Example and HDF5 shards, and between shard
// compressions.
#include <cstdint>
#include <string>
#include <vector>

#include "tautrain/config/DataConfig.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/io/Compression.hpp"

namespace tautrain::data {

struct ConvertStats {
  std::int64_t files = 0;
  std::int64_t records = 0;
  std::int64_t candidates = 0;
  std::int64_t skipped = 0;  ///< corrupt records skipped (skip_corrupt)
};

struct ConvertOptions {
  std::string output_directory;
  int threads = 1;
  bool overwrite = false;
  io::Compression compression;  ///< of the written shards
};

/// One shard per TFRecord file (same stem, .h5), files converted in parallel.
ConvertStats tfRecordToShards(const std::vector<std::string>& inputs, const FeatureSchema& schema,
                              const TfRecordConfig& mapping, const ConvertOptions& options);
/// One shard per shard (same name), written with options.compression: every value bit for bit
/// unless its mantissa_bits round the continuous features.
ConvertStats rewriteShards(const std::vector<std::string>& inputs, const FeatureSchema& schema,
                           const ConvertOptions& options);
/// One TFRecord file per shard (same stem, .tfrecord).
ConvertStats shardsToTfRecord(const std::vector<std::string>& inputs, const FeatureSchema& schema,
                              const TfRecordConfig& mapping, const ConvertOptions& options);

}  // namespace tautrain::data
