#include "tautrain/io/TfRecord.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "support/TestData.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/io/TensorBoard.hpp"
#include "tautrain/io/TfExample.hpp"

using namespace tautrain;

namespace {

std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::vector<std::string> readAll(io::TfRecordReader& reader) {
  std::vector<std::string> records;
  std::string payload;
  while (reader.next(payload)) records.push_back(payload);
  return records;
}

template <class Fn>
std::string errorOf(Fn fn) {
  try {
    fn();
  } catch (const DataError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(Crc32c, MatchesTheRfc3720TestVectors) {
  const std::string digits = "123456789";
  EXPECT_EQ(io::crc32c(digits.data(), digits.size()), 0xE3069283u);
  std::string zeros(32, '\0'), ones(32, '\xff'), ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  EXPECT_EQ(io::crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(io::crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(io::crc32c(ascending.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(io::crc32cPortable(ascending.data(), 32), 0x46DD794Eu);
  // TensorFlow's mask: rotate right by 15, add 0xa282ead8.
  EXPECT_EQ(io::maskedCrc32c(digits.data(), digits.size()), 0xC78AB0E5u);
}

TEST(Crc32c, HardwareAndPortablePathsAgreeAtEveryLengthAndAlignment) {
  std::mt19937 rng(3);
  std::string bytes(300, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng());
  for (std::size_t offset = 0; offset < 8; ++offset)
    for (std::size_t n = 0; n + offset <= bytes.size(); n += 7)
      ASSERT_EQ(io::crc32c(bytes.data() + offset, n), io::crc32cPortable(bytes.data() + offset, n)) << offset << " " << n;
}

TEST(TfRecord, RecordsRoundTripWithTheDocumentedFraming) {
  test::TempDir dir;
  const auto path = dir.file("a.tfrecord");
  const std::vector<std::string> records{"", "x", std::string(70000, 'z'), std::string("\0\1\2", 3)};
  io::TfRecordWriter writer(path, true);
  for (const auto& r : records) writer.write(r);
  EXPECT_FALSE(std::filesystem::exists(path)) << "an atomic file appears only when closed";
  writer.close();
  io::TfRecordReader reader(path);
  EXPECT_EQ(readAll(reader), records);

  // Record 1 by hand: length 1, masked CRC of the length, 'x', masked CRC of 'x'.
  const auto bytes = readBytes(path);
  const std::size_t at = 12 + 4;  // after the empty record 0
  std::string length("\1\0\0\0\0\0\0\0", 8);
  EXPECT_EQ(bytes.substr(at, 8), length);
  const auto le32 = [&](std::size_t p) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[p])) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[p + 1])) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[p + 2])) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[p + 3])) << 24;
  };
  EXPECT_EQ(le32(at + 8), io::maskedCrc32c(length.data(), 8));
  EXPECT_EQ(bytes[at + 12], 'x');
  EXPECT_EQ(le32(at + 13), io::maskedCrc32c("x", 1));
}

