#include "tautrain/eval/Scores.hpp"

#include <filesystem>

#include "tautrain/core/Error.hpp"
#include "tautrain/io/Hdf5.hpp"

namespace tautrain::eval {

namespace {
constexpr const char* kFormat = "tautrain-scores";
constexpr std::int64_t kVersion = 1;
constexpr std::uint64_t kChunk = 1 << 16;
constexpr io::Compression kCompression{io::Codec::kDeflate, 1};
}  // namespace

void writeScores(const std::string& path, const ScoreTable& s) {
  const auto n = s.size();
  TAUTRAIN_CHECK(s.probabilities.size() == 4 * n && s.weight.size() == n && s.pt.size() == n && s.eta.size() == n &&
                     s.decay_mode.size() == n,
                 Error, path, ": score columns of different lengths");
  const std::string tmp = path + ".tmp";
  {
    auto f = io::h5::File::create(tmp, path);
    f.writeAttribute("/", "format", kFormat);
    f.writeAttribute("/", "format_version", kVersion);
    f.writeAttribute("/", "classes", std::vector<std::string>{"e", "mu", "tau", "jet"});
    f.writeAttribute("/", "checkpoint", s.checkpoint);
    f.writeAttribute("/", "data", s.data);
    f.createExtendable<float>("/scores", 4, kChunk, kCompression);
    f.createExtendable<std::int64_t>("/label", 0, kChunk, kCompression);
    f.createExtendable<float>("/weight", 0, kChunk, kCompression);
    f.createExtendable<float>("/pt", 0, kChunk, kCompression);
    f.createExtendable<float>("/eta", 0, kChunk, kCompression);
    f.createExtendable<std::int64_t>("/decay_mode", 0, kChunk, kCompression);
    f.appendRows("/scores", s.probabilities.data(), n);
    f.appendRows("/label", s.label.data(), n);
    f.appendRows("/weight", s.weight.data(), n);
    f.appendRows("/pt", s.pt.data(), n);
    f.appendRows("/eta", s.eta.data(), n);
    f.appendRows("/decay_mode", s.decay_mode.data(), n);
    f.flush();
  }
  std::filesystem::rename(tmp, path);
}

ScoreTable readScores(const std::string& path) {
  const auto f = io::h5::File::openRead(path);
  TAUTRAIN_CHECK(f.hasAttribute("/", "format") && f.readStringAttribute("/", "format") == kFormat, DataError, path,
                 ": not a tautrain score file (no format attribute '", kFormat, "')");
  const auto version = f.readIntAttribute("/", "format_version");
  TAUTRAIN_CHECK(version == kVersion, DataError, path, ": score file version ", version, ", this build reads ", kVersion);
  for (const char* column : {"/scores", "/label", "/weight", "/pt", "/eta", "/decay_mode"})
    TAUTRAIN_CHECK(f.exists(column), DataError, path, ": missing dataset ", column);
  ScoreTable s;
  s.probabilities = f.readAll<float>("/scores");
  s.label = f.readWholeNumbers("/label", "candidate");
  s.weight = f.readAll<float>("/weight");
  s.pt = f.readAll<float>("/pt");
  s.eta = f.readAll<float>("/eta");
  s.decay_mode = f.readWholeNumbers("/decay_mode", "candidate");
  const auto n = s.label.size();
  TAUTRAIN_CHECK(f.shape("/scores").size() == 2 && f.shape("/scores")[1] == 4 && s.probabilities.size() == 4 * n &&
                     s.weight.size() == n && s.pt.size() == n && s.eta.size() == n && s.decay_mode.size() == n,
                 DataError, path, ": /scores must be [N, 4] and every other column [N], with the same N");
  for (std::size_t i = 0; i < n; ++i)
    TAUTRAIN_CHECK(s.label[i] >= 0 && s.label[i] < 4, DataError, path, ": candidate ", i, " has label ", s.label[i],
                   " (expected 0 e, 1 mu, 2 tau, 3 jet)");
  s.checkpoint = f.hasAttribute("/", "checkpoint") ? f.readStringAttribute("/", "checkpoint") : "";
  s.data = f.hasAttribute("/", "data") ? f.readStringAttribute("/", "data") : "";
  s.model = std::filesystem::path(path).stem().string();
  return s;
}

}  // namespace tautrain::eval
