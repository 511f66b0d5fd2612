#pragma once
// How the chunks of an HDF5 dataset are compressed (docs/data-format.md#compression). Deflate
// is built into every HDF5 and h5py; zstd (through Blosc) and LZ4 are HDF5 filter plugins,
// which writing and reading both need (Debian: hdf5-filter-plugin-blosc-serial,
// hdf5-filter-plugin). All are lossless; mantissa_bits is the opt-in lossy step before them.
#include <array>

#include "tautrain/core/Names.hpp"

namespace tautrain::io {

enum class Codec { kNone, kDeflate, kZstd, kLz4 };
constexpr std::array<core::Named<Codec>, 4> names(Codec) {
  return {{{Codec::kNone, "none"}, {Codec::kDeflate, "deflate"}, {Codec::kZstd, "zstd"}, {Codec::kLz4, "lz4"}}};
}

struct Compression {
  Codec codec = Codec::kNone;
  int level = 0;  ///< 1..9; 0: the codec's default (deflate 1, zstd 1; LZ4 has none)
  /// 1..22: continuous token features are rounded to this many of fp32's 23 mantissa bits
  /// before the codec (10: fp16's precision, 7: bf16's), so that it finds runs of zero bits.
  /// They stay fp32 in the file. 0: lossless.
  int mantissa_bits = 0;
};

}  // namespace tautrain::io
