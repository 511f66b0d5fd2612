// The bad-input sweep: every command that reads a file is given broken files of each kind it
// reads. Each must exit with 2 (usage, config) or 3 (data), name the file and what is wrong in
// it, and leave every input byte-identical. docs/bad-input.md lists the cases and the messages.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

#include "support/RunTautrain.hpp"
#include "support/TestData.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/data/Shard.hpp"

namespace fs = std::filesystem;
using tautrain::test::runTautrain;

namespace {

std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void writeBytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

/// Replaces 1-D dataset `name` of an HDF5 file by `n` elements of `type` (memory and file alike).
void replaceDataset(const std::string& path, const std::string& name, hid_t type, const void* data, hsize_t n) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0) << path;
  H5Ldelete(file, name.c_str(), H5P_DEFAULT);
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  const hid_t dataset = H5Dcreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(dataset, 0) << name;
  ASSERT_GE(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
  H5Dclose(dataset), H5Sclose(space), H5Fclose(file);
}

/// Sets element [row, column] of 2-D float dataset `name`.
void pokeFloat(const std::string& path, const std::string& name, hsize_t row, hsize_t column, float value) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hid_t dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  ASSERT_GE(dataset, 0) << name;
  const hid_t space = H5Dget_space(dataset);
  const hsize_t start[2] = {row, column}, count[2] = {1, 1};
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
  const hid_t memory = H5Screate_simple(2, count, nullptr);
  ASSERT_GE(H5Dwrite(dataset, H5T_NATIVE_FLOAT, memory, space, H5P_DEFAULT, &value), 0);
  H5Sclose(memory), H5Sclose(space), H5Dclose(dataset), H5Fclose(file);
}

/// Good inputs made once for the whole sweep: shards, a tiny trained run, its score files.
class BadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_root = fs::temp_directory_path() / ("tautrain-test-BadInput-" + std::to_string(::getpid()));
    fs::remove_all(s_root);
    fs::create_directories(s_root);
    ASSERT_EQ(runTautrain("generate -o " + file("data") + " -n 1200 --shard-size 300").code, 0);
    const auto trained = runTautrain("train -o " + file("run") + " " + tautrain::test::tinyRunSettings(file("data")) +
                                     " --set train.max_epochs=1");
    ASSERT_EQ(trained.code, 0) << trained.output;
    const auto evaluated = runTautrain("evaluate --checkpoints " + file("run") + "/best.pt --data " + file("data") +
                                       "/shard-00000.h5 -o " + file("eval") + " --no-plots");
    ASSERT_EQ(evaluated.code, 0) << evaluated.output;
  }
  static void TearDownTestSuite() { fs::remove_all(s_root); }
  static std::string file(const std::string& name) { return (s_root / "inputs" / name).string(); }

  /// A copy of a good input under a new name in the sweep's own folder.
  static std::string copyOf(const std::string& good, const std::string& name) {
    fs::create_directories(s_root / "bad");
    const auto path = (s_root / "bad" / name).string();
    fs::copy_file(good, path, fs::copy_options::overwrite_existing);
    return path;
  }
  static std::string badFile(const std::string& name, const std::string& bytes) {
    fs::create_directories(s_root / "bad");
    const auto path = (s_root / "bad" / name).string();
    writeBytes(path, bytes);
    return path;
  }
  static std::string out(const std::string& name) { return (s_root / "out" / name).string(); }

  /// Runs `command`, which reads `input`: it must fail with `code`, name the input's file
  /// name and every one of `mentions`, and leave the input as it was.
  static void expectRefused(const std::string& what, const std::string& command, const std::string& input, int code,
                            const std::vector<std::string>& mentions) {
    const auto before = readBytes(input);
    const auto r = runTautrain(command);
    EXPECT_EQ(r.code, code) << what << "\n" << r.output;
    EXPECT_NE(r.output.find(fs::path(input).filename().string()), std::string::npos)
        << what << ": the message does not name " << input << "\n" << r.output;
    for (const auto& m : mentions) EXPECT_NE(r.output.find(m), std::string::npos) << what << ": no '" << m << "' in\n" << r.output;
    EXPECT_EQ(readBytes(input), before) << what << ": the input changed";
    EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << what << "\n" << r.output;
    // The error line, for docs/bad-input.md.
    std::istringstream lines(r.output);
    std::string line, error;
    while (std::getline(lines, line))
      if (line.find("error") != std::string::npos) error = line;
    std::cout << "sweep | " << what << " | " << r.code << " | " << error << "\n";
  }

  static fs::path s_root;
};

fs::path BadInput::s_root;

}  // namespace

