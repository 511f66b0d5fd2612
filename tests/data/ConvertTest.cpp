#include "tautrain/data/Convert.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "fuzz/FuzzTargets.hpp"
#include "support/RunTautrain.hpp"
#include "support/TestData.hpp"
#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/data/ExampleCodec.hpp"
#include "tautrain/data/Shard.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"
#include "tautrain/io/Hdf5.hpp"
#include "tautrain/io/TfRecord.hpp"

using namespace tautrain;
using Kind = io::TfFeature::Kind;

namespace {

data::CandidateBlock readShard(const std::string& path) {
  static const auto schema = test::tinySchema();  // the reader keeps a pointer to it
  const data::ShardReader reader(path, schema);
  return reader.read(0, reader.size());
}

void expectSameCandidates(const data::CandidateBlock& a, const data::CandidateBlock& b) {
  EXPECT_EQ(a.label, b.label);
  EXPECT_EQ(a.pt, b.pt);
  EXPECT_EQ(a.eta, b.eta);
  EXPECT_EQ(a.decay_mode, b.decay_mode);
  EXPECT_EQ(a.weight, b.weight);
  ASSERT_EQ(a.collections.size(), b.collections.size());
  for (std::size_t c = 0; c < a.collections.size(); ++c) {
    EXPECT_EQ(a.collections[c].offsets, b.collections[c].offsets) << "collection " << c;
    EXPECT_EQ(a.collections[c].values, b.collections[c].values) << "collection " << c;
  }
}

data::TfRecordConfig mappingWith(const std::vector<std::string>& overrides) {
  std::vector<std::string> keys;
  for (const auto& o : overrides) keys.push_back("data.tfrecord." + o);
  return config::loadRunConfig({}, keys).data.tfrecord;
}

/// Two candidates in one Example, thesis-style keys and PDG-like class codes.
io::TfExample twoCandidates() {
  io::TfExample e;
  e["y"] = {Kind::kInt64, {}, {15, 11}, {}};
  e["tau_pt"] = {Kind::kFloat, {31.5f, 48.0f}, {}, {}};
  e["tau_eta"] = {Kind::kFloat, {0.5f, -1.25f}, {}, {}};
  e["tau_dm"] = {Kind::kInt64, {}, {10, -1}, {}};
  e["global/particle_type"] = {Kind::kInt64, {}, {9, 9}, {}};
  e["global/tau_pt"] = {Kind::kFloat, {31.5f, 48.0f}, {}, {}};
  e["pf_n"] = {Kind::kInt64, {}, {2, 1}, {}};
  e["pf/r"] = {Kind::kFloat, {0.0f, 0.1f, 0.2f}, {}, {}};
  e["pf/particle_type"] = {Kind::kInt64, {}, {3, 2, 3}, {}};
  e["pfCand_relPt"] = {Kind::kFloat, {0.7f, 0.2f, 1.0f}, {}, {}};
  e["pf/dxy"] = {Kind::kFloat, {0.01f, -999.0f, 0.02f}, {}, {}};
  e["pf/dxy_valid"] = {Kind::kFloat, {1.0f, 0.0f, 1.0f}, {}, {}};
  e["muon_n"] = {Kind::kInt64, {}, {0, 1}, {}};
  e["muon/r"] = {Kind::kFloat, {0.05f}, {}, {}};
  e["muon/particle_type"] = {Kind::kInt64, {}, {8}, {}};
  return e;
}

const std::vector<std::string> kThesisMapping{"label=y",
                                              "pt=tau_pt",
                                              "eta=tau_eta",
                                              "decay_mode=tau_dm",
                                              "length_key='{collection}_n'",
                                              "keys={pf/rel_pt: pfCand_relPt}",
                                              "classes={e: 11, mu: 13, tau: 15, jet: 1}"};

}  // namespace

