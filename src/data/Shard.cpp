#include "tautrain/data/Shard.hpp"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <list>
#include <mutex>
#include <unordered_map>

#include "tautrain/core/Error.hpp"
#include "tautrain/io/Hdf5.hpp"

namespace tautrain::data {

namespace fs = std::filesystem;

namespace {

std::string featuresPath(const Collection& c) { return "/" + c.name + "/features"; }
std::string offsetsPath(const Collection& c) { return "/" + c.name + "/offsets"; }

/// Rounds to the nearest value with `bits` mantissa bits (ties to even), as netCDF's BitRound
/// does; NaN, Inf and values that would round past the largest float are truncated instead.
float roundMantissa(float value, int bits) {
  std::uint32_t word;
  std::memcpy(&word, &value, sizeof(word));
  const int drop = 23 - bits;
  const std::uint32_t mask = (std::uint32_t{1} << drop) - 1;
  if ((word & 0x7f800000u) != 0x7f800000u) {
    const std::uint32_t rounded = (word + (mask >> 1) + ((word >> drop) & 1u)) & ~mask;
    if ((rounded & 0x7f800000u) != 0x7f800000u) {
      std::memcpy(&value, &rounded, sizeof(value));
      return value;
    }
  }
  word &= ~mask;
  std::memcpy(&value, &word, sizeof(value));
  return value;
}

/// A shard rewritten under the same name (written to .tmp and renamed) is another file.
FileIdentity identityOf(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};  // opening it says why
  return {static_cast<std::uint64_t>(info.st_dev), static_cast<std::uint64_t>(info.st_ino),
          static_cast<std::int64_t>(info.st_size),
          static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec};
}

/// The shard files open for reading, at most kMaxOpenShards at once, the least recently used
/// closed first. Each open HDF5 file keeps about 0.7 MB (its metadata cache's fixed tables are
/// 0.5 MB of it) and a file descriptor: thousands of shards held open cost GBs.
class OpenShards {
 public:
  static constexpr std::size_t kMaxOpenShards = 64;

  static OpenShards& instance() {
    static OpenShards shards;
    return shards;
  }

  struct Opened {
    std::shared_ptr<const io::h5::File> file;  ///< usable while held, evicted or not
    FileIdentity identity;
  };

  /// The open file `path` names now, opened if it is not.
  Opened acquire(const std::string& path) {
    const auto identity = identityOf(path);
    std::lock_guard<std::mutex> lock(m_mutex);
    if (const auto it = m_index.find(path); it != m_index.end()) {
      if (it->second->second.identity == identity) {
        m_recent.splice(m_recent.begin(), m_recent, it->second);
        return it->second->second;
      }
      m_recent.erase(it->second);
      m_index.erase(it);
    }
    if (m_recent.size() >= kMaxOpenShards) {
      m_index.erase(m_recent.back().first);
      m_recent.pop_back();
    }
    Opened opened{std::make_shared<const io::h5::File>(io::h5::File::openRead(path)), identity};
    m_recent.emplace_front(path, opened);
    m_index[path] = m_recent.begin();
    return opened;
  }

 private:
  using Entry = std::pair<std::string, Opened>;
  std::mutex m_mutex;
  std::list<Entry> m_recent;  ///< most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> m_index;
};

}  // namespace

std::size_t maxOpenShards() { return OpenShards::kMaxOpenShards; }

// ---------------------------------------------------------------------------------------------
// Writer

ShardWriter::ShardWriter(std::string path, FeatureSchema schema, ShardWriterOptions options)
    : m_path(std::move(path)), m_schema(std::move(schema)), m_options(std::move(options)) {
  TAUTRAIN_CHECK_KEY(m_options.compression.level >= 0 && m_options.compression.level <= 9, "compression_level",
                     "must be 0..9");
  TAUTRAIN_CHECK_KEY(m_options.compression.mantissa_bits >= 0 && m_options.compression.mantissa_bits <= 22,
                     "mantissa_bits", "must be 0..22");
  try {
    m_file = std::make_unique<io::h5::File>(io::h5::File::create(m_path + ".tmp", m_path));
    auto& f = *m_file;
    f.writeAttribute("/", "format", std::string(kShardFormat));
    f.writeAttribute("/", "schema_version", std::int64_t{kSchemaVersion});
    if (!m_options.producer.empty()) f.writeAttribute("/", "producer", m_options.producer);
    f.writeAttribute("/", "class_names", std::vector<std::string>(kClassNames, kClassNames + kNumClasses));
    f.createGroup("/candidates");
    // Compressed, a read decodes whole chunks: per-candidate chunks of 1024 rather than 4096.
    const auto chunk = compressed() ? 1024 : m_options.candidate_chunk;
    const auto& codec = m_options.compression;
    f.createExtendable<std::int8_t>("/candidates/label", 0, chunk, codec);
    f.createExtendable<float>("/candidates/pt", 0, chunk, codec);
    f.createExtendable<float>("/candidates/eta", 0, chunk, codec);
    f.createExtendable<std::int8_t>("/candidates/decay_mode", 0, chunk, codec);
    if (m_options.with_weight) f.createExtendable<float>("/candidates/weight", 0, chunk, codec);
    for (const auto& c : m_schema.collections) {
      f.createGroup("/" + c.name);
      if (!c.per_candidate) {
        f.createExtendable<std::int64_t>(offsetsPath(c), 0, m_options.candidate_chunk, codec);
        const std::int64_t zero = 0;
        f.appendRows(offsetsPath(c), &zero, 1);
      }
    }
    if (!compressed()) createFeatureDatasets(nullptr);
  } catch (...) {  // e.g. a codec's plugin is missing
    discard();
    throw;
  }
  m_tokens.assign(m_schema.collections.size(), 0);
}

