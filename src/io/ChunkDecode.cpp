#include "ChunkDecode.hpp"

#include <blosc.h>
#include <lz4.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "tautrain/core/Error.hpp"

namespace tautrain::io::h5 {

namespace {

std::uint64_t bigEndian(const std::byte* p, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = value << 8 | static_cast<std::uint8_t>(p[i]);
  return value;
}

[[noreturn]] void corrupt(const std::string& what) { throw DataError(what); }

/// The Blosc filter stores one Blosc buffer, which says its own sizes, shuffle and compressor.
void unblosc(const std::byte* in, std::size_t inBytes, std::vector<std::byte>& out) {
  std::size_t bytes = 0;
  if (inBytes < BLOSC_MIN_HEADER_LENGTH || blosc_cbuffer_validate(in, inBytes, &bytes) < 0)
    corrupt("not a valid Blosc buffer");
  out.resize(bytes);
  if (blosc_decompress_ctx(in, out.data(), bytes, 1) != static_cast<int>(bytes))
    corrupt(fmt::format("Blosc cannot decode it (compressor {})", blosc_cbuffer_complib(in)));
}

/// The LZ4 filter's layout (H5Zlz4.c): the decoded size (8 bytes) and block size (4), then per
/// block its stored size (4) and the block, stored as it is when LZ4 did not shrink it.
void unlz4(const std::byte* in, std::size_t inBytes, std::vector<std::byte>& out) {
  if (inBytes < 12) corrupt("LZ4 chunk shorter than its header");
  const std::uint64_t total = bigEndian(in, 8);
  const std::uint64_t blockBytes = bigEndian(in + 8, 4);
  if (blockBytes == 0 || total > (std::uint64_t{1} << 40)) corrupt("LZ4 chunk header is implausible");
  out.resize(total);
  std::size_t at = 12;
  for (std::uint64_t done = 0; done < total;) {
    const auto expected = static_cast<int>(std::min(blockBytes, total - done));
    if (at + 4 > inBytes) corrupt("LZ4 chunk ends inside a block header");
    const auto stored = bigEndian(in + at, 4);
    at += 4;
    if (stored > inBytes - at) corrupt("LZ4 block runs past the chunk");
    auto* dst = reinterpret_cast<char*>(out.data() + done);
    if (stored == static_cast<std::uint64_t>(expected)) {
      std::memcpy(dst, in + at, stored);
    } else if (LZ4_decompress_safe(reinterpret_cast<const char*>(in + at), dst, static_cast<int>(stored), expected) !=
               expected) {
      corrupt("LZ4 cannot decode a block");
    }
    at += stored;
    done += expected;
  }
}

void inflate(const std::byte* in, std::size_t inBytes, std::size_t chunkBytes, std::vector<std::byte>& out) {
  out.resize(chunkBytes);
  uLongf bytes = chunkBytes;
  if (uncompress(reinterpret_cast<Bytef*>(out.data()), &bytes, reinterpret_cast<const Bytef*>(in), inBytes) != Z_OK)
    corrupt("deflate stream does not decode to one chunk");
  out.resize(bytes);
}

/// HDF5's shuffle stores byte k of every element together; bytes past the last whole element
/// stay where they are.
template <std::size_t kSize>
void unshufflePlanes(const std::byte* in, std::size_t elements, std::byte* out) {
  for (std::size_t i = 0; i < elements; ++i)
    for (std::size_t k = 0; k < kSize; ++k) out[i * kSize + k] = in[k * elements + i];
}

void unshuffle(const std::byte* in, std::size_t bytes, std::size_t elementSize, std::vector<std::byte>& out) {
  out.resize(bytes);
  const std::size_t elements = elementSize > 1 ? bytes / elementSize : 0;
  // The element sizes of the shards' columns, with the size known to the compiler.
  switch (elementSize) {
    case 2:
      unshufflePlanes<2>(in, elements, out.data());
      break;
    case 4:
      unshufflePlanes<4>(in, elements, out.data());
      break;
    case 8:
      unshufflePlanes<8>(in, elements, out.data());
      break;
    default:
      for (std::size_t k = 0; k < elementSize && elements; ++k)
        for (std::size_t i = 0; i < elements; ++i) out[i * elementSize + k] = in[k * elements + i];
  }
  const std::size_t tail = elements * elementSize;
  std::memcpy(out.data() + tail, in + tail, bytes - tail);
}

}  // namespace

bool canDecodeOutsideHdf5(const std::vector<ChunkFilter>& pipeline) {
  return !pipeline.empty() && std::all_of(pipeline.begin(), pipeline.end(), [](const ChunkFilter& f) {
    return f.id == H5Z_FILTER_SHUFFLE || f.id == H5Z_FILTER_DEFLATE || f.id == kBloscFilter || f.id == kLz4Filter;
  });
}

void decodeChunk(const std::vector<ChunkFilter>& pipeline, std::uint32_t skipped, const std::byte* raw,
                 std::size_t rawBytes, std::size_t chunkBytes, std::vector<std::byte>& out,
                 std::vector<std::byte>& scratch) {
  out.assign(raw, raw + rawBytes);
  // Filters run in pipeline order when writing, so they are undone last to first.
  for (auto f = pipeline.rbegin(); f != pipeline.rend(); ++f) {
    const auto index = static_cast<unsigned>(pipeline.rend() - f - 1);
    if (skipped >> index & 1u) continue;  // an optional filter that did not shrink this chunk
    switch (f->id) {
      case kBloscFilter:
        unblosc(out.data(), out.size(), scratch);
        break;
      case kLz4Filter:
        unlz4(out.data(), out.size(), scratch);
        break;
      case H5Z_FILTER_DEFLATE:
        inflate(out.data(), out.size(), chunkBytes, scratch);
        break;
      case H5Z_FILTER_SHUFFLE:
        unshuffle(out.data(), out.size(), f->values.empty() ? 1 : f->values[0], scratch);
        break;
      default:
        corrupt(fmt::format("HDF5 filter {} cannot be decoded here", f->id));
    }
    out.swap(scratch);
  }
  if (out.size() != chunkBytes) corrupt(fmt::format("chunk decodes to {} bytes, expected {}", out.size(), chunkBytes));
}

}  // namespace tautrain::io::h5
