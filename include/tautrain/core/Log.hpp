#pragma once
// Named loggers per module, sharing the console sink and the run's log file.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace tautrain::log {

/// Returns the logger of a module ("data", "train", "valid", "dist", "eval", "cli", ...).
std::shared_ptr<spdlog::logger> get(const std::string& name);

/// Sets the level ("trace", "debug", "info", "warn", "error", "off"); throws on an unknown name.
void setLevel(const std::string& level);

/// Tags every line, e.g. "rank 3" in a data-parallel run.
void setTag(const std::string& tag);

/// Adds a log file that receives every logger's output (the run directory's log).
void addFile(const std::string& path);

}  // namespace tautrain::log