ShardWriter::~ShardWriter() {
  if (m_file) discard();  // never closed: an error happened
}

void ShardWriter::discard() {
  m_file.reset();
  std::error_code ignored;
  fs::remove(m_path + ".tmp", ignored);
}

void ShardWriter::createFeatureDatasets(const CandidateBlock* first) {
  for (std::size_t c = 0; c < m_schema.collections.size(); ++c) {
    const auto& coll = m_schema.collections[c];
    std::uint64_t rows = std::max<std::uint64_t>(1, (coll.per_candidate ? m_options.candidate_chunk : m_options.token_chunk) / 4);
    if (compressed()) {
      // One column of about 128 candidates' tokens (256..4096 rows, 1-16 kB): a random block of
      // 256 candidates then decodes little more than it uses, in dense PF and in sparse muons.
      const double perCandidate =
          first && first->size() > 0 ? static_cast<double>(first->collections[c].tokens()) / first->size() : 1.0;
      rows = 256;
      while (rows < 4096 && 2.0 * rows <= 128 * perCandidate) rows *= 2;
    }
    m_file->createExtendable<float>(featuresPath(coll), coll.features.size(), rows, m_options.compression);
    m_file->writeAttribute(featuresPath(coll), "feature_names", coll.features);
    if (m_options.compression.mantissa_bits > 0)
      m_file->writeAttribute(featuresPath(coll), "mantissa_bits", std::int64_t{m_options.compression.mantissa_bits});
  }
  m_featuresCreated = true;
}

void ShardWriter::append(const CandidateBlock& block) {
  TAUTRAIN_CHECK(m_file, Error, m_path, ": append after close");
  const auto n = static_cast<std::uint64_t>(block.size());
  TAUTRAIN_CHECK(block.collections.size() == m_schema.collections.size(), Error, m_path,
                 ": block has the wrong number of collections");
  TAUTRAIN_CHECK(!m_options.with_weight || block.weight.size() == n, Error, m_path, ": block lacks weights");
  if (!m_featuresCreated) createFeatureDatasets(&block);
  auto& f = *m_file;
  f.appendRows("/candidates/label", block.label.data(), n);
  f.appendRows("/candidates/pt", block.pt.data(), n);
  f.appendRows("/candidates/eta", block.eta.data(), n);
  f.appendRows("/candidates/decay_mode", block.decay_mode.data(), n);
  if (m_options.with_weight) f.appendRows("/candidates/weight", block.weight.data(), n);
  for (std::size_t c = 0; c < m_schema.collections.size(); ++c) {
    const auto& coll = m_schema.collections[c];
    const auto& matrix = block.collections[c];
    TAUTRAIN_CHECK(matrix.n_features == static_cast<int>(coll.features.size()), Error, m_path, ": collection ",
                   coll.name, " has ", matrix.n_features, " features, the schema ", coll.features.size());
    const float* values = matrix.values.data();
    if (const int bits = m_options.compression.mantissa_bits; bits > 0) {
      m_rounded.assign(matrix.values.begin(), matrix.values.end());
      for (int column = 0; column < matrix.n_features; ++column)
        if (!coll.isCategorical(column))
          for (std::size_t k = static_cast<std::size_t>(column); k < m_rounded.size(); k += matrix.n_features)
            m_rounded[k] = roundMantissa(m_rounded[k], bits);
      values = m_rounded.data();
    }
    f.appendRows(featuresPath(coll), values, static_cast<std::uint64_t>(matrix.tokens()));
    if (!coll.per_candidate) {
      std::vector<std::int64_t> shifted(matrix.offsets.begin() + 1, matrix.offsets.end());
      for (auto& o : shifted) o += m_tokens[c];
      f.appendRows(offsetsPath(coll), shifted.data(), shifted.size());
    }
    m_tokens[c] += matrix.tokens();
  }
  m_candidates += static_cast<std::int64_t>(n);
}

