#pragma once

namespace tautrain {

/// Makes glibc keep freed memory for reuse instead of returning it to the kernel. Large
/// tensors and loader windows are allocated and freed every step; with glibc's defaults each
/// comes from fresh pages, and on virtual machines a page fault costs ~10 us, which made
/// elementwise ops on 45 MB tensors 50x slower. Training's working set is steady, so keeping
/// it costs nothing. Call once at process start.
void keepFreedMemory();

}  // namespace tautrain
