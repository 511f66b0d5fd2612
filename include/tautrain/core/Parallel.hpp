#pragma once
// Independent tasks spread over a few threads, with errors carried back to the caller.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace tautrain {

/// Runs task(i) for every i in [0, count) on up to `threads` threads (at least one). Once a task
/// throws no new task starts; when all threads have stopped the first exception is rethrown.
template <class Task>
void parallelFor(std::size_t count, int threads, Task task) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr failure;
  std::mutex mutex;
  const auto work = [&] {
    for (std::size_t i; !failed && (i = next++) < count;) {
      try {
        task(i);
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!failure) failure = std::current_exception();
        failed = true;
      }
    }
  };
  const auto n = std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), count));
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < n; ++t) pool.emplace_back(work);
  for (auto& thread : pool) thread.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace tautrain