void ShardWriter::close() {
  if (!m_file) return;
  if (!m_featuresCreated) createFeatureDatasets(nullptr);
  m_file->writeAttribute("/", "n_candidates", m_candidates);
  m_file->flush();
  m_file.reset();
  fs::rename(m_path + ".tmp", m_path);
}

// ---------------------------------------------------------------------------------------------
// Reader

NonFinitePolicy parseNonFinitePolicy(const std::string& name) {
  if (name == "error") return NonFinitePolicy::kError;
  if (name == "replace") return NonFinitePolicy::kReplace;
  throw ConfigError("data.non_finite", "must be 'error' or 'replace', got '" + name + "'");
}

ShardReader::ShardReader(std::string path, const FeatureSchema& schema, ShardReadOptions options)
    : m_path(std::move(path)), m_schema(&schema), m_options(options) {
  const auto opened = OpenShards::instance().acquire(m_path);
  m_identity = opened.identity;
  const auto& f = *opened.file;
  const std::string format = f.hasAttribute("/", "format") ? f.readStringAttribute("/", "format") : "";
  TAUTRAIN_CHECK(format == kShardFormat, DataError, m_path, ": not a tautrain shard (attribute 'format' is '", format,
                 "', expected '", kShardFormat, "')");
  TAUTRAIN_CHECK(f.hasAttribute("/", "schema_version"), DataError, m_path, ": missing attribute 'schema_version'");
  const auto version = f.readIntAttribute("/", "schema_version");
  TAUTRAIN_CHECK(version == kSchemaVersion, DataError, m_path, ": schema version ", version,
                 " is not supported (this build reads version ", kSchemaVersion, ")");

  const auto labels = f.readWholeNumbers("/candidates/label", "candidate");
  for (std::size_t i = 0; i < labels.size(); ++i)
    TAUTRAIN_CHECK(labels[i] >= 0 && labels[i] < kNumClasses, DataError, m_path, ": candidate ", i, ": label ",
                   labels[i], " is out of range (0 e, 1 mu, 2 tau, 3 jet)");
  m_labels.assign(labels.begin(), labels.end());
  m_size = static_cast<std::int64_t>(m_labels.size());
  for (const char* name : {"/candidates/pt", "/candidates/eta", "/candidates/decay_mode"}) {
    const auto shape = f.shape(name);
    TAUTRAIN_CHECK(shape.size() == 1 && static_cast<std::int64_t>(shape[0]) == m_size, DataError, m_path, ": ", name,
                   " must have one entry per candidate (", m_size, ")");
  }
  // Decay modes are read block by block later; a float dataset is checked for whole numbers once.
  if (f.dtype("/candidates/decay_mode").rfind("float", 0) == 0) f.readWholeNumbers("/candidates/decay_mode", "candidate");
  m_hasWeight = f.exists("/candidates/weight");
  if (m_hasWeight)
    TAUTRAIN_CHECK(static_cast<std::int64_t>(f.shape("/candidates/weight")[0]) == m_size, DataError, m_path,
                   ": /candidates/weight must have one entry per candidate");

  for (const auto& c : schema.collections) {
    TAUTRAIN_CHECK(f.exists(featuresPath(c)), DataError, m_path, ": missing dataset ", featuresPath(c),
                   " required by the feature schema");
    const auto names = f.readStringListAttribute(featuresPath(c), "feature_names");
    if (names != c.features) {
      std::string detail;
      for (std::size_t k = 0; k < std::max(names.size(), c.features.size()); ++k) {
        const std::string got = k < names.size() ? names[k] : "<none>";
        const std::string want = k < c.features.size() ? c.features[k] : "<none>";
        if (got != want) {
          detail = "column " + std::to_string(k) + " is '" + got + "', the schema expects '" + want + "'";
          break;
        }
      }
      throw DataError(m_path + ": feature names of collection '" + c.name + "' do not match the feature schema: " +
                      detail);
    }
    const auto shape = f.shape(featuresPath(c));
    TAUTRAIN_CHECK(shape.size() == 2 && shape[1] == c.features.size(), DataError, m_path, ": ", featuresPath(c),
                   " must be [n_tokens, ", c.features.size(), "]");
    if (c.per_candidate) {
      TAUTRAIN_CHECK(static_cast<std::int64_t>(shape[0]) == m_size, DataError, m_path, ": ", featuresPath(c),
                     " must have one row per candidate (", m_size, "), has ", shape[0]);
      m_tokens.push_back(TokenIndex::oneTokenEach(m_size));
    } else {
      const auto offsets = f.readWholeNumbers(offsetsPath(c), "entry");
      TAUTRAIN_CHECK(static_cast<std::int64_t>(offsets.size()) == m_size + 1, DataError, m_path, ": ",
                     offsetsPath(c), " has ", offsets.size(), " entries, expected n_candidates + 1 = ", m_size + 1);
      TAUTRAIN_CHECK(offsets[0] == 0, DataError, m_path, ": ", offsetsPath(c), " must start at 0");
      for (std::int64_t i = 0; i < m_size; ++i)
        TAUTRAIN_CHECK(offsets[i + 1] >= offsets[i], DataError, m_path, ": candidate ", i, ": ", offsetsPath(c),
                       " decreases (", offsets[i], " -> ", offsets[i + 1], ")");
      TAUTRAIN_CHECK(offsets.back() <= static_cast<std::int64_t>(shape[0]), DataError, m_path, ": ", offsetsPath(c),
                     " run past the token array (last offset ", offsets.back(), ", ", shape[0], " token rows)");
      m_tokens.emplace_back(offsets);
    }
  }
  for (std::int64_t i = 0; i < m_size; ++i)
    TAUTRAIN_CHECK(tokenCount(i) <= m_options.hard_token_limit, DataError, m_path, ": candidate ", i, " has ",
                   tokenCount(i), " tokens, over the hard limit of ", m_options.hard_token_limit,
                   " (data.hard_token_limit)");
}

