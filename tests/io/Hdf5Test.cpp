#include "tautrain/io/Hdf5.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "support/TestData.hpp"
#include "tautrain/core/Error.hpp"

using namespace tautrain;

namespace {

constexpr std::uint64_t kRows = 1003;  // not a whole number of chunks: the last one is partial
constexpr std::uint64_t kColumns = 7;

/// Continuous values with a few repeats (so that every codec shrinks most chunks).
std::vector<float> features(std::uint64_t count, unsigned seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal;
  std::vector<float> values(count);
  for (auto& v : values) v = random() % 4 == 0 ? 1.0f : normal(random);
  return values;
}

std::vector<std::int64_t> offsets(std::uint64_t count) {
  std::vector<std::int64_t> values(count);
  for (std::uint64_t i = 0; i < count; ++i) values[i] = static_cast<std::int64_t>(i * 17 + i % 5);
  return values;
}

struct Written {
  std::string path;
  std::vector<float> matrix, column;
  std::vector<std::int64_t> index;
};

Written write(const test::TempDir& dir, io::Compression compression, std::uint64_t chunkRows) {
  Written w{dir.file("codec-" + std::to_string(static_cast<int>(compression.codec)) + ".h5"),
            features(kRows * kColumns, 1), features(kRows, 2), offsets(kRows)};
  auto file = io::h5::File::create(w.path);
  file.createExtendable<float>("/matrix", kColumns, chunkRows, compression);
  file.createExtendable<float>("/column", 0, chunkRows, compression);
  file.createExtendable<std::int64_t>("/index", 0, chunkRows, compression);
  // Two appends, the first ending inside a chunk, as shard writers do.
  file.appendRows("/matrix", w.matrix.data(), 150);
  file.appendRows("/matrix", w.matrix.data() + 150 * kColumns, kRows - 150);
  file.appendRows("/column", w.column.data(), kRows);
  file.appendRows("/index", w.index.data(), kRows);
  return w;
}

template <typename T>
std::vector<T> rows(const io::h5::File& file, const std::string& dataset, std::uint64_t begin, std::uint64_t end,
                    std::uint64_t columns) {
  std::vector<T> out((end - begin) * columns);
  file.readRows(dataset, begin, end, out.data());
  return out;
}

template <typename T>
std::vector<T> slice(const std::vector<T>& all, std::uint64_t begin, std::uint64_t end, std::uint64_t columns) {
  return {all.begin() + static_cast<std::ptrdiff_t>(begin * columns),
          all.begin() + static_cast<std::ptrdiff_t>(end * columns)};
}

/// Opens dataset `name` of an existing file for writing with HDF5's own API and hands it to
/// `change`: to make chunks tautrain's writer never makes.
template <typename Change>
void changeDataset(const std::string& path, const char* name, Change change) {
  const std::lock_guard<std::recursive_mutex> lock(io::h5::globalMutex());
  io::h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  io::h5::Handle ds(H5Dopen2(file.id(), name, H5P_DEFAULT), H5Dclose);
  ASSERT_TRUE(ds) << path << name;
  change(ds.id());
}

/// A float dataset written with HDF5's own API, as other programs write them: chunked as
/// `chunk`, with the filters `addFilters` sets on its creation properties.
template <typename AddFilters>
void writeWithHdf5(const std::string& path, const char* name, const std::vector<hsize_t>& dims,
                   const std::vector<hsize_t>& chunk, AddFilters addFilters, const std::vector<float>& values) {
  const std::lock_guard<std::recursive_mutex> lock(io::h5::globalMutex());
  io::h5::Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  io::h5::Handle props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(props.id(), static_cast<int>(chunk.size()), chunk.data());
  addFilters(props.id());
  io::h5::Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  io::h5::Handle ds(H5Dcreate2(file.id(), name, H5T_IEEE_F32LE, space.id(), H5P_DEFAULT, props.id(), H5P_DEFAULT),
                    H5Dclose);
  ASSERT_TRUE(ds);
  ASSERT_GE(H5Dwrite(ds.id(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
}

const io::Compression kCodecs[] = {{io::Codec::kDeflate, 1}, {io::Codec::kZstd, 1}, {io::Codec::kLz4, 0}};

}  // namespace

TEST(Hdf5, CompressedChunksDecodedOutsideTheLockGiveWhatWasWritten) {
  test::TempDir dir;
  // Ranges inside one chunk, across chunks, from the start, into the partial last chunk, empty.
  const std::pair<std::uint64_t, std::uint64_t> ranges[] = {{0, kRows}, {3, 9},       {60, 70},   {64, 128},
                                                            {0, 1},     {997, kRows}, {500, 500}, {129, 900}};
  for (const auto& compression : kCodecs) {
    SCOPED_TRACE(core::nameOf(compression.codec));
    const auto w = write(dir, compression, 64);
    const auto file = io::h5::File::openRead(w.path);
    EXPECT_TRUE(file.decodesOutsideLock<float>("/matrix"));
    EXPECT_TRUE(file.decodesOutsideLock<std::int64_t>("/index"));
    for (const auto& [begin, end] : ranges) {
      SCOPED_TRACE(testing::Message() << "rows " << begin << ".." << end);
      EXPECT_EQ(rows<float>(file, "/matrix", begin, end, kColumns), slice(w.matrix, begin, end, kColumns));
      EXPECT_EQ(rows<float>(file, "/column", begin, end, 1), slice(w.column, begin, end, 1));
      EXPECT_EQ(rows<std::int64_t>(file, "/index", begin, end, 1), slice(w.index, begin, end, 1));
    }
  }
}

TEST(Hdf5, AChunkStoredWithItsFiltersSkippedIsReadAsStored) {
  // HDF5 skips an optional filter that fails on a chunk and marks it in the chunk's filter mask;
  // other writers (and other plugin versions) do. Such a chunk, written here directly.
  test::TempDir dir;
  for (const auto& compression : kCodecs) {
    SCOPED_TRACE(core::nameOf(compression.codec));
    auto w = write(dir, compression, 64);
    std::vector<float> stored(64);
    for (std::size_t i = 0; i < stored.size(); ++i) stored[i] = 0.25f * static_cast<float>(i) - 3.0f;
    ASSERT_NO_FATAL_FAILURE(changeDataset(w.path, "/column", [&](hid_t ds) {
      const hsize_t offset[1] = {192};
      ASSERT_GE(H5Dwrite_chunk(ds, H5P_DEFAULT, ~0u, offset, stored.size() * sizeof(float), stored.data()), 0);
    }));
    std::copy(stored.begin(), stored.end(), w.column.begin() + 192);
    const auto file = io::h5::File::openRead(w.path);
    ASSERT_TRUE(file.decodesOutsideLock<float>("/column"));
    EXPECT_EQ(rows<float>(file, "/column", 150, 300, 1), slice(w.column, 150, 300, 1));
    const io::h5::ScopedChunkDecoding throughHdf5(io::h5::ChunkDecoding::kThroughHdf5);
    EXPECT_EQ(rows<float>(file, "/column", 150, 300, 1), slice(w.column, 150, 300, 1)) << "HDF5 reads it so too";
  }
}

TEST(Hdf5, AReadOfMoreChunksThanOneFetchHoldsIsFetchedAndDecodedInTurns) {
  // 3 M random floats: about 11 MB compressed, more than one fetch (8 MB) gathers.
  test::TempDir dir;
  const auto path = dir.file("large.h5");
  std::mt19937 random(4);
  std::uniform_real_distribution<float> uniform(-1, 1);
  std::vector<float> values(3'000'000);
  for (auto& v : values) v = uniform(random);
  {
    auto file = io::h5::File::create(path);
    file.createExtendable<float>("/column", 0, 4096, {io::Codec::kZstd, 1});
    file.appendRows("/column", values.data(), values.size());
  }
  ASSERT_GT(std::filesystem::file_size(path), 9u << 20);
  const auto file = io::h5::File::openRead(path);
  EXPECT_EQ(file.readAll<float>("/column"), values);
  EXPECT_EQ(rows<float>(file, "/column", 1'234'567, 2'999'999, 1), slice(values, 1'234'567, 2'999'999, 1));
}

TEST(Hdf5, RowsWhoseChunksWereNeverWrittenReadAsHdf5FillsThem) {
  test::TempDir dir;
  for (const auto& compression : kCodecs) {
    SCOPED_TRACE(core::nameOf(compression.codec));
    auto w = write(dir, compression, 64);
    // Extended without writing: the chunks past row kRows do not exist; HDF5 reads them as 0.
    ASSERT_NO_FATAL_FAILURE(changeDataset(w.path, "/column", [](hid_t ds) {
      const hsize_t extent[1] = {kRows + 300};
      ASSERT_GE(H5Dset_extent(ds, extent), 0);
    }));
    w.column.resize(kRows + 300, 0.0f);
    const auto file = io::h5::File::openRead(w.path);
    EXPECT_EQ(rows<float>(file, "/column", 900, kRows + 300, 1), slice(w.column, 900, kRows + 300, 1));
    EXPECT_EQ(rows<float>(file, "/column", kRows + 100, kRows + 200, 1), std::vector<float>(100, 0.0f));
  }
}

TEST(Hdf5, OutsideTheLockAndThroughHdf5ReadTheSameValues) {
  test::TempDir dir;
  for (const auto& compression : kCodecs) {
    SCOPED_TRACE(core::nameOf(compression.codec));
    const auto w = write(dir, compression, 100);
    const auto file = io::h5::File::openRead(w.path);
    const auto outside = rows<float>(file, "/matrix", 37, 811, kColumns);
    const io::h5::ScopedChunkDecoding throughHdf5(io::h5::ChunkDecoding::kThroughHdf5);
    EXPECT_FALSE(file.decodesOutsideLock<float>("/matrix"));
    EXPECT_EQ(rows<float>(file, "/matrix", 37, 811, kColumns), outside);
  }
}

TEST(Hdf5, ChunksOfSeveralColumnsAsOtherWritersMakeThemAreDecodedOutsideTheLock) {
  // h5py's habit: 2-D chunks of whole rows, or of a few columns (here 3 of 7: the last chunk
  // of each row range holds one real column), deflated.
  test::TempDir dir;
  const auto values = features(kRows * kColumns, 5);
  for (const hsize_t chunkColumns : {hsize_t{kColumns}, hsize_t{3}}) {
    SCOPED_TRACE(testing::Message() << chunkColumns << " columns per chunk");
    const auto path = dir.file("rows.h5");
    ASSERT_NO_FATAL_FAILURE(writeWithHdf5(
        path, "/matrix", {kRows, kColumns}, {50, chunkColumns},
        [](hid_t props) {
          H5Pset_shuffle(props);
          H5Pset_deflate(props, 4);
        },
        values));
    const auto file = io::h5::File::openRead(path);
    EXPECT_TRUE(file.decodesOutsideLock<float>("/matrix"));
    EXPECT_EQ(rows<float>(file, "/matrix", 0, kRows, kColumns), values);
    EXPECT_EQ(rows<float>(file, "/matrix", 49, 151, kColumns), slice(values, 49, 151, kColumns));
  }
}

TEST(Hdf5, ReadsThatConvertTypesOrUseOtherFiltersGoThroughHdf5) {
  test::TempDir dir;
  const auto w = write(dir, {io::Codec::kZstd, 1}, 64);
  const auto path = dir.file("fletcher.h5");
  // A checksum filter tautrain does not write, as another program might.
  ASSERT_NO_FATAL_FAILURE(writeWithHdf5(
      path, "/column", {kRows}, {64},
      [](hid_t props) {
        H5Pset_fletcher32(props);
        H5Pset_deflate(props, 1);
      },
      w.column));
  const auto fletcher = io::h5::File::openRead(path);
  EXPECT_FALSE(fletcher.decodesOutsideLock<float>("/column"));
  EXPECT_EQ(rows<float>(fletcher, "/column", 10, 300, 1), slice(w.column, 10, 300, 1));

  const auto file = io::h5::File::openRead(w.path);
  EXPECT_FALSE(file.decodesOutsideLock<double>("/column")) << "float32 read as float64 needs HDF5's conversion";
  const auto wide = rows<double>(file, "/column", 5, 70, 1);
  for (std::size_t i = 0; i < wide.size(); ++i) EXPECT_EQ(wide[i], static_cast<double>(w.column[5 + i]));
}

TEST(Hdf5, ACorruptChunkIsAnErrorNamingTheFileDatasetAndRow) {
  test::TempDir dir;
  for (const auto& compression : kCodecs) {
    SCOPED_TRACE(core::nameOf(compression.codec));
    const auto w = write(dir, compression, 64);
    // Overwrite the chunk at row 128 with bytes no codec produced, marked as filtered.
    ASSERT_NO_FATAL_FAILURE(changeDataset(w.path, "/column", [](hid_t ds) {
      const std::vector<unsigned char> garbage(40, 0xAB);
      const hsize_t offset[1] = {128};
      ASSERT_GE(H5Dwrite_chunk(ds, H5P_DEFAULT, 0, offset, garbage.size(), garbage.data()), 0);
    }));
    const auto file = io::h5::File::openRead(w.path);
    EXPECT_EQ(rows<float>(file, "/column", 0, 128, 1), slice(w.column, 0, 128, 1)) << "other chunks are intact";
    try {
      rows<float>(file, "/column", 100, 200, 1);
      ADD_FAILURE() << "a corrupt chunk was read";
    } catch (const DataError& e) {
      test::expectMentions(e.what(), {w.path, "'/column'", "chunk at row 128", "corrupt"});
    }
  }
}

TEST(Hdf5, ThreadsReadingTheSameFileAtOnceGetTheirOwnRows) {
  test::TempDir dir;
  const auto w = write(dir, {io::Codec::kZstd, 1}, 32);
  const auto file = io::h5::File::openRead(w.path);
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t begin = t; begin + 50 <= kRows; begin += 37)
        if (rows<float>(file, "/matrix", begin, begin + 50, kColumns) != slice(w.matrix, begin, begin + 50, kColumns))
          ++wrong[t];
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}