TEST(TfRecordConvert, ShardToTfRecordToShardIsExact) {
  for (const std::int64_t perRecord : {1, 3}) {
    test::TempDir dir;
    const auto shards = test::writeTinyShards(dir, 2, 50);
    const auto mapping = mappingWith({"candidates_per_record=" + std::to_string(perRecord)});
    data::ConvertOptions options;
    options.output_directory = dir.file("tfr");
    options.threads = 2;
    const auto out = data::shardsToTfRecord(shards, test::tinySchema(), mapping, options);
    EXPECT_EQ(out.candidates, 100);
    EXPECT_EQ(out.records, 2 * ((50 + perRecord - 1) / perRecord));
    options.output_directory = dir.file("back");
    const auto back = data::tfRecordToShards({dir.file("tfr/tiny-0.tfrecord"), dir.file("tfr/tiny-1.tfrecord")},
                                             test::tinySchema(), mapping, options);
    EXPECT_EQ(back.candidates, 100);
    EXPECT_EQ(back.records, out.records);
    for (const char* name : {"tiny-0.h5", "tiny-1.h5"}) {
      SCOPED_TRACE(std::string(name) + ", candidates per record " + std::to_string(perRecord));
      expectSameCandidates(readShard(dir.file(name)), readShard(dir.file(std::string("back/") + name)));
    }
  }
}

TEST(TfRecordConvert, WeightsSurviveTheRoundTrip) {
  test::TempDir dir;
  auto block = test::tinyBlock(0, 20);
  for (std::int64_t i = 0; i < block.size(); ++i) block.weight.push_back(0.5f + 0.125f * static_cast<float>(i));
  data::ShardWriterOptions weighted;
  weighted.with_weight = true;
  data::ShardWriter writer(dir.file("w.h5"), test::tinySchema(), weighted);
  writer.append(block);
  writer.close();
  data::ConvertOptions options;
  options.output_directory = dir.file("tfr");
  data::shardsToTfRecord({dir.file("w.h5")}, test::tinySchema(), {}, options);
  options.output_directory = dir.file("back");
  data::tfRecordToShards({dir.file("tfr/w.tfrecord")}, test::tinySchema(), {}, options);
  const auto back = readShard(dir.file("back/w.h5"));
  EXPECT_EQ(back.weight, block.weight);
  expectSameCandidates(readShard(dir.file("w.h5")), back);
}

TEST(ExampleCodec, DecodesAMappedExampleWithSeveralCandidates) {
  const auto schema = test::tinySchema();
  const data::ExampleCodec codec(schema, mappingWith(kThesisMapping));
  auto block = codec.emptyBlock();
  ASSERT_EQ(codec.decode(twoCandidates(), false, block, "x"), 2);
  EXPECT_EQ(block.label, (std::vector<std::int8_t>{data::kTau, data::kElectron}));
  EXPECT_EQ(block.decay_mode, (std::vector<std::int8_t>{10, -1}));
  EXPECT_EQ(block.pt, (std::vector<float>{31.5f, 48.0f}));
  EXPECT_EQ(block.collections[1].offsets, (std::vector<std::int64_t>{0, 2, 3}));
  // pf columns: r, particle_type, rel_pt, dxy, dxy_valid; the third token belongs to candidate 1.
  EXPECT_EQ(std::vector<float>(block.collections[1].row(2), block.collections[1].row(2) + 5),
            (std::vector<float>{0.2f, 3.0f, 1.0f, 0.02f, 1.0f}));
  EXPECT_EQ(block.collections[2].offsets, (std::vector<std::int64_t>{0, 0, 1}));
  EXPECT_EQ(block.collections[2].row(0)[1], static_cast<float>(data::kRecoMuon));

  // Encoding gives back the same Example (categoricals as int64, codes mapped back).
  const auto encoded = codec.encode(block, 0, 2);
  auto expected = twoCandidates();
  for (const auto& [key, feature] : expected) {
    ASSERT_TRUE(encoded.count(key)) << key;
    EXPECT_EQ(encoded.at(key).kind, feature.kind) << key;
    EXPECT_EQ(encoded.at(key).floats, feature.floats) << key;
    EXPECT_EQ(encoded.at(key).ints, feature.ints) << key;
  }
  EXPECT_EQ(encoded.size(), expected.size());
}

