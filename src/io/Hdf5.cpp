#include "tautrain/io/Hdf5.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "ChunkDecode.hpp"
#include "tautrain/core/Error.hpp"

namespace tautrain::io::h5 {

std::recursive_mutex& globalMutex() {
  static std::recursive_mutex mutex;
  return mutex;
}

namespace {
std::atomic<ChunkDecoding> g_chunkDecoding{ChunkDecoding::kOutsideLock};
}  // namespace

void setChunkDecoding(ChunkDecoding decoding) { g_chunkDecoding = decoding; }
ChunkDecoding chunkDecoding() { return g_chunkDecoding; }

namespace {

using Lock = std::lock_guard<std::recursive_mutex>;

/// The innermost message of HDF5's error stack, for our own error text.
std::string lastHdf5Message() {
  std::string message;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
        if (n == 0 && err->desc) *static_cast<std::string*>(data) = err->desc;
        return 0;
      },
      &message);
  H5Eclear2(H5E_DEFAULT);
  return message;
}

struct SilenceHdf5 {
  SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};

void silence() { static SilenceHdf5 once; }

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  const std::string detail = lastHdf5Message();
  throw DataError(path + ": " + what + (detail.empty() ? "" : " (" + detail + ")"));
}

Handle openDataset(hid_t file, const std::string& path, const std::string& name) {
  hid_t id = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  if (id < 0) fail(path, "cannot open dataset '" + name + "' (missing or unreadable)");
  return Handle(id, H5Dclose);
}

/// numpy's name of an HDF5 type: what h5py users see and would write.
std::string dtypeName(hid_t type) {
  const auto bits = std::to_string(8 * H5Tget_size(type));
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + bits;
    case H5T_FLOAT: return "float" + bits;
    case H5T_STRING: return "string";
    case H5T_ENUM: return "enum";
    case H5T_COMPOUND: return "compound";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    default: return "another non-numeric type";
  }
}

bool isNumeric(hid_t type) {
  const auto typeClass = H5Tget_class(type);
  return typeClass == H5T_INTEGER || typeClass == H5T_FLOAT;
}

constexpr unsigned kBloscShuffle = 1, kBloscZstd = 5;  // blosc.h: BLOSC_SHUFFLE, BLOSC_ZSTD_COMPCODE

/// The filter of a codec, its plugin's name and the Debian package that ships it.
struct PluginFilter {
  H5Z_filter_t id;
  const char* name;
  const char* package;
};
constexpr PluginFilter kPluginFilters[] = {
    {kBloscFilter, "Blosc", "hdf5-filter-plugin-blosc-serial"},
    {kLz4Filter, "LZ4", "hdf5-filter-plugin"},
};

const PluginFilter* pluginFilter(H5Z_filter_t id) {
  for (const auto& filter : kPluginFilters)
    if (filter.id == id) return &filter;
  return nullptr;
}

/// Empty when every filter of the dataset is available, else which plugin is missing.
std::string missingFilter(hid_t dataset) {
  Handle props(H5Dget_create_plist(dataset), H5Pclose);
  const int filters = H5Pget_nfilters(props.id());
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0;
    std::size_t elements = 0;
    char name[64] = {};
    const H5Z_filter_t id = H5Pget_filter2(props.id(), static_cast<unsigned>(i), &flags, &elements, nullptr,
                                           sizeof name, name, nullptr);
    if (H5Zfilter_avail(id) > 0) continue;
    H5Eclear2(H5E_DEFAULT);
    const auto* known = pluginFilter(id);
    return fmt::format("HDF5 filter {} ({}) is not available: install its plugin{}", id, known ? known->name : name,
                       known ? fmt::format(" (Debian: {})", known->package) : "");
  }
  return {};
}

void requireFilter(H5Z_filter_t id, const std::string& path) {
  if (H5Zfilter_avail(id) > 0) return;
  H5Eclear2(H5E_DEFAULT);
  const auto* filter = pluginFilter(id);
  throw DataError(fmt::format("{}: cannot write {}-compressed shards: the HDF5 filter plugin is missing (Debian: {}; "
                              "or set HDF5_PLUGIN_PATH to where it is)",
                              path, filter->name, filter->package));
}

