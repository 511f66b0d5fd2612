#pragma once
// Thin RAII layer over the HDF5 C API. Every failure throws DataError naming the file and
// object. HDF5 builds are often not thread-safe, so every call runs under one global lock.
#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "tautrain/io/Compression.hpp"

namespace tautrain::io::h5 {

/// Lock held around every HDF5 call.
std::recursive_mutex& globalMutex();

/// Where the chunks of a compressed dataset are decoded. Outside the lock (the default), a read
/// fetches its chunks raw under the lock and decodes them after releasing it, so that loader
/// threads decode in parallel; datasets with filters tautrain does not write, or read as another
/// type, always go through HDF5. Through HDF5: the library's own filters, under the lock.
enum class ChunkDecoding { kOutsideLock, kThroughHdf5 };
void setChunkDecoding(ChunkDecoding decoding);
ChunkDecoding chunkDecoding();

/// Sets the chunk decoding for its lifetime, then restores the one before.
class ScopedChunkDecoding {
 public:
  explicit ScopedChunkDecoding(ChunkDecoding decoding) : m_before(chunkDecoding()) { setChunkDecoding(decoding); }
  ~ScopedChunkDecoding() { setChunkDecoding(m_before); }
  ScopedChunkDecoding(const ScopedChunkDecoding&) = delete;
  ScopedChunkDecoding& operator=(const ScopedChunkDecoding&) = delete;

 private:
  ChunkDecoding m_before;
};

/// Owns an hid_t and closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : m_id(id), m_close(close) {}
  Handle(Handle&& other) noexcept { *this = std::move(other); }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();
  hid_t id() const { return m_id; }
  explicit operator bool() const { return m_id >= 0; }

 private:
  hid_t m_id = -1;
  herr_t (*m_close)(hid_t) = nullptr;
};

template <typename T>
hid_t nativeType();

class File {
 public:
  /// Opens for reading; a missing, truncated or non-HDF5 file is a DataError naming it.
  static File openRead(const std::string& path);
  /// Creates or truncates `path`. Errors name `nameInErrors` if given: the final name of a file
  /// written under a temporary one, which the user sees (the temporary is gone by then).
  static File create(const std::string& path, const std::string& nameInErrors = "");

  /// The name errors give.
  const std::string& path() const { return m_path; }
  bool exists(const std::string& object) const;
  void createGroup(const std::string& name);

  /// Dimensions of a dataset.
  std::vector<std::uint64_t> shape(const std::string& dataset) const;
  /// The element type of a dataset in numpy's words ("int8", "uint16", "float32", "string", ...).
  std::string dtype(const std::string& dataset) const;
  /// The codec a dataset was written with (kNone for a filter tautrain does not write).
  Compression compression(const std::string& dataset) const;
  /// A 1-D dataset of integers. Floats are accepted only where every value is a whole number
  /// (h5py users write labels as float32 by accident); otherwise a DataError names the dataset,
  /// the first bad row (as `rowName` i) and the value: a truncated 2.9 would silently be class 2.
  std::vector<std::int64_t> readWholeNumbers(const std::string& dataset, const std::string& rowName) const;
  /// Reads rows [begin, end) of a 1-D or 2-D dataset into out (row-major).
  template <typename T>
  void readRows(const std::string& dataset, std::uint64_t begin, std::uint64_t end, T* out) const;
  template <typename T>
  std::vector<T> readAll(const std::string& dataset) const;
  /// Whether reads of `dataset` as T decode its chunks outside HDF5's lock (ChunkDecoding).
  template <typename T>
  bool decodesOutsideLock(const std::string& dataset) const {
    return decodesOutsideLockImpl(dataset, nativeType<T>());
  }

  /// Creates an extendable, chunked dataset of `columns` columns (0: 1-D). A compressed 2-D
  /// dataset is chunked by column: a column's values resemble each other, so they compress far
  /// better than rows mixing all features; the logical layout, and so every reader, is the same.
  /// A plugin codec whose plugin is missing is a DataError naming the package.
  template <typename T>
  void createExtendable(const std::string& dataset, std::uint64_t columns, std::uint64_t chunkRows,
                        const Compression& compression);
  /// Appends `rows` rows to an extendable dataset.
  template <typename T>
  void appendRows(const std::string& dataset, const T* data, std::uint64_t rows);

  void writeAttribute(const std::string& object, const std::string& name, std::int64_t value);
  void writeAttribute(const std::string& object, const std::string& name, const std::string& value);
  void writeAttribute(const std::string& object, const std::string& name, const std::vector<std::string>& values);
  std::int64_t readIntAttribute(const std::string& object, const std::string& name) const;
  std::string readStringAttribute(const std::string& object, const std::string& name) const;
  std::vector<std::string> readStringListAttribute(const std::string& object, const std::string& name) const;
  bool hasAttribute(const std::string& object, const std::string& name) const;

  void flush();
  /// Most bytes this file's metadata cache may hold (a read-only file: 128 KiB, so that
  /// thousands of open shards cost little).
  std::size_t metadataCacheLimit() const;

 private:
  File(Handle handle, std::string path) : m_handle(std::move(handle)), m_path(std::move(path)) {}
  void readRowsImpl(const std::string& dataset, std::uint64_t begin, std::uint64_t end, hid_t type, void* out) const;
  bool decodesOutsideLockImpl(const std::string& dataset, hid_t type) const;
  void createExtendableImpl(const std::string& dataset, std::uint64_t columns, std::uint64_t chunkRows,
                            const Compression& compression, hid_t type);
  void appendRowsImpl(const std::string& dataset, const void* data, std::uint64_t rows, hid_t type);

  Handle m_handle;
  std::string m_path;
};

template <typename T>
void File::readRows(const std::string& dataset, std::uint64_t begin, std::uint64_t end, T* out) const {
  readRowsImpl(dataset, begin, end, nativeType<T>(), out);
}

template <typename T>
std::vector<T> File::readAll(const std::string& dataset) const {
  const auto dims = shape(dataset);
  std::uint64_t count = dims.empty() ? 0 : dims[0];
  const std::uint64_t columns = dims.size() > 1 ? dims[1] : 1;
  std::vector<T> out(count * columns);
  if (count) readRows(dataset, 0, count, out.data());
  return out;
}

template <typename T>
void File::createExtendable(const std::string& dataset, std::uint64_t columns, std::uint64_t chunkRows,
                            const Compression& compression) {
  createExtendableImpl(dataset, columns, chunkRows, compression, nativeType<T>());
}

template <typename T>
void File::appendRows(const std::string& dataset, const T* data, std::uint64_t rows) {
  appendRowsImpl(dataset, data, rows, nativeType<T>());
}

}  // namespace tautrain::io::h5