TEST_F(BadInput, Shards) {
  const auto good = file("data/shard-00000.h5");
  const auto inspect = [](const std::string& path) { return "inspect " + path; };
  const auto empty = badFile("empty.h5", "");
  expectRefused("empty file", inspect(empty), empty, 3, {"not an HDF5 file"});
  const auto bytes = readBytes(good);
  const auto truncated = badFile("truncated.h5", bytes.substr(0, bytes.size() / 2));
  expectRefused("truncated shard", inspect(truncated), truncated, 3, {});
  const auto scores = file("eval/scores/run-best.h5");
  expectRefused("score file given as a shard", inspect(scores), scores, 3, {"not a tautrain shard"});

  const auto floatLabels = copyOf(good, "float-labels.h5");
  std::vector<float> labels(300, 2.0f);
  labels[7] = 2.9f;
  replaceDataset(floatLabels, "/candidates/label", H5T_NATIVE_FLOAT, labels.data(), labels.size());
  expectRefused("float labels with a fraction", inspect(floatLabels), floatLabels, 3,
                {"candidate 7", "/candidates/label", "2.9", "not a whole number", "float32"});
  labels[7] = 3.0f;
  const auto wholeFloatLabels = copyOf(good, "whole-float-labels.h5");
  replaceDataset(wholeFloatLabels, "/candidates/label", H5T_NATIVE_FLOAT, labels.data(), labels.size());
  const auto accepted = runTautrain(inspect(wholeFloatLabels));
  EXPECT_EQ(accepted.code, 0) << "float labels that are whole numbers are class codes\n" << accepted.output;
  EXPECT_NE(accepted.output.find("classes: e=0 mu=0 tau=299 jet=1"), std::string::npos) << accepted.output;

  const auto stringLabels = copyOf(good, "string-labels.h5");
  std::vector<char> text(300 * 4, 'x');
  const hid_t stringType = H5Tcopy(H5T_C_S1);
  H5Tset_size(stringType, 4);
  replaceDataset(stringLabels, "/candidates/label", stringType, text.data(), 300);
  H5Tclose(stringType);
  expectRefused("string labels", inspect(stringLabels), stringLabels, 3,
                {"/candidates/label", "dtype string", "expected int64"});
  const auto outOfRange = copyOf(good, "label-out-of-range.h5");
  std::vector<std::int8_t> codes(300, 1);
  codes[5] = 4;
  replaceDataset(outOfRange, "/candidates/label", H5T_NATIVE_INT8, codes.data(), codes.size());
  expectRefused("label 4", inspect(outOfRange), outOfRange, 3, {"candidate 5", "label 4", "out of range"});

  const auto nan = copyOf(good, "nan-feature.h5");
  pokeFloat(nan, "/pf/features", 10, 2, std::numeric_limits<float>::quiet_NaN());
  expectRefused("NaN in a token feature (inspect)", inspect(nan), nan, 3, {"pf/", "NaN or Inf", "--allow-non-finite"});
  const auto tolerated = runTautrain(inspect(nan) + " --allow-non-finite");
  EXPECT_EQ(tolerated.code, 0) << tolerated.output;
  EXPECT_NE(tolerated.output.find("non-finite values: 1"), std::string::npos) << tolerated.output;
  expectRefused("NaN in a token feature (train)",
                "train -o " + out("nan-run") + " " + tautrain::test::tinyRunSettings(file("data")) +
                    " --set data.train_files=[" + nan + "] --set data.valid_files=[" + good + "]",
                nan, 3, {"pf", "data.non_finite"});
}

#ifdef TAUTRAIN_HAVE_ONNX
TEST_F(BadInput, Exports) {
  fs::create_directories(out(""));
  const auto graph = out("model.onnx");
  const auto exportOf = [&](const std::string& checkpoint) { return "export " + checkpoint + " -o " + graph; };
  const auto junk = badFile("junk-export.pt", "not a checkpoint");
  expectRefused("junk checkpoint (export)", exportOf(junk), junk, 3, {});
  const auto bytes = readBytes(file("run/best.pt"));
  const auto truncated = badFile("truncated-export.pt", bytes.substr(0, bytes.size() / 2));
  expectRefused("truncated checkpoint (export)", exportOf(truncated), truncated, 3, {});
  EXPECT_FALSE(fs::exists(graph));

  const auto unwritable = out("no-such-folder") + "/model.onnx";
  const auto r = runTautrain("export " + file("run/best.pt") + " -o " + unwritable);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(unwritable), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out("no-such-folder")));

  // Data for --check whose schema is not the checkpoint's: a shard without muons.
  const auto noMuons = copyOf(file("data/shard-00001.h5"), "no-muons.h5");
  const hid_t h5 = H5Fopen(noMuons.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(h5, 0);
  H5Ldelete(h5, "/muon", H5P_DEFAULT);
  H5Fclose(h5);
  expectRefused("--check with a shard without the muon collection",
                exportOf(file("run/best.pt")) + " --check " + noMuons, noMuons, 3, {"muon"});
}
#endif

