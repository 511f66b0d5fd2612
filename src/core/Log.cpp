#include "tautrain/core/Log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>
#include <vector>

#include "tautrain/core/Error.hpp"

namespace tautrain::log {
namespace {

struct Registry {
  std::mutex mutex;
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  spdlog::level::level_enum level = spdlog::level::info;
  std::string pattern = "[%Y-%m-%d %H:%M:%S] [%n] [%^%l%$] %v";
};

Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace

std::shared_ptr<spdlog::logger> get(const std::string& name) {
  auto& reg = registry();
  std::lock_guard lock(reg.mutex);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, reg.sinks.begin(), reg.sinks.end());
  logger->set_level(reg.level);
  logger->set_pattern(reg.pattern);
  spdlog::register_logger(logger);
  return logger;
}

void setLevel(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  // spdlog maps unknown names to "off"; only an explicit "off" may mean off.
  TAUTRAIN_CHECK_KEY(parsed != spdlog::level::off || level == "off", "--log-level",
                 "unknown log level '", level, "' (trace, debug, info, warn, error, off)");
  auto& reg = registry();
  std::lock_guard lock(reg.mutex);
  reg.level = parsed;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(reg.level); });
}

void setTag(const std::string& tag) {
  auto& reg = registry();
  std::lock_guard lock(reg.mutex);
  reg.pattern = "[%Y-%m-%d %H:%M:%S] [" + tag + "] [%n] [%^%l%$] %v";
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_pattern(reg.pattern); });
}

void addFile(const std::string& path) {
  auto& reg = registry();
  std::lock_guard lock(reg.mutex);
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
  reg.sinks.push_back(sink);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->sinks().push_back(sink); });
}

}  // namespace tautrain::log
