#include "tautrain/io/TfRecord.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "tautrain/core/Error.hpp"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace tautrain::io {

namespace {

constexpr std::uint32_t kCastagnoli = 0x82F63B78u;  // reflected polynomial
constexpr std::uint32_t kMaskDelta = 0xa282ead8u;
constexpr std::size_t kHeaderBytes = 12, kFooterBytes = 4;

/// Slicing-by-8 tables.
const std::array<std::array<std::uint32_t, 256>, 8>& crcTables() {
  static const auto tables = [] {
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t crc = i;
      for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (kCastagnoli & (0u - (crc & 1u)));
      t[0][i] = crc;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    return t;
  }();
  return tables;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32cHardware(const unsigned char* p, std::size_t n) {
  std::uint64_t crc = 0xffffffffu;
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    crc = _mm_crc32_u64(crc, word);
  }
  auto crc32 = static_cast<std::uint32_t>(crc);
  for (; n > 0; ++p, --n) crc32 = _mm_crc32_u8(crc32, *p);
  return ~crc32;
}

bool cpuHasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

void putLe64(unsigned char* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}
void putLe32(unsigned char* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint64_t getLe64(const unsigned char* in) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | in[i];
  return v;
}
std::uint32_t getLe32(const unsigned char* in) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | in[i];
  return v;
}

}  // namespace

std::uint32_t crc32cPortable(const void* data, std::size_t size) {
  const auto& t = crcTables();
  auto p = static_cast<const unsigned char*>(data);
  std::uint32_t crc = 0xffffffffu;
  for (; size >= 8; p += 8, size -= 8) {
    const std::uint32_t lo = crc ^ getLe32(p), hi = getLe32(p + 4);
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
          t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
  }
  for (; size > 0; ++p, --size) crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xff];
  return ~crc;
}

std::uint32_t crc32c(const void* data, std::size_t size) {
#if defined(__x86_64__)
  if (cpuHasSse42()) return crc32cHardware(static_cast<const unsigned char*>(data), size);
#endif
  return crc32cPortable(data, size);
}

std::uint32_t maskedCrc32c(const void* data, std::size_t size) {
  const std::uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

TfRecordWriter::TfRecordWriter(std::string path, bool atomic) : m_path(std::move(path)), m_atomic(atomic) {
  const std::string target = m_atomic ? m_path + ".tmp" : m_path;
  m_file = std::fopen(target.c_str(), "wb");
  TAUTRAIN_CHECK(m_file, Error, target, ": cannot create: ", std::strerror(errno));
}

TfRecordWriter::~TfRecordWriter() {
  if (!m_file) return;
  // Not closed: an atomic file was not finished, so it must not appear.
  std::fclose(m_file);
  if (m_atomic) std::remove((m_path + ".tmp").c_str());
}

void TfRecordWriter::write(std::string_view payload) {
  TAUTRAIN_CHECK(m_file, Error, m_path, ": write after close");
  unsigned char header[kHeaderBytes], footer[kFooterBytes];
  putLe64(header, payload.size());
  putLe32(header + 8, maskedCrc32c(header, 8));
  putLe32(footer, maskedCrc32c(payload.data(), payload.size()));
  const bool ok = std::fwrite(header, 1, kHeaderBytes, m_file) == kHeaderBytes &&
                  std::fwrite(payload.data(), 1, payload.size(), m_file) == payload.size() &&
                  std::fwrite(footer, 1, kFooterBytes, m_file) == kFooterBytes &&
                  (m_atomic || std::fflush(m_file) == 0);
  TAUTRAIN_CHECK(ok, Error, m_path, ": write failed at record ", m_records, ": ", std::strerror(errno));
  ++m_records;
}

void TfRecordWriter::close() {
  if (!m_file) return;
  std::FILE* file = m_file;
  m_file = nullptr;
  const bool flushed = std::fflush(file) == 0 && (!m_atomic || ::fsync(fileno(file)) == 0);
  const int err = errno;
  const bool closed = std::fclose(file) == 0;
  if (!m_atomic) {
    TAUTRAIN_CHECK(flushed && closed, Error, m_path, ": cannot complete the write: ", std::strerror(err));
    return;
  }
  const std::string tmp = m_path + ".tmp";
  if (!flushed || !closed || std::rename(tmp.c_str(), m_path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(m_path + ": cannot complete the write: " + std::strerror(err ? err : errno));
  }
}

TfRecordReader::TfRecordReader(const std::string& path, TfRecordReadOptions options)
    : m_name(path), m_options(options) {
  auto file = std::make_unique<std::ifstream>(path, std::ios::binary | std::ios::ate);
  TAUTRAIN_CHECK(*file, DataError, path, ": cannot open");
  m_remaining = static_cast<std::uint64_t>(file->tellg());
  file->seekg(0);
  m_in = std::move(file);
}

TfRecordReader::TfRecordReader(std::string_view bytes, std::string name, TfRecordReadOptions options)
    : m_in(std::make_unique<std::istringstream>(std::string(bytes))),
      m_name(std::move(name)),
      m_options(options),
      m_remaining(bytes.size()) {}

TfRecordReader::~TfRecordReader() = default;

void TfRecordReader::fail(const std::string& what) const {
  throw DataError(m_name + ": record " + std::to_string(m_index) + ": " + what);
}

bool TfRecordReader::corrupt(const std::string& what, bool canContinue) {
  if (!m_options.skip_corrupt) fail(what);
  ++m_skipped;
  ++m_index;
  if (!canContinue) m_done = true;
  return canContinue;
}

bool TfRecordReader::next(std::string& payload) {
  while (!m_done) {
    if (m_remaining == 0) return false;
    if (m_remaining < kHeaderBytes) {
      corrupt("truncated header (" + std::to_string(m_remaining) + " of 12 bytes)", false);
      break;
    }
    unsigned char header[kHeaderBytes];
    m_in->read(reinterpret_cast<char*>(header), kHeaderBytes);
    m_remaining -= kHeaderBytes;
    if (getLe32(header + 8) != maskedCrc32c(header, 8)) {
      corrupt("length CRC mismatch (corrupt header)", false);
      break;
    }
    const std::uint64_t length = getLe64(header);
    if (length > m_remaining || m_remaining - length < kFooterBytes) {
      corrupt("truncated: the record needs " + std::to_string(length + kFooterBytes) + " bytes, " +
                  std::to_string(m_remaining) + " are left",
              false);
      break;
    }
    payload.resize(length);
    unsigned char footer[kFooterBytes];
    m_in->read(payload.data(), static_cast<std::streamsize>(length));
    m_in->read(reinterpret_cast<char*>(footer), kFooterBytes);
    if (!*m_in) fail("read failed");
    m_remaining -= length + kFooterBytes;
    if (getLe32(footer) != maskedCrc32c(payload.data(), payload.size())) {
      if (corrupt("payload CRC mismatch (corrupt data)", true)) continue;
    }
    ++m_index;
    return true;
  }
  return false;
}

}  // namespace tautrain::io
