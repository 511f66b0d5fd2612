#pragma once
// Per-candidate classifier outputs with what evaluation selects on: the score file
// (docs/data-format.md), written by `tautrain evaluate` and read by `tautrain roc`, so that
// scores from other tools can be evaluated the same way.
#include <cstdint>
#include <string>
#include <vector>

namespace tautrain::eval {

struct ScoreTable {
  std::vector<float> probabilities;  ///< [n, 4] softmax outputs e, mu, tau, jet
  std::vector<std::int64_t> label;   ///< 0 e, 1 mu, 2 tau, 3 jet
  std::vector<float> weight, pt, eta;
  std::vector<std::int64_t> decay_mode;  ///< generator decay mode, -1 for non-taus
  std::string model;                     ///< name the tables use (checkpoint or file stem)
  std::string checkpoint, data;          ///< provenance

  std::size_t size() const { return label.size(); }
};

/// Writes atomically (temporary file, then rename).
void writeScores(const std::string& path, const ScoreTable& scores);
/// Validates format, shapes and labels; errors name the file. `model` is set to the stem.
ScoreTable readScores(const std::string& path);

}  // namespace tautrain::eval
