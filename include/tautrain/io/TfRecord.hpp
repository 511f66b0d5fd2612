#pragma once
// TFRecord framing, shared by dataset files and TensorBoard event logs. Each record is
//   uint64 length | uint32 masked CRC32C(length) | payload | uint32 masked CRC32C(payload)
// all little-endian.
#include <cstdint>
#include <cstdio>
#include <istream>
#include <memory>
#include <string>
#include <string_view>

namespace tautrain::io {

/// CRC32C (Castagnoli); uses the SSE4.2 instruction where the CPU has it.
std::uint32_t crc32c(const void* data, std::size_t size);
/// The same in portable code (the fallback; tested against the hardware path).
std::uint32_t crc32cPortable(const void* data, std::size_t size);
/// TFRecord's masked CRC: rotate right by 15 and add a constant.
std::uint32_t maskedCrc32c(const void* data, std::size_t size);

/// Appends records to a file. `atomic`: write PATH.tmp and rename it on close(), so the file
/// exists whole or not at all; otherwise write PATH directly and flush each record (event logs
/// that TensorBoard reads while they grow).
class TfRecordWriter {
 public:
  TfRecordWriter(std::string path, bool atomic);
  ~TfRecordWriter();
  TfRecordWriter(const TfRecordWriter&) = delete;
  TfRecordWriter& operator=(const TfRecordWriter&) = delete;

  void write(std::string_view payload);
  void close();
  const std::string& path() const { return m_path; }
  std::int64_t records() const { return m_records; }

 private:
  std::string m_path;
  bool m_atomic;
  std::FILE* m_file = nullptr;
  std::int64_t m_records = 0;
};

struct TfRecordReadOptions {
  /// Skip records whose payload CRC fails (and count them) instead of raising. A corrupt length
  /// or a truncated tail cannot be skipped over: it ends the file (counted as one lost record).
  bool skip_corrupt = false;
};

/// Reads records in order; errors are DataErrors naming the source and the record index.
class TfRecordReader {
 public:
  TfRecordReader(const std::string& path, TfRecordReadOptions options = {});
  /// Reads from memory; `name` stands for the source in errors.
  TfRecordReader(std::string_view bytes, std::string name, TfRecordReadOptions options = {});
  ~TfRecordReader();

  /// The next record's payload; false at the end.
  bool next(std::string& payload);
  /// Index of the record last returned (0-based, counting skipped ones).
  std::int64_t index() const { return m_index - 1; }
  std::int64_t skipped() const { return m_skipped; }
  const std::string& name() const { return m_name; }

 private:
  [[noreturn]] void fail(const std::string& what) const;
  bool corrupt(const std::string& what, bool canContinue);

  std::unique_ptr<std::istream> m_in;
  std::string m_name;
  TfRecordReadOptions m_options;
  std::uint64_t m_remaining = 0;  ///< bytes left in the source
  std::int64_t m_index = 0;
  std::int64_t m_skipped = 0;
  bool m_done = false;
};

}  // namespace tautrain::io
