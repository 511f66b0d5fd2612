#include "tautrain/core/Allocator.hpp"

#include <dlfcn.h>
#include <malloc.h>

#include <cstddef>
#include <string>

#ifdef TAUTRAIN_WITH_JEMALLOC
// Read by jemalloc when it starts, before main. Huge pages: a 500 MB tensor is 250 faults, not
// 125 000; the dirty decay (10 s) keeps freed extents for the next steps and returns the rest.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "thp:always,metadata_thp:auto";
}
#endif

namespace tautrain {

namespace {

using Mallctl = int (*)(const char*, void*, std::size_t*, void*, std::size_t);

/// jemalloc's control function when jemalloc is the process's allocator (linked or preloaded).
Mallctl jemallocControl() { return reinterpret_cast<Mallctl>(::dlsym(RTLD_DEFAULT, "mallctl")); }

}  // namespace

void configureAllocator() {
  if (jemallocControl()) return;  // configured by malloc_conf
  mallopt(M_MMAP_MAX, 0);         // no per-allocation mmap: big blocks come from the heap
  mallopt(M_TRIM_THRESHOLD, -1);  // and freeing never hands pages back (-1: no trimming)
  mallopt(M_TOP_PAD, 64 << 20);   // grow the heap in large steps
}

std::string allocatorName() {
  const auto control = jemallocControl();
  if (!control) return "glibc";
  const auto text = [&](const char* name) {
    const char* value = nullptr;
    std::size_t size = sizeof value;
    return control(name, &value, &size, nullptr, 0) == 0 && value ? std::string(value) : std::string("?");
  };
  return "jemalloc " + text("version") + " (thp: " + text("opt.thp") + ")";
}

}  // namespace tautrain