ShardReader::~ShardReader() = default;
ShardReader::ShardReader(ShardReader&& other) noexcept
    : m_path(std::move(other.m_path)),
      m_schema(other.m_schema),
      m_options(other.m_options),
      m_identity(other.m_identity),
      m_size(other.m_size),
      m_hasWeight(other.m_hasWeight),
      m_labels(std::move(other.m_labels)),
      m_tokens(std::move(other.m_tokens)),
      m_replaced(other.m_replaced.load()) {}

std::shared_ptr<const io::h5::File> ShardReader::openFile() const {
  auto opened = OpenShards::instance().acquire(m_path);
  TAUTRAIN_CHECK(opened.identity == m_identity, DataError, m_path,
                 ": the file changed on disk after it was opened; its index no longer describes it");
  return std::move(opened.file);
}

std::int64_t ShardReader::tokenCount(std::int64_t i) const {
  std::int64_t total = 0;
  for (const auto& tokens : m_tokens) total += tokens.count(i);
  return total;
}

std::size_t ShardReader::indexBytes() const {
  std::size_t bytes = m_labels.capacity();
  for (const auto& tokens : m_tokens) bytes += tokens.bytes();
  return bytes;
}

void ShardReader::checkFinite(float* values, std::int64_t n, int columns, const std::vector<std::int64_t>* offsets,
                              std::int64_t firstCandidate, const std::string& what,
                              const std::vector<std::string>* names) const {
  // Fast path: an exponent of all ones is NaN or Inf; this loop vectorises.
  std::uint32_t anyNonFinite = 0;
  for (std::int64_t k = 0; k < n * columns; ++k) {
    std::uint32_t bits;
    std::memcpy(&bits, values + k, sizeof(bits));
    anyNonFinite |= (bits & 0x7f800000u) == 0x7f800000u;
  }
  if (!anyNonFinite || m_options.non_finite == NonFinitePolicy::kKeep) return;
  std::int64_t candidate = 0;  // index into offsets, advanced lazily
  for (std::int64_t k = 0; k < n * columns; ++k) {
    if (std::isfinite(values[k])) continue;
    if (m_options.non_finite == NonFinitePolicy::kReplace) {
      values[k] = 0.0f;
      ++m_replaced;
      continue;
    }
    const std::int64_t row = k / columns;
    if (offsets)
      while ((*offsets)[candidate + 1] <= row) ++candidate;
    else
      candidate = row;
    throw DataError(m_path + ": candidate " + std::to_string(firstCandidate + candidate) + ": " + what + " " +
                    (names ? "feature '" + (*names)[k % columns] + "' " : "") + "is " + std::to_string(values[k]) +
                    " (set data.non_finite: replace to replace such values by 0)");
  }
}