TEST(ExampleCodec, AnExampleThatDoesNotFitIsAnErrorNamingTheKeyAndLeavesTheBlockAlone) {
  const auto schema = test::tinySchema();
  const data::ExampleCodec codec(schema, mappingWith(kThesisMapping));
  const auto errorFor = [&](const std::function<void(io::TfExample&)>& damage) -> std::string {
    auto example = twoCandidates();
    damage(example);
    auto block = codec.emptyBlock();
    try {
      codec.decode(example, false, block, "f.tfrecord: record 4");
    } catch (const DataError& e) {
      EXPECT_EQ(block.size(), 0);
      EXPECT_EQ(block.collections[1].tokens(), 0);
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(errorFor([](io::TfExample& e) { e.erase("pf/dxy"); }), "f.tfrecord: record 4: no feature 'pf/dxy'");
  EXPECT_EQ(errorFor([](io::TfExample& e) { e["pf/r"].floats.pop_back(); }),
            "f.tfrecord: record 4: feature 'pf/r' has 2 values, expected 3 (one per token)");
  EXPECT_EQ(errorFor([](io::TfExample& e) { e["y"].ints[1] = 7; }),
            "f.tfrecord: record 4: candidate 1: label code 7 is not one of data.tfrecord.classes");
  EXPECT_EQ(errorFor([](io::TfExample& e) { e["tau_eta"] = {Kind::kBytes, {}, {}, {"a", "b"}}; }),
            "f.tfrecord: record 4: feature 'tau_eta' is a bytes_list, expected float_list or int64_list");
  EXPECT_EQ(errorFor([](io::TfExample& e) { e["pf_n"].ints[0] = -2; }),
            "f.tfrecord: record 4: candidate 0: 'pf_n' is -2");
  EXPECT_EQ(errorFor([](io::TfExample& e) { e["weight"] = {Kind::kFloat, {1, 1}, {}, {}}; }),
            "f.tfrecord: record 4: has a weight but earlier records do not");
}

TEST(ExampleCodec, MappingMistakesAreConfigErrors) {
  const auto schema = test::tinySchema();
  EXPECT_THROW(data::ExampleCodec(schema, mappingWith({"keys={pf/nope: x}"})), ConfigError);
  EXPECT_THROW(data::ExampleCodec(schema, mappingWith({"pt=label"})), ConfigError);
  EXPECT_THROW(data::ExampleCodec(schema, mappingWith({"token_key='{feature}'"})), ConfigError)
      << "particle_type of two collections under one key";
  EXPECT_THROW(mappingWith({"classes={e: 0, mu: 0, tau: 2, jet: 3}"}), ConfigError);
  EXPECT_THROW(mappingWith({"classes={e: 0, mu: 1, tau: 2}"}), ConfigError);
}

TEST(TfRecordConvert, CorruptRecordsFailTheFileOrAreSkippedAndCounted) {
  test::TempDir dir;
  const auto shards = test::writeTinyShards(dir, 1, 10);
  data::ConvertOptions options;
  options.output_directory = dir.file("tfr");
  data::shardsToTfRecord(shards, test::tinySchema(), {}, options);
  const auto tfrecord = dir.file("tfr/tiny-0.tfrecord");
  std::string bytes;
  {
    std::ifstream in(tfrecord, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[20] ^= 0x01;  // inside record 0's payload
  std::ofstream(tfrecord, std::ios::binary | std::ios::trunc) << bytes;

  options.output_directory = dir.file("back");
  try {
    data::tfRecordToShards({tfrecord}, test::tinySchema(), {}, options);
    FAIL() << "a corrupt record must fail the conversion";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), tfrecord + ": record 0: payload CRC mismatch (corrupt data)");
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("back/tiny-0.h5"))) << "no partial output";
  const auto stats = data::tfRecordToShards({tfrecord}, test::tinySchema(), mappingWith({"skip_corrupt=true"}), options);
  EXPECT_EQ(stats.skipped, 1);
  EXPECT_EQ(stats.candidates, 9);
  EXPECT_EQ(readShard(dir.file("back/tiny-0.h5")).pt.front(), 21.0f) << "candidate 0 was the corrupt one";
}

TEST(TfRecordConvert, ExistingOutputsAreKeptUnlessOverwriteIsAsked) {
  test::TempDir dir;
  const auto shards = test::writeTinyShards(dir, 1, 5);
  data::ConvertOptions options;
  options.output_directory = dir.file("tfr");
  data::shardsToTfRecord(shards, test::tinySchema(), {}, options);
  EXPECT_THROW(data::shardsToTfRecord(shards, test::tinySchema(), {}, options), DataError);
  options.overwrite = true;
  EXPECT_EQ(data::shardsToTfRecord(shards, test::tinySchema(), {}, options).candidates, 5);
}

namespace {

data::CandidateBlock readBuiltinShard(const std::string& path) {
  static const auto schema = data::FeatureSchema::builtin();
  const data::ShardReader reader(path, schema);
  return reader.read(0, reader.size());
}

/// Thesis-like synthetic shards: what the codecs were chosen on.
std::vector<std::string> writeSyntheticShards(const test::TempDir& dir, std::int64_t candidates) {
  data::GeneratorConfig config;
  config.candidates = candidates;
  config.shard_size = candidates;
  config.threads = 1;
  config.output = dir.file("raw");
  return data::SyntheticGenerator(data::FeatureSchema::builtin(), config).writeShards();
}

}  // namespace

TEST(ShardCompression, EveryCodecRewritesEveryValueBitForBitInUnderHalfTheBytes) {
  test::TempDir dir;
  const auto raw = writeSyntheticShards(dir, 2000);
  const auto expected = readBuiltinShard(raw[0]);
  const auto schema = data::FeatureSchema::builtin();
  for (const auto codec : {io::Codec::kNone, io::Codec::kDeflate, io::Codec::kZstd, io::Codec::kLz4}) {
    SCOPED_TRACE(core::nameOf(codec));
    data::ConvertOptions options;
    options.output_directory = dir.file(core::nameOf(codec));
    options.compression = {codec, 0};
    EXPECT_EQ(data::rewriteShards(raw, schema, options).candidates, 2000);
    const auto rewritten = options.output_directory + "/shard-00000.h5";
    expectSameCandidates(readBuiltinShard(rewritten), expected);
    const auto file = io::h5::File::openRead(rewritten);
    for (const char* dataset : {"/pf/features", "/global/features", "/candidates/pt", "/pf/offsets"})
      EXPECT_EQ(file.compression(dataset).codec, codec) << dataset;
    const double ratio = static_cast<double>(std::filesystem::file_size(rewritten)) /
                         static_cast<double>(std::filesystem::file_size(raw[0]));
    if (codec == io::Codec::kNone)
      EXPECT_NEAR(ratio, 1.0, 0.01);
    else
      EXPECT_LT(ratio, 0.5);
  }
}

TEST(ShardCompression, MantissaRoundingKeepsCategoriesExactAndContinuousValuesWithinHalfAStep) {
  test::TempDir dir;
  const auto raw = writeSyntheticShards(dir, 2000);
  const auto expected = readBuiltinShard(raw[0]);
  const auto schema = data::FeatureSchema::builtin();
  std::map<int, std::uintmax_t> bytes;
  for (const int bits : {0, 10, 7}) {
    SCOPED_TRACE(bits);
    data::ConvertOptions options;
    options.output_directory = dir.file("bits-" + std::to_string(bits));
    options.compression = {io::Codec::kZstd, 0, bits};
    data::rewriteShards(raw, schema, options);
    const auto path = options.output_directory + "/shard-00000.h5";
    bytes[bits] = std::filesystem::file_size(path);
    const auto got = readBuiltinShard(path);
    EXPECT_EQ(got.label, expected.label);
    EXPECT_EQ(got.pt, expected.pt) << "per-candidate values stay exact: evaluation bins in them";
    EXPECT_EQ(got.eta, expected.eta);
    EXPECT_EQ(io::h5::File::openRead(path).hasAttribute("/pf/features", "mantissa_bits"), bits > 0);
    for (std::size_t c = 0; c < schema.collections.size(); ++c) {
      const auto& collection = schema.collections[c];
      const auto& want = expected.collections[c];
      const auto& have = got.collections[c];
      ASSERT_EQ(have.offsets, want.offsets);
      ASSERT_EQ(have.values.size(), want.values.size());
      int changed = 0;
      for (std::size_t k = 0; k < want.values.size(); ++k) {
        const int column = static_cast<int>(k % static_cast<std::size_t>(want.n_features));
        if (bits == 0 || collection.isCategorical(column)) {
          ASSERT_EQ(have.values[k], want.values[k]) << collection.name << " " << collection.features[column];
          continue;
        }
        // Half a step of the kept mantissa, relative; subnormals and zero have absolute steps.
        const float tolerance = std::max(std::abs(want.values[k]) * std::ldexp(1.0f, -(bits + 1)), 1e-37f);
        ASSERT_LE(std::abs(have.values[k] - want.values[k]), tolerance)
            << collection.name << " " << collection.features[column] << " " << want.values[k];
        std::uint32_t word;
        std::memcpy(&word, &have.values[k], sizeof(word));
        ASSERT_EQ(word & ((1u << (23 - bits)) - 1), 0u) << "dropped bits are zero";
        changed += have.values[k] != want.values[k];
      }
      if (bits > 0 && collection.name == "pf") {
        EXPECT_GT(changed, 0);
      }
    }
  }
  EXPECT_LT(static_cast<double>(bytes[10]), 0.85 * static_cast<double>(bytes[0]));
  EXPECT_LT(bytes[7], bytes[10]);
}

TEST(ShardCompression, ARewriteNeverOverwritesItsInput) {
  test::TempDir dir;
  const auto shards = test::writeTinyShards(dir, 1, 5);
  data::ConvertOptions options;
  options.output_directory = std::filesystem::path(shards[0]).parent_path().string();
  options.compression = {io::Codec::kDeflate, 1};
  EXPECT_THROW(data::rewriteShards(shards, test::tinySchema(), options), DataError) << "exists already";
  options.overwrite = true;
  try {
    data::rewriteShards(shards, test::tinySchema(), options);
    FAIL() << "rewrote its own input";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("would overwrite the input"), std::string::npos) << e.what();
  }
  EXPECT_EQ(readShard(shards[0]).size(), 5);
}

