#pragma once
// HDF5 shard files of ragged tau candidates; the layout is documented in docs/data-format.md.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tautrain/data/CandidateBlock.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/data/TokenIndex.hpp"
#include "tautrain/io/Compression.hpp"

namespace tautrain::io::h5 {
class File;
}

namespace tautrain::data {

/// Which file a path named when it was opened (device, inode, size, modification time).
struct FileIdentity {
  std::uint64_t device = 0, inode = 0;
  std::int64_t size = 0, modified_ns = 0;
  bool operator==(const FileIdentity& o) const {
    return device == o.device && inode == o.inode && size == o.size && modified_ns == o.modified_ns;
  }
};

inline constexpr const char* kShardFormat = "tautrain-shard";

struct ShardWriterOptions {
  io::Compression compression;  ///< none: today's row-chunked layout; else column chunks
  std::uint64_t candidate_chunk = 4096;
  std::uint64_t token_chunk = 16384;
  bool with_weight = false;
  std::string producer;  ///< free text stored as the 'producer' attribute
};

/// Writes a shard to PATH.tmp and renames it to PATH on close(), so a shard either exists
/// whole or not at all.
class ShardWriter {
 public:
  ShardWriter(std::string path, FeatureSchema schema, ShardWriterOptions options = {});
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  void append(const CandidateBlock& block);
  void close();
  std::int64_t size() const { return m_candidates; }

 private:
  /// Closes and removes the temporary file: no half-written shard is left behind.
  void discard();
  bool compressed() const { return m_options.compression.codec != io::Codec::kNone; }
  /// Compressed, chunk rows follow the first block's tokens per candidate, so they wait for it.
  void createFeatureDatasets(const CandidateBlock* first);

  std::string m_path;
  FeatureSchema m_schema;
  ShardWriterOptions m_options;
  std::unique_ptr<io::h5::File> m_file;
  std::int64_t m_candidates = 0;
  std::vector<std::int64_t> m_tokens;  ///< tokens written so far per collection
  bool m_featuresCreated = false;
  std::vector<float> m_rounded;  ///< a block's features after mantissa rounding
};

/// What to do with NaN or Inf feature values. kKeep leaves them for the caller to count
/// (`inspect`); only error and replace can be configured.
enum class NonFinitePolicy { kError, kReplace, kKeep };
NonFinitePolicy parseNonFinitePolicy(const std::string& name);

struct ShardReadOptions {
  /// A candidate with more tokens than this (all collections, global included) is an error.
  std::int64_t hard_token_limit = 4096;
  NonFinitePolicy non_finite = NonFinitePolicy::kError;
};

/// Opens a shard and validates its structure up front: format and schema version, feature
/// names against the schema, offsets, labels and token limits. Every error names the file and,
/// where it is about one, the candidate. The file itself is shared by all readers of the process
/// and closed when maxOpenShards() others were used since; a read opens it again.
class ShardReader {
 public:
  ShardReader(std::string path, const FeatureSchema& schema, ShardReadOptions options = {});
  ~ShardReader();
  ShardReader(ShardReader&&) noexcept;

  const std::string& path() const { return m_path; }
  std::int64_t size() const { return m_size; }
  bool hasWeight() const { return m_hasWeight; }
  const std::vector<std::int8_t>& labels() const { return m_labels; }
  /// Where each candidate's tokens lie in collection c (schema order).
  const TokenIndex& tokens(std::size_t c) const { return m_tokens[c]; }
  /// Tokens of candidate i summed over all collections (the global token counts as one).
  std::int64_t tokenCount(std::int64_t i) const;
  /// Heap bytes kept per shard for the whole run: labels and token indices.
  std::size_t indexBytes() const;

  /// Reads candidates [begin, end). Non-finite values raise or are replaced by 0 (and counted).
  CandidateBlock read(std::int64_t begin, std::int64_t end) const;
  /// The same into `out`, reusing its memory (fresh pages cost more than the read itself).
  void read(std::int64_t begin, std::int64_t end, CandidateBlock& out) const;
  /// Only the per-candidate arrays (label, pt, eta, decay mode, weight) of [begin, end).
  CandidateBlock readCandidates(std::int64_t begin, std::int64_t end) const;
  /// Values replaced under NonFinitePolicy::kReplace so far.
  std::int64_t replacedValues() const { return m_replaced.load(); }

 private:
  void readCandidatesInto(const io::h5::File& f, std::int64_t begin, std::int64_t end, CandidateBlock& block) const;
  void checkFinite(float* values, std::int64_t n, int columns, const std::vector<std::int64_t>* offsets,
                   std::int64_t firstCandidate, const std::string& what, const std::vector<std::string>* names) const;

  std::string m_path;
  const FeatureSchema* m_schema;
  ShardReadOptions m_options;
  /// The shared open file, checked to be the one validated (data/Shard.cpp).
  std::shared_ptr<const io::h5::File> openFile() const;

  FileIdentity m_identity;
  std::int64_t m_size = 0;
  bool m_hasWeight = false;
  std::vector<std::int8_t> m_labels;
  std::vector<TokenIndex> m_tokens;
  mutable std::atomic<std::int64_t> m_replaced{0};
};

/// Shard files the readers of a process keep open at most, whatever the number of shards.
std::size_t maxOpenShards();

/// How much shards hold, from the shapes of their datasets alone (no values read, no checks):
/// what a memory estimate needs before a job opens the data.
struct DataExtent {
  std::int64_t shards = 0;
  std::int64_t candidates = 0;
  std::int64_t tokens = 0;          ///< of every collection, the global token included
  std::int64_t feature_values = 0;  ///< fp32 feature values of every collection, global token included
  /// The bytes of features the loader holds per candidate it has read.
  double featureBytesPerCandidate() const {
    return candidates > 0 ? 4.0 * static_cast<double>(feature_values) / static_cast<double>(candidates) : 0;
  }
};
DataExtent measureExtent(const std::vector<std::string>& paths, const FeatureSchema& schema);

/// Expands a list of files, directories (their files ending in `extension`) and glob patterns
/// into sorted paths; a pattern that matches nothing is an error naming it.
std::vector<std::string> expandPaths(const std::vector<std::string>& specs, const std::string& extension = ".h5");

}  // namespace tautrain::data