void addFilters(hid_t props, const Compression& compression, const std::string& path) {
  const auto level = static_cast<unsigned>(compression.level > 0 ? compression.level : 1);  // deflate's and zstd's default
  switch (compression.codec) {
    case Codec::kNone: return;
    case Codec::kDeflate:
      H5Pset_shuffle(props);
      H5Pset_deflate(props, level);
      return;
    case Codec::kZstd: {
      requireFilter(kBloscFilter, path);
      // The first four values are the filter's own (version, type size, chunk size), filled in
      // when the dataset is created; then level, byte shuffle, compressor. Optional, as deflate
      // is: a chunk that does not shrink (small chunks of random floats) is stored as it is.
      const unsigned values[7] = {0, 0, 0, 0, level, kBloscShuffle, kBloscZstd};
      H5Pset_filter(props, kBloscFilter, H5Z_FLAG_OPTIONAL, 7, values);
      return;
    }
    case Codec::kLz4: {
      requireFilter(kLz4Filter, path);
      H5Pset_shuffle(props);
      const unsigned blockBytes = 0;  // the filter's default block
      H5Pset_filter(props, kLz4Filter, H5Z_FLAG_OPTIONAL, 1, &blockBytes);
      return;
    }
  }
}

/// The filters of a dataset's creation properties in pipeline order, with (up to 8 of) their
/// client data values.
std::vector<ChunkFilter> filtersOf(hid_t props) {
  const int filters = H5Pget_nfilters(props);
  std::vector<ChunkFilter> pipeline(std::max(filters, 0));
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0, values[8] = {};
    std::size_t count = 8;
    pipeline[i].id = H5Pget_filter2(props, static_cast<unsigned>(i), &flags, &count, values, 0, nullptr, nullptr);
    pipeline[i].values.assign(values, values + std::min<std::size_t>(count, 8));
  }
  return pipeline;
}

/// The filters of a chunked dataset (its creation properties `props`), if decodeChunk can undo
/// them all and the read needs no type conversion (HDF5 converts while it copies; the raw path
/// does not): else empty.
std::vector<ChunkFilter> pipelineOutsideLock(hid_t props, hid_t fileType, hid_t memoryType) {
  if (chunkDecoding() != ChunkDecoding::kOutsideLock || H5Tequal(fileType, memoryType) <= 0 ||
      H5Pget_layout(props) != H5D_CHUNKED)
    return {};
  auto pipeline = filtersOf(props);
  return canDecodeOutsideHdf5(pipeline) ? pipeline : std::vector<ChunkFilter>{};
}

/// A read's chunks as stored, fetched under the lock and decoded after it.
struct RawChunks {
  std::vector<ChunkFilter> pipeline;
  hsize_t chunkRows = 1, chunkColumns = 1, columns = 1;
  std::size_t elementSize = 0;
  struct Chunk {
    hsize_t row, column;
    std::uint32_t skipped;  ///< H5Dread_chunk's mask of filters not applied to it
    std::size_t at, bytes;  ///< where in `bytes`
  };
  std::vector<Chunk> chunks;
  std::vector<std::byte> bytes;
};

/// Whether reads of `dataset` can take the raw path; if so, fills raw's pipeline and chunk shape.
bool prepareRawChunks(hid_t dataset, hid_t fileType, hid_t memoryType, int rank, const hsize_t dims[2],
                      RawChunks& raw) {
  Handle props(H5Dget_create_plist(dataset), H5Pclose);
  raw.pipeline = pipelineOutsideLock(props.id(), fileType, memoryType);
  if (raw.pipeline.empty()) return false;
  hsize_t chunk[2] = {1, 1};
  if (H5Pget_chunk(props.id(), rank, chunk) != rank) return false;
  raw.chunkRows = chunk[0];
  raw.chunkColumns = rank == 2 ? chunk[1] : 1;
  raw.columns = dims[1];
  raw.elementSize = H5Tget_size(fileType);
  return true;
}

/// Raw bytes one fetch gathers at most (a whole row of chunks is always taken): a large read
/// alternates between fetching and decoding instead of holding all of its compressed bytes.
constexpr std::size_t kRawBatchBytes = 8 << 20;