TEST(ShardCompression, AMissingPluginIsNamedWithItsPackageWhenWritingAndReading) {
  test::TempDir dir;
  const std::string noPlugins = "HDF5_PLUGIN_PATH=" + dir.file("no-plugins") + " ";
  auto result = test::runTautrain("generate -n 300 -o " + dir.file("zstd") + " --set generator.compression=zstd", noPlugins);
  EXPECT_NE(result.code, 0);
  EXPECT_NE(result.output.find("hdf5-filter-plugin-blosc-serial"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("shard-00000.h5:"), std::string::npos) << "names the shard, not its .tmp: " << result.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("zstd/shard-00000.h5")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("zstd/shard-00000.h5.tmp")));

  result = test::runTautrain("generate -n 300 -o " + dir.file("zstd") + " --set generator.compression=zstd");
  ASSERT_EQ(result.code, 0) << result.output;
  result = test::runTautrain("inspect " + dir.file("zstd"), noPlugins);
  EXPECT_NE(result.code, 0);
  for (const char* part : {"shard-00000.h5", "Blosc", "hdf5-filter-plugin-blosc-serial"})
    EXPECT_NE(result.output.find(part), std::string::npos) << part << " not in: " << result.output;

  result = test::runTautrain("generate -n 300 -o " + dir.file("gzip") + " --set generator.compression=gzip");
  EXPECT_NE(result.code, 0);
  EXPECT_NE(result.output.find("none, deflate, zstd or lz4"), std::string::npos) << result.output;
}

TEST(Fuzzing, TheStoredCorpusRunsCleanThroughEveryFuzzTarget) {
  const std::filesystem::path corpus = std::filesystem::path(TAUTRAIN_SOURCE_DIR) / "tests/fuzz/corpus";
  int files = 0;
  for (const auto& [name, target] : {std::pair{"tfrecord", &test::fuzzTfRecord}, std::pair{"example", &test::fuzzExample}}) {
    for (const auto& entry : std::filesystem::directory_iterator(corpus / name)) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes{std::istreambuf_iterator<char>(in), {}};
      SCOPED_TRACE(entry.path().string());
      target(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++files;
    }
  }
  EXPECT_GE(files, 10);
}
