#pragma once
// Small text helpers for the line-oriented formats tautrain reads (job ads, device lists).
#include <string>

namespace tautrain {

/// `text` without leading and trailing spaces, tabs and carriage returns.
inline std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

}  // namespace tautrain
