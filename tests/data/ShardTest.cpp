#include "tautrain/data/Shard.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "support/TestData.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Machine.hpp"
#include "tautrain/core/Random.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/io/Hdf5.hpp"

using namespace tautrain;
using data::ShardReader;
using test::TempDir;

namespace {

/// Writes a tiny shard by hand so single parts can be broken on purpose.
struct RawShard {
  std::vector<std::int8_t> label{0, 1, 2, 3};
  std::vector<float> pt{20, 30, 40, 50}, eta{0, 0.5f, -0.5f, 1};
  std::vector<std::int8_t> decayMode{-1, -1, 1, -1};
  std::vector<std::int64_t> pfOffsets{0, 1, 3, 3, 4};
  std::vector<std::int64_t> muonOffsets{0, 0, 1, 1, 1};
  std::vector<std::string> pfNames{"r", "particle_type", "rel_pt", "dxy", "dxy_valid"};
  std::int64_t version = data::kSchemaVersion;
  float pfValue = 0.5f;

  void write(const std::string& path) const {
    auto f = io::h5::File::create(path);
    f.writeAttribute("/", "format", std::string(data::kShardFormat));
    f.writeAttribute("/", "schema_version", version);
    f.createGroup("/candidates");
    f.createExtendable<std::int8_t>("/candidates/label", 0, 16, {});
    f.appendRows("/candidates/label", label.data(), label.size());
    f.createExtendable<float>("/candidates/pt", 0, 16, {});
    f.appendRows("/candidates/pt", pt.data(), pt.size());
    f.createExtendable<float>("/candidates/eta", 0, 16, {});
    f.appendRows("/candidates/eta", eta.data(), eta.size());
    f.createExtendable<std::int8_t>("/candidates/decay_mode", 0, 16, {});
    f.appendRows("/candidates/decay_mode", decayMode.data(), decayMode.size());
    f.createGroup("/global");
    f.createExtendable<float>("/global/features", 2, 16, {});
    std::vector<float> global;
    for (float p : pt) global.insert(global.end(), {9.0f, p});
    f.appendRows("/global/features", global.data(), label.size());
    f.writeAttribute("/global/features", "feature_names", std::vector<std::string>{"particle_type", "tau_pt"});
    f.createGroup("/pf");
    f.createExtendable<float>("/pf/features", 5, 16, {});
    std::vector<float> pf;
    for (int t = 0; t < 4; ++t) pf.insert(pf.end(), {0.1f, 3.0f, pfValue, 0.01f, 1.0f});
    f.appendRows("/pf/features", pf.data(), 4);
    f.writeAttribute("/pf/features", "feature_names", pfNames);
    f.createExtendable<std::int64_t>("/pf/offsets", 0, 16, {});
    f.appendRows("/pf/offsets", pfOffsets.data(), pfOffsets.size());
    f.createGroup("/muon");
    f.createExtendable<float>("/muon/features", 2, 16, {});
    const float mu[2] = {0.05f, 8.0f};
    f.appendRows("/muon/features", mu, 1);
    f.writeAttribute("/muon/features", "feature_names", std::vector<std::string>{"r", "particle_type"});
    f.createExtendable<std::int64_t>("/muon/offsets", 0, 16, {});
    f.appendRows("/muon/offsets", muonOffsets.data(), muonOffsets.size());
  }
};

/// The error message of opening and reading a whole shard, or "no error".
std::string openError(const std::string& path, data::ShardReadOptions options = {}) {
  const auto schema = test::tinySchema();
  try {
    ShardReader reader(path, schema, options);
    reader.read(0, reader.size());
  } catch (const DataError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(Shard, WriteThenReadIsExact) {
  TempDir dir;
  const auto schema = test::tinySchema();
  const auto expected = test::tinyBlock(0, 50);
  {
    data::ShardWriterOptions options;
    options.compression = {io::Codec::kDeflate, 4};
    data::ShardWriter writer(dir.file("a.h5"), schema, options);
    writer.append(test::tinyBlock(0, 20));
    writer.append(test::tinyBlock(20, 30));
    writer.close();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.h5.tmp")));
  ShardReader reader(dir.file("a.h5"), schema);
  ASSERT_EQ(reader.size(), 50);
  EXPECT_FALSE(reader.hasWeight());
  const auto block = reader.read(0, 50);
  EXPECT_EQ(block.label, expected.label);
  EXPECT_EQ(block.pt, expected.pt);
  EXPECT_EQ(block.decay_mode, expected.decay_mode);
  for (std::size_t c = 0; c < 3; ++c) {
    EXPECT_EQ(block.collections[c].offsets, expected.collections[c].offsets) << c;
    EXPECT_EQ(block.collections[c].values, expected.collections[c].values) << c;
  }
  // A sub-range starts its offsets at 0.
  const auto part = reader.read(10, 13);
  EXPECT_EQ(part.collections[1].offsets.front(), 0);
  EXPECT_EQ(part.collections[1].count(0), expected.collections[1].count(10));
  EXPECT_EQ(part.collections[1].row(0)[2], expected.collections[1].row(expected.collections[1].offsets[10])[2]);
  EXPECT_EQ(reader.tokenCount(3), 1 + 4 + 1);
}

TEST(TokenIndex, GivesTheOffsetsItWasBuiltFrom) {
  // Counts of 0, 254, 255 (the escape) and above, also at the 64-candidate stride boundaries.
  Rng rng(11);
  std::vector<std::int64_t> offsets{0};
  for (int i = 0; i < 1000; ++i) {
    std::int64_t n = static_cast<std::int64_t>(rng.below(40));
    if (i % 64 == 63 || i % 97 == 0) n = 255 + static_cast<std::int64_t>(rng.below(3000));
    if (i % 64 == 0) n = i % 128 == 0 ? 0 : 254;
    offsets.push_back(offsets.back() + n);
  }
  const data::TokenIndex index(offsets);
  ASSERT_EQ(index.size(), 1000);
  EXPECT_EQ(index.rows(), offsets.back());
  for (std::int64_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(index.count(i), offsets[i + 1] - offsets[i]) << i;
    ASSERT_EQ(index.offset(i), offsets[i]) << i;
  }
  std::vector<std::int64_t> part;
  EXPECT_EQ(index.offsets(63, 130, part), offsets[63]);
  ASSERT_EQ(part.size(), 68u);
  for (std::size_t k = 0; k < part.size(); ++k) EXPECT_EQ(part[k], offsets[63 + k] - offsets[63]) << k;
  EXPECT_EQ(index.offsets(1000, 1000, part), offsets.back());
  EXPECT_EQ(part, std::vector<std::int64_t>{0});

  const auto each = data::TokenIndex::oneTokenEach(5);
  EXPECT_EQ(each.offset(3), 3);
  EXPECT_EQ(each.count(4), 1);
  EXPECT_EQ(each.bytes(), 0u);
}

TEST(TokenIndex, KeepsAboutOneBytePerCandidate) {
  // PF-like counts (median 20, a tail past 255): 8-byte offsets would take 8 B each.
  Rng rng(5);
  std::vector<std::int64_t> offsets{0};
  for (int i = 0; i < 100000; ++i) offsets.push_back(offsets.back() + static_cast<std::int64_t>(rng.logNormal(20, 0.8)));
  const data::TokenIndex index(offsets);
  EXPECT_LE(static_cast<double>(index.bytes()) / 100000.0, 1.2);
}

TEST(Shard, IndexKeepsFewBytesPerCandidate) {
  TempDir dir;
  const auto schema = test::tinySchema();
  const auto paths = test::writeTinyShards(dir, 1, 10000);
  const ShardReader reader(paths[0], schema);
  // The label, and about 1.1 B for each of the two ragged collections (global stores nothing):
  // with the thesis schema's three, 96 M candidates need under 0.5 GB.
  const double perCandidate = static_cast<double>(reader.indexBytes()) / 10000.0;
  EXPECT_LE(perCandidate, 1 + 2 * 1.2);
  EXPECT_GE(perCandidate, 1 + 2 * 1.0);
}

TEST(Shard, AnOpenShardKeepsASmallMetadataCacheAfterManyReads) {
  // HDF5's default lets it grow to 32 MiB per file, filled by the chunk index during an epoch.
  TempDir dir;
  const auto paths = test::writeTinyShards(dir, 1, 20000);
  const auto file = io::h5::File::openRead(paths[0]);
  std::vector<float> rows(256 * 5);
  for (std::uint64_t begin = 0; begin + 256 <= 20000; begin += 997) file.readRows("/pf/features", begin, begin + 256, rows.data());
  EXPECT_LE(file.metadataCacheLimit(), std::size_t{128} << 10);
}

namespace {
int openDescriptors() {
  int open = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) open += entry.exists() ? 1 : 0;
  return open;
}
}  // namespace

TEST(Shard, AProcessKeepsAtMostMaxOpenShardsFilesOpenWhateverTheShardCount) {
  TempDir dir;
  const int shards = static_cast<int>(data::maxOpenShards()) + 36;
  const auto paths = test::writeTinyShards(dir, shards, 3);
  const int before = openDescriptors();
  const auto schema = test::tinySchema();  // readers keep a pointer to it
  const data::Dataset dataset(paths, schema);
  EXPECT_LE(openDescriptors(), before + static_cast<int>(data::maxOpenShards()));
  // Every shard read twice, in opposite orders: the files closed in between open again and
  // read the same values.
  std::vector<std::vector<float>> first(shards);
  for (int s = 0; s < shards; ++s) first[s] = dataset.shard(s).read(0, 3).collections[1].values;
  for (int s = shards - 1; s >= 0; --s) {
    const auto block = dataset.shard(s).read(0, 3);
    EXPECT_EQ(block.collections[1].values, first[s]) << paths[s];
    EXPECT_EQ(block.label, dataset.shard(s).labels()) << paths[s];
  }
  EXPECT_LE(openDescriptors(), before + static_cast<int>(data::maxOpenShards()));
}

TEST(ShardBadInput, AShardRewrittenAfterItWasOpenedIsAnErrorNotAReadOfAnotherFile) {
  TempDir dir;
  const auto paths = test::writeTinyShards(dir, 1, 6);
  const auto schema = test::tinySchema();
  const ShardReader reader(paths[0], schema);
  const auto before = reader.read(0, 6);
  {
    data::ShardWriter writer(paths[0], test::tinySchema());  // another shard under the same name
    writer.append(test::tinyBlock(100, 4));
    writer.close();
  }
  try {
    reader.read(0, 6);
    ADD_FAILURE() << "read a rewritten shard with the old index";
  } catch (const DataError& e) {
    test::expectMentions(e.what(), {paths[0], "changed on disk"});
  }
  const ShardReader again(paths[0], schema);  // opened anew, it reads the new file
  EXPECT_EQ(again.size(), 4);
  EXPECT_EQ(again.read(0, 4).label.size(), 4u);
}

TEST(Shard, AnUnclosedWriterLeavesNoFile) {
  TempDir dir;
  {
    data::ShardWriter writer(dir.file("b.h5"), test::tinySchema());
    writer.append(test::tinyBlock(0, 5));
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("b.h5")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("b.h5.tmp")));
}

TEST(ShardBadInput, MissingFile) { test::expectMentions(openError("/nonexistent/shard.h5"), {"/nonexistent/shard.h5", "not found"}); }

TEST(ShardBadInput, NotHdf5) {
  TempDir dir;
  std::ofstream(dir.file("text.h5")) << "this is not an HDF5 file\n";
  test::expectMentions(openError(dir.file("text.h5")), {"text.h5", "not an HDF5 file"});
}

TEST(ShardBadInput, TruncatedFile) {
  TempDir dir;
  RawShard().write(dir.file("full.h5"));
  const auto size = std::filesystem::file_size(dir.file("full.h5"));
  std::filesystem::copy_file(dir.file("full.h5"), dir.file("cut.h5"));
  std::filesystem::resize_file(dir.file("cut.h5"), size / 2);
  const auto message = openError(dir.file("cut.h5"));
  test::expectMentions(message, {"cut.h5"});
  EXPECT_NE(message, "no error");
}

TEST(ShardBadInput, WrongSchemaVersion) {
  TempDir dir;
  RawShard raw;
  raw.version = 99;
  raw.write(dir.file("v99.h5"));
  test::expectMentions(openError(dir.file("v99.h5")), {"v99.h5", "schema version 99"});
}

TEST(ShardBadInput, FeatureNamesDoNotMatch) {
  TempDir dir;
  RawShard raw;
  raw.pfNames[2] = "relpt";
  raw.write(dir.file("names.h5"));
  test::expectMentions(openError(dir.file("names.h5")), {"names.h5", "'pf'", "column 2 is 'relpt'", "'rel_pt'"});
}

TEST(ShardBadInput, OffsetsNotMonotonic) {
  TempDir dir;
  RawShard raw;
  raw.pfOffsets = {0, 2, 1, 3, 4};
  raw.write(dir.file("mono.h5"));
  test::expectMentions(openError(dir.file("mono.h5")), {"mono.h5", "candidate 1", "decreases"});
}

TEST(ShardBadInput, OffsetsRunPastTokens) {
  TempDir dir;
  RawShard raw;
  raw.pfOffsets = {0, 1, 3, 3, 9};
  raw.write(dir.file("past.h5"));
  test::expectMentions(openError(dir.file("past.h5")), {"past.h5", "run past the token array"});
}

TEST(ShardBadInput, NonFiniteFeatureIsAnErrorOrReplaced) {
  TempDir dir;
  RawShard raw;
  raw.pfValue = std::numeric_limits<float>::quiet_NaN();
  raw.write(dir.file("nan.h5"));
  test::expectMentions(openError(dir.file("nan.h5")), {"nan.h5", "candidate 0", "feature 'rel_pt'", "nan"});

  data::ShardReadOptions replace;
  replace.non_finite = data::NonFinitePolicy::kReplace;
  const auto schema = test::tinySchema();
  ShardReader reader(dir.file("nan.h5"), schema, replace);
  const auto block = reader.read(0, reader.size());
  EXPECT_EQ(block.collections[1].row(3)[2], 0.0f);
  EXPECT_EQ(reader.replacedValues(), 4);

  // The dataset adds up its shards' counts; that total is what training reports.
  const data::Dataset dataset({dir.file("nan.h5"), dir.file("nan.h5")}, schema, replace);
  dataset.shard(0).read(0, 4);
  dataset.shard(1).read(1, 3);
  EXPECT_EQ(dataset.replacedValues(), 4 + 2);
}

TEST(ShardBadInput, LabelOutOfRange) {
  TempDir dir;
  RawShard raw;
  raw.label[2] = 7;
  raw.write(dir.file("label.h5"));
  test::expectMentions(openError(dir.file("label.h5")), {"label.h5", "candidate 2", "label 7"});
}

TEST(ShardBadInput, CandidateOverTheHardTokenLimit) {
  TempDir dir;
  RawShard().write(dir.file("limit.h5"));
  data::ShardReadOptions options;
  options.hard_token_limit = 3;
  // Candidate 1: 1 global + 2 pf + 1 muon = 4 tokens.
  test::expectMentions(openError(dir.file("limit.h5"), options), {"limit.h5", "candidate 1", "4 tokens", "hard limit of 3"});
}

TEST(ShardBadInput, RunningOutOfFileDescriptorsNamesTheLimitNotACorruptFile) {
  TempDir dir;
  const auto paths = test::writeTinyShards(dir, 40, 4);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // A limit a few descriptors above what is open now besides shards (up to maxOpenShards() of
  // earlier tests may still be open): some of the 40 shards cannot be opened.
  int open = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    const auto target = std::filesystem::read_symlink(entry.path(), error);
    open += !error && target.string().find(".h5") == std::string::npos ? 1 : 0;  // "x.h5 (deleted)" too
  }
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(open + 10);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::string message = "no error";
  try {
    data::Dataset dataset(paths, test::tinySchema());
  } catch (const DataError& e) {
    message = e.what();
  }
  EXPECT_EQ(raiseOpenFileLimit(), static_cast<std::int64_t>(saved.rlim_max));
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  test::expectMentions(message, {"tiny-", "Too many open files", "ulimit -n", std::to_string(open + 10).c_str()});
  EXPECT_EQ(message.find("corrupt"), std::string::npos) << message;
}

TEST(ShardBadInput, ShardPathPatternsThatMatchNothing) {
  EXPECT_THROW(data::expandPaths({"/nonexistent/*.h5"}), DataError);
  TempDir dir;
  const auto paths = test::writeTinyShards(dir, 3, 4);
  EXPECT_EQ(data::expandPaths({dir.path().string()}).size(), 3u);
  EXPECT_EQ(data::expandPaths({dir.file("tiny-*.h5")}), paths);
}
