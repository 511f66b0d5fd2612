#include "tautrain/deploy/Parity.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "tautrain/config/RunConfig.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/deploy/Runtime.hpp"
#include "tautrain/eval/Discriminant.hpp"
#include "tautrain/train/Checkpoint.hpp"
#include "tautrain/train/Scoring.hpp"

namespace tautrain::deploy {

namespace {

void compare(Difference& d, float a, float b, std::int64_t candidate) {
  const double diff = std::abs(static_cast<double>(a) - static_cast<double>(b));
  const double scale = std::max(std::abs(static_cast<double>(a)), std::abs(static_cast<double>(b)));
  // NaN on either side is the largest difference there is.
  if (std::isnan(diff) || diff > d.max_abs) {
    d.max_abs = std::isnan(diff) ? std::numeric_limits<double>::infinity() : diff;
    d.worst = candidate;
  }
  if (scale > 0) d.max_rel = std::max(d.max_rel, std::isnan(diff) ? std::numeric_limits<double>::infinity() : diff / scale);
}

}  // namespace

double ParityReport::maxAbs() const {
  double m = 0;
  for (const auto& d : classes) m = std::max(m, d.max_abs);
  for (const auto& d : discriminants) m = std::max(m, d.max_abs);
  return m;
}

std::string ParityReport::text() const {
  std::ostringstream out;
  out << "LibTorch vs " << runtime << " on " << candidates << " candidates (graph inputs padded " << extra_padding
      << " rows beyond the longest, with NaN)\n";
  out << "output      max |diff|    max rel diff  worst candidate  working-point flips\n";
  const auto row = [&](const std::string& name, const Difference& d, const std::string& flips) {
    char line[160];
    std::snprintf(line, sizeof line, "%-10s  %-12.3g  %-12.3g  %-15lld  %s\n", name.c_str(), d.max_abs, d.max_rel,
                  static_cast<long long>(d.worst), flips.c_str());
    out << line;
  };
  for (int c = 0; c < data::kNumClasses; ++c) row(std::string("p_") + data::kClassNames[c], classes[c], "-");
  for (int d = 0; d < 3; ++d) row(eval::kDiscriminantNames[d], discriminants[d], std::to_string(flipped[d]));
  return out.str();
}

ParityReport compareWithOnnxRuntime(const std::string& checkpoint, const std::string& onnxPath,
                                    const std::vector<std::string>& shards, std::int64_t extraPadding) {
  // The data must fit the checkpoint's schema before anything is scored.
  const auto state = train::readCheckpointState(checkpoint);
  const auto run = config::parseRunConfig(state.config_yaml, checkpoint);
  const auto schema = data::FeatureSchema::fromSpec(run.data.features);
  const data::Dataset dataset(data::expandPaths(shards), schema, data::readOptions(run.data));
  OnnxRuntimeModel runtime(onnxPath);
  const auto torchScores = train::scoreCheckpoint(checkpoint, shards, "cpu");
  bool capped = false;
  for (const auto& [name, cap] : run.data.pruning.max_tokens) capped = capped || cap > 0;
  const data::TokenPruner pruner(schema, run.data.pruning, run.seed);

  const auto n = static_cast<std::size_t>(dataset.size());
  std::vector<float> probabilities(4 * n), discriminants(3 * n);
  constexpr std::int64_t kChunk = 1000;
  for (std::size_t s = 0; s < dataset.shardCount(); ++s) {
    const auto& shard = dataset.shard(s);
    for (std::int64_t begin = 0; begin < shard.size(); begin += kChunk) {
      const auto end = std::min(shard.size(), begin + kChunk);
      const auto first = dataset.shardStart(s) + begin;
      const auto outputs = runtime.run(graphInputs(schema, shard.read(begin, end), capped ? &pruner : nullptr, first,
                                                   extraPadding, std::numeric_limits<float>::quiet_NaN()));
      std::copy(outputs.probabilities.begin(), outputs.probabilities.end(), probabilities.begin() + 4 * first);
      std::copy(outputs.discriminants.begin(), outputs.discriminants.end(), discriminants.begin() + 3 * first);
    }
  }

  ParityReport report;
  report.runtime = OnnxRuntimeModel::version();
  report.candidates = static_cast<std::int64_t>(n);
  report.extra_padding = extraPadding;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t c = 0; c < 4; ++c)
      compare(report.classes[c], torchScores.probabilities[4 * i + c], probabilities[4 * i + c],
              static_cast<std::int64_t>(i));
    for (std::size_t d = 0; d < 3; ++d)
      compare(report.discriminants[d], eval::discriminantScore(torchScores.probabilities, i, eval::kBackgrounds[d]),
              discriminants[3 * i + d], static_cast<std::int64_t>(i));
  }
  for (std::size_t d = 0; d < 3; ++d) {
    const auto in = eval::discriminantInput(torchScores.probabilities, torchScores.label, eval::kBackgrounds[d],
                                            torchScores.weight);
    const auto curve = eval::rocCurve(in.score, in.signal, in.weight);
    for (const auto& wp : eval::kWorkingPoints) {
      if (wp.tpr[d] <= 0 || curve.signal <= 0 || curve.background <= 0) continue;
      const double threshold = eval::pointAtTpr(curve, wp.tpr[d]).threshold;
      for (std::size_t k = 0; k < in.rows.size(); ++k)
        report.flipped[d] += (in.score[k] >= threshold) != (discriminants[3 * in.rows[k] + d] >= threshold);
    }
  }
  return report;
}

}  // namespace tautrain::deploy