/// Fetches rows of chunks from the one holding row `from` until kRawBatchBytes or `end`; returns
/// the first row not fetched. Returns `from` (nothing fetched) at a chunk never written: HDF5
/// reads the rest, filling it.
hsize_t fetchRawChunks(hid_t dataset, hsize_t from, hsize_t end, RawChunks& raw, const std::string& path,
                       const std::string& name) {
  raw.chunks.clear();
  raw.bytes.clear();
  hsize_t row = from / raw.chunkRows * raw.chunkRows;
  for (; row < end && raw.bytes.size() < kRawBatchBytes; row += raw.chunkRows) {
    for (hsize_t column = 0; column < raw.columns; column += raw.chunkColumns) {
      const hsize_t offset[2] = {row, column};
      hsize_t bytes = 0;
      if (H5Dget_chunk_storage_size(dataset, offset, &bytes) < 0 || bytes == 0) {
        H5Eclear2(H5E_DEFAULT);
        while (!raw.chunks.empty() && raw.chunks.back().row == row) raw.chunks.pop_back();
        return std::max(from, row);
      }
      const std::size_t at = raw.bytes.size();
      raw.bytes.resize(at + bytes);
      std::uint32_t skipped = 0;
      if (H5Dread_chunk(dataset, H5P_DEFAULT, offset, &skipped, raw.bytes.data() + at) < 0)
        fail(path, fmt::format("cannot read the chunk at row {} of '{}' (truncated or corrupt file?)", row, name));
      raw.chunks.push_back({row, column, skipped, at, bytes});
    }
  }
  return std::min(row, end);
}

/// Copies `rows` rows of `width` elements from a decoded chunk (rows `inStride` apart) into the
/// output (rows `outStride` apart). Column chunks are one element wide: typed, not memcpy.
template <typename Word>
void copyColumn(const std::byte* in, std::size_t rows, std::size_t inStride, std::byte* out, std::size_t outStride) {
  for (std::size_t r = 0; r < rows; ++r)
    std::memcpy(out + r * outStride * sizeof(Word), in + r * inStride * sizeof(Word), sizeof(Word));
}

void copyRows(const std::byte* in, std::size_t rows, std::size_t width, std::size_t inStride, std::byte* out,
              std::size_t outStride, std::size_t elementSize) {
  if (width == inStride && width == outStride) {
    std::memcpy(out, in, rows * width * elementSize);
  } else if (width == 1 && elementSize == 4) {
    copyColumn<std::uint32_t>(in, rows, inStride, out, outStride);
  } else if (width == 1 && elementSize == 8) {
    copyColumn<std::uint64_t>(in, rows, inStride, out, outStride);
  } else {
    for (std::size_t r = 0; r < rows; ++r)
      std::memcpy(out + r * outStride * elementSize, in + r * inStride * elementSize, width * elementSize);
  }
}

}  // namespace

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    this->~Handle();
    m_id = other.m_id;
    m_close = other.m_close;
    other.m_id = -1;
  }
  return *this;
}

Handle::~Handle() {
  if (m_id >= 0 && m_close) {
    Lock lock(globalMutex());
    m_close(m_id);
  }
  m_id = -1;
}

template <> hid_t nativeType<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t nativeType<double>() { return H5T_NATIVE_DOUBLE; }
template <> hid_t nativeType<std::int8_t>() { return H5T_NATIVE_INT8; }
template <> hid_t nativeType<std::int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t nativeType<std::int64_t>() { return H5T_NATIVE_INT64; }
template <> hid_t nativeType<std::uint8_t>() { return H5T_NATIVE_UINT8; }

File File::openRead(const std::string& path) {
  Lock lock(globalMutex());
  silence();
  if (!std::filesystem::exists(path)) throw DataError(path + ": file not found");
  // HDF5 would call a file it cannot open (no permission, no file descriptor left) corrupt.
  if (const int fd = ::open(path.c_str(), O_RDONLY); fd >= 0) {
    ::close(fd);
  } else {
    const int error = errno;
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    throw DataError(path + ": cannot open: " + std::strerror(error) +
                    (error == EMFILE ? " (every open shard keeps a file open; the limit is " +
                                           std::to_string(limit.rlim_cur) + ": raise it with ulimit -n)"
                                     : ""));
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw DataError(path + ": not an HDF5 file, or truncated/corrupt");
  }
  // HDF5 lets each open file's metadata cache grow to 32 MiB, and a training epoch's random
  // reads fill it with the chunk index: ~27 MiB per shard, GBs for a dataset of hundreds of
  // shards. A small cache keeps the upper index levels; leaves come again from the page cache
  // (64 KiB to 1 MiB loaded at the same rate: docs/benchmarks.md).
  constexpr std::size_t kMetadataCacheBytes = 128 << 10;
  Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5AC_cache_config_t cache{};
  cache.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  H5Pget_mdc_config(access.id(), &cache);
  cache.set_initial_size = true;
  cache.initial_size = kMetadataCacheBytes;
  cache.min_size = kMetadataCacheBytes / 2;
  cache.max_size = kMetadataCacheBytes;
  if (H5Pset_mdc_config(access.id(), &cache) < 0) fail(path, "cannot configure the metadata cache");
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.id());
  if (id < 0) fail(path, "cannot open HDF5 file (truncated or corrupt?)");
  return File(Handle(id, H5Fclose), path);
}

