#include "tautrain/io/PageCache.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "tautrain/core/Error.hpp"

namespace tautrain::io {

namespace {

class Fd {
 public:
  explicit Fd(const std::string& path) : m_fd(::open(path.c_str(), O_RDONLY)) {
    TAUTRAIN_CHECK(m_fd >= 0, DataError, path, ": cannot open: ", std::strerror(errno));
  }
  ~Fd() { ::close(m_fd); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return m_fd; }

 private:
  int m_fd;
};

}  // namespace

double cachedFraction(const std::string& path) {
  const Fd fd(path);
  struct stat st {};
  TAUTRAIN_CHECK(::fstat(fd.get(), &st) == 0, DataError, path, ": cannot stat: ", std::strerror(errno));
  if (st.st_size == 0) return 0;
  void* map = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_SHARED, fd.get(), 0);
  TAUTRAIN_CHECK(map != MAP_FAILED, DataError, path, ": cannot map: ", std::strerror(errno));
  const long page = ::sysconf(_SC_PAGESIZE);
  std::vector<unsigned char> resident(static_cast<std::size_t>((st.st_size + page - 1) / page));
  const int rc = ::mincore(map, static_cast<std::size_t>(st.st_size), resident.data());
  ::munmap(map, static_cast<std::size_t>(st.st_size));
  TAUTRAIN_CHECK(rc == 0, DataError, path, ": mincore failed: ", std::strerror(errno));
  std::size_t cached = 0;
  for (unsigned char r : resident) cached += r & 1u;
  return static_cast<double>(cached) / static_cast<double>(resident.size());
}

double evictFromPageCache(const std::string& path) {
  {
    const Fd fd(path);
    // Dirty pages cannot be evicted: a freshly written shard is written back first.
    TAUTRAIN_CHECK(::fdatasync(fd.get()) == 0, DataError, path, ": fdatasync failed: ", std::strerror(errno));
    const int rc = ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
    TAUTRAIN_CHECK(rc == 0, DataError, path, ": posix_fadvise failed: ", std::strerror(rc));
  }
  return cachedFraction(path);
}

std::int64_t bytesReadFromStorage() {
  std::ifstream in("/proc/self/io");
  std::string key;
  std::int64_t value = 0;
  while (in >> key >> value)
    if (key == "read_bytes:") return value;
  return -1;
}

}  // namespace tautrain::io