TEST(TfRecord, AnUnclosedAtomicWriterLeavesNoFile) {
  test::TempDir dir;
  {
    io::TfRecordWriter writer(dir.file("a.tfrecord"), true);
    writer.write("partial");
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(TfRecord, CorruptDataIsAnErrorNamingFileAndRecordOrSkippedWhenAsked) {
  test::TempDir dir;
  const auto path = dir.file("c.tfrecord");
  io::TfRecordWriter writer(path, true);
  for (const char* r : {"first", "second", "third"}) writer.write(r);
  writer.close();
  auto bytes = readBytes(path);
  bytes[(12 + 5 + 4) + 12 + 2] ^= 0x40;  // a payload byte of record 1
  writeBytes(path, bytes);

  EXPECT_EQ(errorOf([&] {
              io::TfRecordReader reader(path);
              readAll(reader);
            }),
            path + ": record 1: payload CRC mismatch (corrupt data)");
  io::TfRecordReader skipping(path, {true});
  EXPECT_EQ(readAll(skipping), (std::vector<std::string>{"first", "third"}));
  EXPECT_EQ(skipping.skipped(), 1);
  EXPECT_EQ(skipping.index(), 2);
}

TEST(TfRecord, TruncatedOrCorruptHeadersEndTheFileWithAClearError) {
  test::TempDir dir;
  const auto path = dir.file("t.tfrecord");
  io::TfRecordWriter writer(path, true);
  for (const char* r : {"first", "second"}) writer.write(r);
  writer.close();
  const auto bytes = readBytes(path);

  writeBytes(path, bytes.substr(0, bytes.size() - 3));
  EXPECT_NE(errorOf([&] {
              io::TfRecordReader reader(path);
              readAll(reader);
            }).find(path + ": record 1: truncated"),
            std::string::npos);
  io::TfRecordReader skipping(path, {true});
  EXPECT_EQ(readAll(skipping), std::vector<std::string>{"first"});
  EXPECT_EQ(skipping.skipped(), 1);

  auto corruptLength = bytes;
  corruptLength[0] ^= 1;
  writeBytes(path, corruptLength);
  EXPECT_EQ(errorOf([&] {
              io::TfRecordReader reader(path);
              readAll(reader);
            }),
            path + ": record 0: length CRC mismatch (corrupt header)");
  EXPECT_EQ(errorOf([&] { io::TfRecordReader reader(dir.file("missing.tfrecord")); }),
            dir.file("missing.tfrecord") + ": cannot open");
}

TEST(TfExample, AllThreeListKindsRoundTrip) {
  io::TfExample example;
  example["f"] = {io::TfFeature::Kind::kFloat, {1.5f, -2.0f, 3e-8f}, {}, {}};
  example["i"] = {io::TfFeature::Kind::kInt64, {}, {-1, 0, std::int64_t{1} << 40}, {}};
  example["b"] = {io::TfFeature::Kind::kBytes, {}, {}, {"tau", std::string("\0x", 2)}};
  example["empty"] = {io::TfFeature::Kind::kFloat, {}, {}, {}};
  const auto bytes = io::serializeExample(example);
  EXPECT_EQ(io::serializeExample(example), bytes) << "serialisation is deterministic";
  io::TfExample back;
  ASSERT_TRUE(io::parseExample(bytes, back));
  ASSERT_EQ(back.size(), 4u);
  EXPECT_EQ(back["f"].floats, example["f"].floats);
  EXPECT_EQ(back["i"].ints, example["i"].ints);
  EXPECT_EQ(back["b"].bytes, example["b"].bytes);
  EXPECT_EQ(back["empty"].kind, io::TfFeature::Kind::kFloat);
  EXPECT_FALSE(io::parseExample(std::string("\x0a\xff\xff\xff", 4), back)) << "a length past the end";
}

TEST(TensorBoard, EventFilesReadBackWithEveryScalarAndRestart) {
  test::TempDir dir;
  std::string path;
  {
    io::EventWriter events(dir.path().string());
    path = events.path();
    events.scalar("loss/train", 1, 0.75);
    events.scalar("loss/train", 2, 0.5);
    events.restart(1);
    events.scalar("auc/D_jet", 2, 0.9375);
    // Each record is flushed as written: TensorBoard reads the file while it grows.
    EXPECT_EQ(io::readEvents(path).scalars.size(), 3u);
  }
  EXPECT_NE(std::filesystem::path(path).filename().string().rfind("events.out.tfevents.", 0), std::string::npos);
  const auto log = io::readEvents(path);
  EXPECT_EQ(log.file_version, "brain.Event:2");
  ASSERT_EQ(log.scalars.size(), 3u);
  EXPECT_EQ(log.scalars[0].tag, "loss/train");
  EXPECT_EQ(log.scalars[0].step, 1);
  EXPECT_EQ(log.scalars[0].value, 0.75);
  EXPECT_EQ(log.scalars[2].tag, "auc/D_jet");
  EXPECT_EQ(log.scalars[2].value, 0.9375);
  EXPECT_GT(log.scalars[0].wall_time, 1.7e9);
  EXPECT_EQ(log.restarts, std::vector<std::int64_t>{1});
}
