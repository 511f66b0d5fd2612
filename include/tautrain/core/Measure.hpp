#pragma once
// Measuring: one stopwatch and one median for the training log and every benchmark.
#include <algorithm>
#include <chrono>
#include <vector>

namespace tautrain {

using SteadyClock = std::chrono::steady_clock;

/// Seconds from `start` until now.
inline double secondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

/// The upper median (an element of `values`, so a timing median is a run that happened); 0 for none.
inline double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2), values.end());
  return values[values.size() / 2];
}

}  // namespace tautrain