TEST_F(BadInput, TrainingSets) {
  const auto good = file("data/shard-00001.h5");
  fs::create_directories(s_root / "bad");
  const auto empty = (s_root / "bad" / "no-candidates.h5").string();
  tautrain::data::ShardWriter(empty, tautrain::data::FeatureSchema::builtin()).close();
  const auto train = [&](const std::string& trainFile, const std::string& validFile, const std::string& name) {
    return "train -o " + out(name) + " " + tautrain::test::tinyRunSettings(file("data")) + " --set data.train_files=[" +
           trainFile + "] --set data.valid_files=[" + validFile + "]";
  };
  expectRefused("training files without candidates", train(empty, good, "t1"), empty, 3, {"no candidates"});
  EXPECT_FALSE(fs::exists(out("t1") + "/best.pt"));
  expectRefused("validation files without candidates", train(good, empty, "t2"), empty, 3, {"no candidates"});
  ASSERT_EQ(runTautrain("generate -o " + out("no-e") + " -n 300 --set generator.class_fractions=[0,1,1,1]").code, 0);
  const auto noElectrons = out("no-e") + "/shard-00000.h5";
  expectRefused("validation without electrons", train(good, noElectrons, "t3"), noElectrons, 3,
                {"no e candidates", "meaningless"});
}

TEST_F(BadInput, ScoreFilesCheckpointsAndRuns) {
  const auto scores = file("eval/scores/run-best.h5");
  const auto roc = [](const std::string& path) { return "roc --no-plots -o " + out("roc") + " --scores " + path; };
  const auto shard = file("data/shard-00002.h5");
  expectRefused("shard given as a score file", roc(shard), shard, 3, {"not a tautrain score file"});
  const auto bytes = readBytes(scores);
  const auto truncated = badFile("truncated-scores.h5", bytes.substr(0, bytes.size() / 3));
  expectRefused("truncated score file", roc(truncated), truncated, 3, {});
  const auto floatLabels = copyOf(scores, "float-label-scores.h5");
  std::vector<double> labels(300, 1.0);
  labels[3] = 1.5;
  replaceDataset(floatLabels, "/label", H5T_NATIVE_DOUBLE, labels.data(), labels.size());
  expectRefused("score file with label 1.5", roc(floatLabels), floatLabels, 3, {"candidate 3", "1.5", "not a whole number"});

  const auto junkScores = badFile("junk-scores.h5", "not HDF5");
  expectRefused("text given as a score file", "ensemble --scores " + junkScores + " -o " + out("ens"), junkScores, 3,
                {"not an HDF5 file"});

  // An evaluation directory whose wp.csv has text where an FPR belongs.
  fs::create_directories(s_root / "bad" / "scaling");
  for (const char* table : {"wp.csv", "knee.csv"})
    fs::copy_file(file("eval/run-best/") + table, (s_root / "bad" / "scaling" / table).string(),
                  fs::copy_options::overwrite_existing);
  const auto wp = (s_root / "bad" / "scaling" / "wp.csv").string();
  auto text = readBytes(wp);
  std::istringstream header(text.substr(0, text.find('\n')));
  std::size_t fprColumn = 0;
  for (std::string name; std::getline(header, name, ',') && name != "fpr";) ++fprColumn;
  auto cell = text.find('\n') + 1;  // the first row's fpr cell
  for (std::size_t c = 0; c < fprColumn; ++c) cell = text.find(',', cell) + 1;
  text.replace(cell, text.find_first_of(",\n", cell) - cell, "abc");
  writeBytes(wp, text);
  expectRefused("wp.csv with text for an FPR",
                "fit data-scaling --no-plots --run 1000=" + (s_root / "bad" / "scaling").string() + " --out " +
                    out("scaling"),
                wp, 3, {"wp.csv:2", "column 'fpr'", "'abc' is not a number"});

  const auto checkpoint = file("run/best.pt");
  const auto evaluate = [&](const std::string& path) {
    return "evaluate --no-plots -o " + out("e") + " --data " + file("data") + "/shard-00000.h5 --checkpoints " + path;
  };
  const auto junk = badFile("junk.pt", "not a checkpoint");
  expectRefused("junk checkpoint", evaluate(junk), junk, 3, {});
  const auto cut = readBytes(checkpoint);
  const auto truncatedCheckpoint = badFile("truncated.pt", cut.substr(0, cut.size() / 2));
  expectRefused("truncated checkpoint", evaluate(truncatedCheckpoint), truncatedCheckpoint, 3, {});

  // A run whose last.pt is truncated: resume refuses it and leaves it alone.
  fs::create_directories(out("broken-run"));
  const auto last = out("broken-run") + "/last.pt";
  writeBytes(last, cut.substr(0, cut.size() - 100));
  expectRefused("resume from a truncated last.pt", "train --resume " + out("broken-run"), last, 3, {});

  fs::create_directories(out("bad-history"));
  const auto history = out("bad-history") + "/history.json";
  writeBytes(history, "{\"epochs\": [");
  expectRefused("history.json cut short", "patience --run " + out("bad-history") + " --data " + file("data") + " -o " +
                    out("p"), history, 3, {});
}