void ShardReader::readCandidatesInto(const io::h5::File& f, std::int64_t begin, std::int64_t end,
                                     CandidateBlock& block) const {
  TAUTRAIN_CHECK(begin >= 0 && begin <= end && end <= m_size, DataError, m_path, ": candidate range [", begin, ", ",
                 end, ") is outside [0, ", m_size, ")");
  const auto n = end - begin;
  block.label.assign(m_labels.begin() + begin, m_labels.begin() + end);
  block.pt.resize(n);
  block.eta.resize(n);
  block.decay_mode.resize(n);
  f.readRows("/candidates/pt", begin, end, block.pt.data());
  f.readRows("/candidates/eta", begin, end, block.eta.data());
  f.readRows("/candidates/decay_mode", begin, end, block.decay_mode.data());
  block.weight.resize(m_hasWeight ? n : 0);
  if (m_hasWeight) f.readRows("/candidates/weight", begin, end, block.weight.data());
  checkFinite(block.pt.data(), n, 1, nullptr, begin, "pt", nullptr);
  checkFinite(block.eta.data(), n, 1, nullptr, begin, "eta", nullptr);
  checkFinite(block.weight.data(), static_cast<std::int64_t>(block.weight.size()), 1, nullptr, begin, "weight", nullptr);
}

CandidateBlock ShardReader::readCandidates(std::int64_t begin, std::int64_t end) const {
  CandidateBlock block;
  readCandidatesInto(*openFile(), begin, end, block);
  return block;
}

CandidateBlock ShardReader::read(std::int64_t begin, std::int64_t end) const {
  CandidateBlock block;
  read(begin, end, block);
  return block;
}

void ShardReader::read(std::int64_t begin, std::int64_t end, CandidateBlock& block) const {
  const auto file = openFile();  // once per block: the pool stats the path on every acquire
  const auto& f = *file;
  readCandidatesInto(f, begin, end, block);
  block.collections.resize(m_schema->collections.size());
  for (std::size_t c = 0; c < m_schema->collections.size(); ++c) {
    const auto& coll = m_schema->collections[c];
    TokenMatrix& matrix = block.collections[c];
    matrix.n_features = static_cast<int>(coll.features.size());
    const std::int64_t firstRow = m_tokens[c].offsets(begin, end, matrix.offsets);
    matrix.values.resize(matrix.tokens() * matrix.n_features);
    f.readRows(featuresPath(coll), firstRow, firstRow + matrix.tokens(), matrix.values.data());
    checkFinite(matrix.values.data(), matrix.tokens(), matrix.n_features, &matrix.offsets, begin, coll.name,
                &coll.features);
  }
}

DataExtent measureExtent(const std::vector<std::string>& paths, const FeatureSchema& schema) {
  DataExtent extent;
  for (const auto& path : paths) {
    const auto file = io::h5::File::openRead(path);
    ++extent.shards;
    extent.candidates += static_cast<std::int64_t>(file.shape("/candidates/label").at(0));
    for (const auto& c : schema.collections) {
      TAUTRAIN_CHECK(file.exists(featuresPath(c)), DataError, path, ": missing dataset ", featuresPath(c),
                     " required by the feature schema");
      const auto shape = file.shape(featuresPath(c));
      extent.tokens += static_cast<std::int64_t>(shape.at(0));
      extent.feature_values += static_cast<std::int64_t>(shape.at(0) * (shape.size() > 1 ? shape[1] : 1));
    }
  }
  return extent;
}

std::vector<std::string> expandPaths(const std::vector<std::string>& specs, const std::string& extension) {
  std::vector<std::string> paths;
  for (const auto& spec : specs) {
    if (fs::is_directory(spec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(spec))
        if (entry.path().extension() == extension) found.push_back(entry.path().string());
      TAUTRAIN_CHECK(!found.empty(), DataError, spec, ": directory holds no ", extension, " files");
      std::sort(found.begin(), found.end());
      paths.insert(paths.end(), found.begin(), found.end());
    } else if (spec.find_first_of("*?[") != std::string::npos) {
      glob_t matches{};
      const int rc = ::glob(spec.c_str(), 0, nullptr, &matches);
      std::vector<std::string> found(matches.gl_pathv, matches.gl_pathv + (rc == 0 ? matches.gl_pathc : 0));
      globfree(&matches);
      TAUTRAIN_CHECK(!found.empty(), DataError, spec, ": pattern matches no file");
      std::sort(found.begin(), found.end());
      paths.insert(paths.end(), found.begin(), found.end());
    } else {
      TAUTRAIN_CHECK(fs::exists(spec), DataError, spec, ": file not found");
      paths.push_back(spec);
    }
  }
  return paths;
}

}  // namespace tautrain::data
