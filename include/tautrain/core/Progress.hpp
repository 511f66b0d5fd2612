#pragma once
// Progress of long work: rate and ETA, logged at most every `interval` seconds.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace tautrain {

class ProgressMeter {
 public:
  ProgressMeter(std::shared_ptr<spdlog::logger> logger, std::string what, std::int64_t total,
                std::string unit = "candidates", double interval = 5.0);
  /// Reports `done` units finished; logs when the interval has passed or the work is complete.
  void update(std::int64_t done);
  /// For work whose size is known only once it has started (the batches of a loader's epoch).
  void setTotal(std::int64_t total) { m_total = total; }
  double elapsedSeconds() const;
  double rate() const;

 private:
  using Clock = std::chrono::steady_clock;
  std::shared_ptr<spdlog::logger> m_logger;
  std::string m_what, m_unit;
  std::int64_t m_total, m_done = 0;
  double m_interval;
  Clock::time_point m_start = Clock::now(), m_lastLog = Clock::now();
};

/// "1h02m", "3m05s", "12s".
std::string formatDuration(double seconds);

}  // namespace tautrain