TEST_F(BadInput, ConfigsScalersTablesAndRecords) {
  const auto yaml = badFile("syntax.yaml", "data:\n  batch_size: [1, 2\n");
  expectRefused("YAML syntax error", "config -c " + yaml, yaml, 2, {});
  const auto typo = badFile("typo.yaml", "train:\n  max_epoch: 3\n");
  expectRefused("unknown key", "train -c " + typo + " -o " + out("typo"), typo, 2, {"train.max_epoch", "typo.yaml:2"});
  const auto type = badFile("type.yaml", "data:\n  batch_size: many\n");
  expectRefused("wrong type", "fit-scaler -c " + type + " -o " + out("s.json"), type, 2, {"data.batch_size"});

  const auto negative = runTautrain("bench loader -n -5");
  EXPECT_EQ(negative.code, 2) << negative.output;
  EXPECT_NE(negative.output.find("--candidates"), std::string::npos) << "names the option: " << negative.output;
  // Generating options mean nothing for given shards: refused, not ignored.
  const auto generateAndGiven = runTautrain("bench loader --data " + out("none") + " --codecs zstd");
  EXPECT_EQ(generateAndGiven.code, 2) << generateAndGiven.output;
  EXPECT_NE(generateAndGiven.output.find("--codecs excludes --data"), std::string::npos) << generateAndGiven.output;
  // And a measuring option for given shards means nothing for generated ones.
  const auto filtersWithoutData = runTautrain("bench loader -n 100 --hdf5-filters");
  EXPECT_EQ(filtersWithoutData.code, 2) << filtersWithoutData.output;
  EXPECT_NE(filtersWithoutData.output.find("--hdf5-filters requires --data"), std::string::npos)
      << filtersWithoutData.output;
  const auto missingShards = runTautrain("bench loader --data " + out("none"));
  EXPECT_EQ(missingShards.code, 3) << missingShards.output;
  EXPECT_NE(missingShards.output.find(out("none")), std::string::npos) << missingShards.output;

  const auto study = runTautrain("condor study nonsense --test x.h5 -o " + out("study"));
  EXPECT_EQ(study.code, 2) << study.output;
  EXPECT_NE(study.output.find("seeds, data-scaling, patience or pruning"), std::string::npos) << study.output;
  EXPECT_FALSE(fs::exists(out("study")));

  const auto scalerJunk = badFile("scaler-junk.json", "{ means: ");
  const auto trainWithScaler = [&](const std::string& scaler) {
    return "train -o " + out("scaled") + " " + tautrain::test::tinyRunSettings(file("data")) + " --set data.scaler=" +
           scaler;
  };
  expectRefused("scaler that is not JSON", trainWithScaler(scalerJunk), scalerJunk, 3, {});
  const auto scalerShape = badFile("scaler-shape.json", "{\"collections\": 3}");
  expectRefused("scaler JSON of another shape", trainWithScaler(scalerShape), scalerShape, 3, {});

  const auto csvText = badFile("text.csv", "n,a\n1000,0.3\n2000,abc\n");
  expectRefused("CSV with text for a number", "fit power-law --input " + csvText, csvText, 3, {"text.csv:3"});
  const auto csvEmpty = badFile("empty.csv", "");
  expectRefused("empty CSV", "fit power-law --input " + csvEmpty, csvEmpty, 3, {});

  ASSERT_EQ(runTautrain("convert --from hdf5 --to tfrecord " + file("data") + "/shard-00003.h5 -o " + out("tfr")).code, 0);
  const auto records = readBytes(out("tfr") + "/shard-00003.tfrecord");
  const auto cutRecords = badFile("cut.tfrecord", records.substr(0, records.size() - 7));
  expectRefused("TFRecord cut inside a record", "convert --from tfrecord --to hdf5 " + cutRecords + " -o " + out("c1"),
                cutRecords, 3, {"record"});
  auto flipped = records;
  flipped[flipped.size() / 2] ^= 0x40;
  const auto badCrc = badFile("flipped.tfrecord", flipped);
  expectRefused("TFRecord with a flipped bit", "convert --from tfrecord --to hdf5 " + badCrc + " -o " + out("c2"), badCrc,
                3, {"CRC"});
}
