#include "tautrain/io/Csv.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "tautrain/core/Error.hpp"

namespace tautrain::io {

namespace {

std::vector<std::string> splitLine(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream stream(line);
  for (std::string cell; std::getline(stream, cell, ',');) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

}  // namespace

std::size_t CsvTable::column(const std::string& name) const {
  const auto found = std::find(header.begin(), header.end(), name);
  TAUTRAIN_CHECK(found != header.end(), DataError, path, ": no column '", name, "'");
  return static_cast<std::size_t>(found - header.begin());
}

double CsvTable::number(std::size_t row, std::size_t column) const {
  const auto& cell = rows[row][column];
  try {
    std::size_t used = 0;
    const double value = std::stod(cell, &used);
    if (used == cell.size()) return value;
  } catch (const std::exception&) {
    // not a number: the error below names where
  }
  throw DataError(path + ":" + std::to_string(lines[row]) + ": column '" + header[column] + "': '" + cell +
                  "' is not a number");
}

CsvTable readCsv(const std::string& path) {
  std::ifstream in(path);
  TAUTRAIN_CHECK(in, DataError, path, ": cannot read");
  CsvTable table;
  table.path = path;
  std::string line;
  TAUTRAIN_CHECK(std::getline(in, line), DataError, path, ": empty file");
  table.header = splitLine(line);
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    auto cells = splitLine(line);
    TAUTRAIN_CHECK(cells.size() == table.header.size(), DataError, path, ":", number, ": ", cells.size(),
                   " cells, the header has ", table.header.size());
    table.rows.push_back(std::move(cells));
    table.lines.push_back(number);
  }
  return table;
}

}  // namespace tautrain::io
