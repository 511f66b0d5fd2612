#include "tautrain/core/Allocator.hpp"

#include <malloc.h>

namespace tautrain {

void keepFreedMemory() {
  mallopt(M_MMAP_MAX, 0);               // no per-allocation mmap: big blocks come from the heap
  mallopt(M_TRIM_THRESHOLD, -1);        // and freeing never hands pages back (-1: no trimming)
  mallopt(M_TOP_PAD, 64 << 20);         // grow the heap in large steps
}

}  // namespace tautrain
