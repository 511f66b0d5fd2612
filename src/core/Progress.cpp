#include "tautrain/core/Progress.hpp"

#include <cmath>
#include <cstdio>

namespace tautrain {

ProgressMeter::ProgressMeter(std::shared_ptr<spdlog::logger> logger, std::string what, std::int64_t total,
                             std::string unit, double interval)
    : m_logger(std::move(logger)), m_what(std::move(what)), m_unit(std::move(unit)), m_total(total), m_interval(interval) {}

double ProgressMeter::elapsedSeconds() const { return std::chrono::duration<double>(Clock::now() - m_start).count(); }

double ProgressMeter::rate() const {
  const double seconds = elapsedSeconds();
  return seconds > 0 ? m_done / seconds : 0.0;
}

void ProgressMeter::update(std::int64_t done) {
  m_done = done;
  const auto now = Clock::now();
  const bool finished = done >= m_total;
  if (!finished && std::chrono::duration<double>(now - m_lastLog).count() < m_interval) return;
  m_lastLog = now;
  const double r = rate();
  const double eta = r > 0 ? (m_total - done) / r : 0.0;
  // Slow rates (training steps) need decimals; fast ones (candidates) do not.
  const std::string rateText = r >= 100 ? fmt::format("{:.0f}", r) : fmt::format("{:.2f}", r);
  m_logger->info("{}: {}/{} {} ({:.1f}%), {} {}/s, {} {}", m_what, done, m_total, m_unit,
                 m_total > 0 ? 100.0 * done / m_total : 100.0, rateText, m_unit, finished ? "took" : "ETA",
                 formatDuration(finished ? elapsedSeconds() : eta));
}

std::string formatDuration(double seconds) {
  char text[32];
  const auto s = static_cast<long long>(std::llround(seconds));
  if (s >= 3600) std::snprintf(text, sizeof(text), "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  else if (s >= 60) std::snprintf(text, sizeof(text), "%lldm%02llds", s / 60, s % 60);
  else std::snprintf(text, sizeof(text), "%.1fs", seconds);
  return text;
}

}  // namespace tautrain
