#pragma once
// Atomic file writes and JSON files with errors that name the file.
#include <nlohmann/json.hpp>

#include <string>

namespace tautrain::io {

/// Writes PATH.tmp, fsyncs it and renames it over PATH: readers see the old or the new
/// file, never a partial one.
void writeFileAtomic(const std::string& path, const std::string& content);

void writeJson(const std::string& path, const nlohmann::json& value);
nlohmann::json readJson(const std::string& path);

}  // namespace tautrain::io
