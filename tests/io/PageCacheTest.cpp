#include "tautrain/io/PageCache.hpp"

#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/vfs.h>

#include <fstream>
#include <vector>

#include "support/TestData.hpp"

using namespace tautrain;

TEST(PageCache, AnEvictedFileIsReadFromStorageAgain) {
  test::TempDir dir;
  const auto path = dir.file("pages.bin");
  const std::vector<char> bytes(8 << 20, 'x');
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  struct statfs fs {};
  ASSERT_EQ(::statfs(path.c_str(), &fs), 0);
  if (fs.f_type == TMPFS_MAGIC) GTEST_SKIP() << "a tmpfs file lives in the page cache";
  if (io::bytesReadFromStorage() < 0) GTEST_SKIP() << "no /proc/self/io here";

  EXPECT_GT(io::cachedFraction(path), 0.9) << "just written";
  EXPECT_LT(io::evictFromPageCache(path), 0.1);
  const auto before = io::bytesReadFromStorage();
  std::vector<char> back(bytes.size());
  std::ifstream(path, std::ios::binary).read(back.data(), static_cast<std::streamsize>(back.size()));
  EXPECT_EQ(back, bytes);
  EXPECT_GE(io::bytesReadFromStorage() - before, static_cast<std::int64_t>(bytes.size()) * 9 / 10);
  EXPECT_GT(io::cachedFraction(path), 0.9) << "read again";
}

TEST(PageCache, AMissingFileIsAnErrorNamingIt) {
  try {
    io::evictFromPageCache("/nonexistent/shard.h5");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/shard.h5"), std::string::npos) << e.what();
  }
}
