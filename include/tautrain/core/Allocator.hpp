#pragma once

#include <string>

namespace tautrain {

/// Training allocates and frees tensors of up to gigabytes every step (attention grows with the
/// square of a batch's length). Fresh pages cost ~10 us a fault on virtual machines, so freed
/// memory must be reused; glibc's heap, told to keep it, fragments between batches of other
/// lengths (a quickstart training peaked at 7 GB RSS for 2.7 GB of live tensors). tautrain
/// links jemalloc, configured at its start (malloc_conf in Allocator.cpp) to back its extents
/// with transparent huge pages and to hand unused ones back after its default decay.
/// A build without jemalloc (TAUTRAIN_JEMALLOC=OFF) makes glibc keep freed memory instead.
/// Call once at process start.
void configureAllocator();

/// "jemalloc 5.3.0-0-g54ea… (thp: always)", or "glibc": what benchmarks record beside their figures.
std::string allocatorName();

}  // namespace tautrain