std::size_t File::metadataCacheLimit() const {
  Lock lock(globalMutex());
  std::size_t max = 0, min = 0, current = 0;
  int entries = 0;
  if (H5Fget_mdc_size(m_handle.id(), &max, &min, &current, &entries) < 0) fail(m_path, "cannot read the metadata cache size");
  return max;
}

File File::create(const std::string& path, const std::string& nameInErrors) {
  Lock lock(globalMutex());
  silence();
  const std::string name = nameInErrors.empty() ? path : nameInErrors;
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) fail(name, "cannot create HDF5 file");
  return File(Handle(id, H5Fclose), name);
}

bool File::exists(const std::string& object) const {
  Lock lock(globalMutex());
  // Check each path component: H5Lexists fails on a missing intermediate group.
  std::string partial;
  std::size_t start = object[0] == '/' ? 1 : 0;
  while (start <= object.size()) {
    const auto slash = object.find('/', start);
    partial = object.substr(0, slash);
    const htri_t found = H5Lexists(m_handle.id(), partial.c_str(), H5P_DEFAULT);
    if (found <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

void File::createGroup(const std::string& name) {
  Lock lock(globalMutex());
  hid_t id = H5Gcreate2(m_handle.id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) fail(m_path, "cannot create group '" + name + "'");
  H5Gclose(id);
}

std::vector<std::uint64_t> File::shape(const std::string& dataset) const {
  Lock lock(globalMutex());
  Handle ds = openDataset(m_handle.id(), m_path, dataset);
  Handle space(H5Dget_space(ds.id()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.id());
  if (rank < 0) fail(m_path, "cannot read the shape of '" + dataset + "'");
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  return {dims.begin(), dims.end()};
}

std::string File::dtype(const std::string& dataset) const {
  Lock lock(globalMutex());
  Handle ds = openDataset(m_handle.id(), m_path, dataset);
  Handle type(H5Dget_type(ds.id()), H5Tclose);
  return dtypeName(type.id());
}

std::vector<std::int64_t> File::readWholeNumbers(const std::string& dataset, const std::string& rowName) const {
  const auto type = dtype(dataset);
  if (type.rfind("float", 0) != 0) return readAll<std::int64_t>(dataset);
  const auto values = readAll<double>(dataset);
  std::vector<std::int64_t> whole(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!(std::floor(values[i]) == values[i] && std::abs(values[i]) < 9e15))
      throw DataError(m_path + ": " + rowName + " " + std::to_string(i) + ": '" + dataset + "' is " +
                      (type == "float32" ? fmt::format("{}", static_cast<float>(values[i])) : fmt::format("{}", values[i])) +
                      ", not a whole number (dtype " + type +
                      "; store integers, e.g. int8)");
    whole[i] = static_cast<std::int64_t>(values[i]);
  }
  return whole;
}

namespace {

/// Rows [begin, end) through HDF5 (its filters, its type conversion), under the lock.
void readThroughHdf5(hid_t dataset, hid_t type, int rank, const hsize_t dims[2], hsize_t begin, hsize_t end,
                     void* out, const std::string& path, const std::string& name) {
  Handle space(H5Dget_space(dataset), H5Sclose);
  hsize_t start[2] = {begin, 0};
  hsize_t count[2] = {end - begin, dims[1]};
  if (H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0)
    fail(path, "cannot select rows of '" + name + "'");
  Handle memory(H5Screate_simple(rank, count, nullptr), H5Sclose);
  if (H5Dread(dataset, type, memory.id(), space.id(), H5P_DEFAULT, out) < 0) {
    if (const auto missing = missingFilter(dataset); !missing.empty())
      throw DataError(path + ": cannot read dataset '" + name + "': " + missing);
    fail(path, "cannot read rows [" + std::to_string(begin) + ", " + std::to_string(end) + ") of '" + name +
                   "' (truncated or corrupt file?)");
  }
}

/// Decodes the fetched chunks and writes their part of rows [begin, end) into `out` (the rows
/// of the whole read, which starts at `first`), without the lock.
void decodeInto(const RawChunks& raw, hsize_t first, hsize_t begin, hsize_t end, std::byte* out,
                const std::string& path, const std::string& name) {
  thread_local std::vector<std::vector<std::byte>> decoded;  // one row of chunks, a buffer per chunk
  thread_local std::vector<std::byte> scratch;
  const std::size_t chunkBytes = raw.chunkRows * raw.chunkColumns * raw.elementSize;
  // Chunks come as rows of chunks (every column chunk of one row range, left to right).
  for (std::size_t head = 0, tail = 0; head < raw.chunks.size(); head = tail) {
    const hsize_t row = raw.chunks[head].row;
    while (tail < raw.chunks.size() && raw.chunks[tail].row == row) ++tail;
    if (decoded.size() < tail - head) decoded.resize(tail - head);
    for (std::size_t k = head; k < tail; ++k) {
      const auto& chunk = raw.chunks[k];
      try {
        decodeChunk(raw.pipeline, chunk.skipped, raw.bytes.data() + chunk.at, chunk.bytes, chunkBytes,
                    decoded[k - head], scratch);
      } catch (const DataError& e) {
        throw DataError(fmt::format("{}: dataset '{}', chunk at row {}: {} (truncated or corrupt file?)", path, name,
                                    chunk.row, e.what()));
      }
    }
    // Column chunks are interleaved into the rows a few rows at a time, so that the rows being
    // written stay in the cache: a whole column at a time would touch every row's cache line
    // once per column.
    constexpr hsize_t kTileRows = 64;
    const hsize_t low = std::max<hsize_t>(begin, row), high = std::min<hsize_t>(end, row + raw.chunkRows);
    for (hsize_t tile = low; tile < high; tile += kTileRows) {
      const hsize_t rows = std::min(kTileRows, high - tile);
      for (std::size_t k = head; k < tail; ++k) {
        const hsize_t column = raw.chunks[k].column;
        copyRows(decoded[k - head].data() + (tile - row) * raw.chunkColumns * raw.elementSize, rows,
                 std::min(raw.chunkColumns, raw.columns - column), raw.chunkColumns,
                 out + ((tile - first) * raw.columns + column) * raw.elementSize, raw.columns, raw.elementSize);
      }
    }
  }
}

}  // namespace

void File::readRowsImpl(const std::string& dataset, std::uint64_t begin, std::uint64_t end, hid_t type,
                        void* out) const {
  thread_local RawChunks raw;
  Handle ds, fileType;
  int rank = 0;
  hsize_t dims[2] = {0, 1};
  {
    Lock lock(globalMutex());
    ds = openDataset(m_handle.id(), m_path, dataset);
    // HDF5 would fail the read with "no conversion path": say what was found and what is expected.
    fileType = Handle(H5Dget_type(ds.id()), H5Tclose);
    if (!isNumeric(fileType.id()))
      throw DataError(m_path + ": dataset '" + dataset + "' has dtype " + dtypeName(fileType.id()) + ", expected " +
                      dtypeName(type) + " (or another numeric type)");
    Handle space(H5Dget_space(ds.id()), H5Sclose);
    rank = H5Sget_simple_extent_ndims(space.id());
    if (rank < 1 || rank > 2) fail(m_path, "dataset '" + dataset + "' must be 1-D or 2-D");
    H5Sget_simple_extent_dims(space.id(), dims, nullptr);
    if (end < begin || end > dims[0])
      throw DataError(m_path + ": rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                      ") run past dataset '" + dataset + "' of " + std::to_string(dims[0]) + " rows");
    if (end == begin) return;
    if (!prepareRawChunks(ds.id(), fileType.id(), type, rank, dims, raw))
      return readThroughHdf5(ds.id(), type, rank, dims, begin, end, out, m_path, dataset);
  }
  // Fetch under the lock, decode without it: other threads read and decode meanwhile.
  auto* target = static_cast<std::byte*>(out);
  for (hsize_t from = begin; from < end;) {
    hsize_t next = 0;
    {
      Lock lock(globalMutex());
      next = fetchRawChunks(ds.id(), from, end, raw, m_path, dataset);
      if (next == from) {  // a chunk never written
        readThroughHdf5(ds.id(), type, rank, dims, from, end,
                        target + (from - begin) * raw.columns * raw.elementSize, m_path, dataset);
        break;
      }
    }
    decodeInto(raw, begin, from, next, target, m_path, dataset);
    from = next;
  }
}

bool File::decodesOutsideLockImpl(const std::string& dataset, hid_t type) const {
  Lock lock(globalMutex());
  Handle ds = openDataset(m_handle.id(), m_path, dataset);
  Handle fileType(H5Dget_type(ds.id()), H5Tclose);
  Handle props(H5Dget_create_plist(ds.id()), H5Pclose);
  return !pipelineOutsideLock(props.id(), fileType.id(), type).empty();
}

void File::createExtendableImpl(const std::string& dataset, std::uint64_t columns, std::uint64_t chunkRows,
                                const Compression& compression, hid_t type) {
  Lock lock(globalMutex());
  const int rank = columns == 0 ? 1 : 2;
  const bool byColumn = compression.codec != Codec::kNone && columns > 1;
  hsize_t dims[2] = {0, columns};
  hsize_t maxDims[2] = {H5S_UNLIMITED, columns};
  hsize_t chunk[2] = {chunkRows, byColumn ? 1 : columns};
  Handle space(H5Screate_simple(rank, dims, maxDims), H5Sclose);
  Handle props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(props.id(), rank, chunk);
  addFilters(props.id(), compression, m_path);
  hid_t id = H5Dcreate2(m_handle.id(), dataset.c_str(), type, space.id(), H5P_DEFAULT, props.id(), H5P_DEFAULT);
  if (id < 0) fail(m_path, "cannot create dataset '" + dataset + "'");
  H5Dclose(id);
}

Compression File::compression(const std::string& dataset) const {
  Lock lock(globalMutex());
  Handle ds = openDataset(m_handle.id(), m_path, dataset);
  Handle props(H5Dget_create_plist(ds.id()), H5Pclose);
  Compression found;
  for (const auto& [id, values] : filtersOf(props.id())) {
    if (id == H5Z_FILTER_DEFLATE) found = {Codec::kDeflate, values.empty() ? 0 : static_cast<int>(values[0])};
    if (id == kBloscFilter && values.size() > 6 && values[6] == kBloscZstd) found = {Codec::kZstd, static_cast<int>(values[4])};
    if (id == kLz4Filter) found = {Codec::kLz4, 0};
  }
  return found;
}

void File::appendRowsImpl(const std::string& dataset, const void* data, std::uint64_t rows, hid_t type) {
  if (rows == 0) return;
  Lock lock(globalMutex());
  Handle ds = openDataset(m_handle.id(), m_path, dataset);
  Handle space(H5Dget_space(ds.id()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.id());
  hsize_t dims[2] = {0, 1};
  H5Sget_simple_extent_dims(space.id(), dims, nullptr);
  hsize_t newDims[2] = {dims[0] + rows, dims[1]};
  if (H5Dset_extent(ds.id(), newDims) < 0) fail(m_path, "cannot extend '" + dataset + "'");
  Handle fileSpace(H5Dget_space(ds.id()), H5Sclose);
  hsize_t start[2] = {dims[0], 0};
  hsize_t count[2] = {rows, dims[1]};
  H5Sselect_hyperslab(fileSpace.id(), H5S_SELECT_SET, start, nullptr, count, nullptr);
  Handle memory(H5Screate_simple(rank, count, nullptr), H5Sclose);
  if (H5Dwrite(ds.id(), type, memory.id(), fileSpace.id(), H5P_DEFAULT, data) < 0)
    fail(m_path, "cannot write to '" + dataset + "'");
}

namespace {

Handle openObject(hid_t file, const std::string& path, const std::string& object) {
  hid_t id = H5Oopen(file, object.c_str(), H5P_DEFAULT);
  if (id < 0) fail(path, "cannot open '" + object + "'");
  return Handle(id, H5Oclose);
}

Handle openAttribute(hid_t file, const std::string& path, const std::string& object, const std::string& name) {
  Handle obj = openObject(file, path, object);
  hid_t id = H5Aopen(obj.id(), name.c_str(), H5P_DEFAULT);
  if (id < 0) fail(path, "missing attribute '" + name + "' on '" + object + "'");
  return Handle(id, H5Aclose);
}

void writeRawAttribute(hid_t file, const std::string& path, const std::string& object, const std::string& name,
                       hid_t type, hid_t space, const void* data) {
  Handle obj = openObject(file, path, object);
  if (H5Aexists(obj.id(), name.c_str()) > 0) H5Adelete(obj.id(), name.c_str());
  Handle attr(H5Acreate2(obj.id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr || H5Awrite(attr.id(), type, data) < 0) fail(path, "cannot write attribute '" + name + "'");
}

Handle variableStringType() {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.id(), H5T_VARIABLE);
  H5Tset_cset(type.id(), H5T_CSET_UTF8);
  return type;
}

}  // namespace

bool File::hasAttribute(const std::string& object, const std::string& name) const {
  Lock lock(globalMutex());
  if (!exists(object) && object != "/") return false;
  Handle obj = openObject(m_handle.id(), m_path, object);
  return H5Aexists(obj.id(), name.c_str()) > 0;
}

void File::writeAttribute(const std::string& object, const std::string& name, std::int64_t value) {
  Lock lock(globalMutex());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  writeRawAttribute(m_handle.id(), m_path, object, name, H5T_NATIVE_INT64, space.id(), &value);
}

void File::writeAttribute(const std::string& object, const std::string& name, const std::string& value) {
  Lock lock(globalMutex());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle type = variableStringType();
  const char* text = value.c_str();
  writeRawAttribute(m_handle.id(), m_path, object, name, type.id(), space.id(), &text);
}

void File::writeAttribute(const std::string& object, const std::string& name, const std::vector<std::string>& values) {
  Lock lock(globalMutex());
  hsize_t count = values.size();
  Handle space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  Handle type = variableStringType();
  std::vector<const char*> texts;
  for (const auto& v : values) texts.push_back(v.c_str());
  writeRawAttribute(m_handle.id(), m_path, object, name, type.id(), space.id(), texts.data());
}

std::int64_t File::readIntAttribute(const std::string& object, const std::string& name) const {
  Lock lock(globalMutex());
  Handle attr = openAttribute(m_handle.id(), m_path, object, name);
  std::int64_t value = 0;
  if (H5Aread(attr.id(), H5T_NATIVE_INT64, &value) < 0) fail(m_path, "cannot read attribute '" + name + "' as an integer");
  return value;
}

std::vector<std::string> File::readStringListAttribute(const std::string& object, const std::string& name) const {
  Lock lock(globalMutex());
  Handle attr = openAttribute(m_handle.id(), m_path, object, name);
  Handle space(H5Aget_space(attr.id()), H5Sclose);
  const hssize_t count = H5Sget_simple_extent_npoints(space.id());
  Handle fileType(H5Aget_type(attr.id()), H5Tclose);
  if (H5Tget_class(fileType.id()) != H5T_STRING) fail(m_path, "attribute '" + name + "' is not a string");
  std::vector<std::string> values;
  if (H5Tis_variable_str(fileType.id()) > 0) {
    Handle type = variableStringType();
    std::vector<char*> texts(count, nullptr);
    if (H5Aread(attr.id(), type.id(), texts.data()) < 0) fail(m_path, "cannot read attribute '" + name + "'");
    for (char* t : texts) values.emplace_back(t ? t : "");
    H5Dvlen_reclaim(type.id(), space.id(), H5P_DEFAULT, texts.data());
  } else {  // fixed-length strings, as numpy's 'S' arrays write them
    const std::size_t size = H5Tget_size(fileType.id());
    std::vector<char> buffer(size * count);
    if (H5Aread(attr.id(), fileType.id(), buffer.data()) < 0) fail(m_path, "cannot read attribute '" + name + "'");
    for (hssize_t i = 0; i < count; ++i) {
      std::string s(buffer.data() + i * size, size);
      values.push_back(s.substr(0, s.find('\0')));
    }
  }
  return values;
}

std::string File::readStringAttribute(const std::string& object, const std::string& name) const {
  auto values = readStringListAttribute(object, name);
  if (values.size() != 1) throw DataError(m_path + ": attribute '" + name + "' is not a single string");
  return values[0];
}

void File::flush() {
  Lock lock(globalMutex());
  H5Fflush(m_handle.id(), H5F_SCOPE_GLOBAL);
}

}  // namespace tautrain::io::h5
