#pragma once
// Plain comma-separated tables (no quoting): what tautrain writes and reads back.
#include <string>
#include <vector>

namespace tautrain::io {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  ///< each as wide as the header
  std::vector<int> lines;                      ///< file line of each row, for errors
  /// Index of a header column; a DataError naming the file when absent.
  std::size_t column(const std::string& name) const;
  /// Cell (row, column) as a number; a DataError naming file, line and column when it is not.
  double number(std::size_t row, std::size_t column) const;
  std::string path;
};

/// Reads a CSV with a header line; blank lines are skipped, a row of another width is a
/// DataError naming file and line.
CsvTable readCsv(const std::string& path);

}  // namespace tautrain::io
