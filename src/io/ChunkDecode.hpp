#pragma once
// Undoes the filters of a chunk read raw (H5Dread_chunk), without HDF5: so that decoding runs
// outside HDF5's global lock, in every loader thread at once. Knows the filters tautrain writes
// (shuffle, deflate, Blosc, LZ4); a dataset with any other filter is read through HDF5.
#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tautrain::io::h5 {

// Registered numbers of the plugin filters tautrain writes
// (https://github.com/HDFGroup/hdf5_plugins/blob/master/docs/RegisteredFilterPlugins.md).
constexpr H5Z_filter_t kBloscFilter = 32001;
constexpr H5Z_filter_t kLz4Filter = 32004;

struct ChunkFilter {
  H5Z_filter_t id = 0;
  std::vector<unsigned> values;  ///< the filter's client data (shuffle: the element size)
};

/// Whether decodeChunk knows every filter of the pipeline.
bool canDecodeOutsideHdf5(const std::vector<ChunkFilter>& pipeline);

/// Decodes `raw` (a chunk as stored, `skipped`: H5Dread_chunk's mask of filters not applied)
/// into `out`, which must come out exactly `chunkBytes` long. `scratch` is reused between calls.
/// A chunk that does not decode is a DataError saying what is wrong (the caller adds where).
void decodeChunk(const std::vector<ChunkFilter>& pipeline, std::uint32_t skipped, const std::byte* raw,
                 std::size_t rawBytes, std::size_t chunkBytes, std::vector<std::byte>& out,
                 std::vector<std::byte>& scratch);

}  // namespace tautrain::io::h5
