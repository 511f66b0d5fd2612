#include "tautrain/data/Summary.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tautrain/core/Parallel.hpp"

namespace tautrain::data {

namespace {
double quantile(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[static_cast<std::size_t>(std::min<double>(sorted.size() - 1, std::floor(q * sorted.size())))];
}
}  // namespace

DatasetSummary summarize(const Dataset& dataset) {
  DatasetSummary s;
  s.candidates = dataset.size();
  s.class_counts = dataset.classCounts();
  const auto& schema = dataset.schema();
  std::vector<double> totals, pts;
  totals.reserve(s.candidates);
  pts.reserve(s.candidates);
  std::vector<double> perCollection(schema.collections.size(), 0.0);
  for (std::size_t k = 0; k < dataset.shardCount(); ++k) {
    const auto& shard = dataset.shard(k);
    for (std::int64_t i = 0; i < shard.size(); ++i) totals.push_back(static_cast<double>(shard.tokenCount(i)));
    for (std::size_t c = 0; c < schema.collections.size(); ++c) perCollection[c] += shard.tokens(c).rows();
    for (std::int64_t begin = 0; begin < shard.size(); begin += 65536) {
      const auto end = std::min(shard.size(), begin + 65536);
      const auto part = shard.readCandidates(begin, end);
      for (std::int64_t i = 0; i < end - begin; ++i) {
        if (std::isfinite(part.pt[i])) pts.push_back(part.pt[i]);  // NaN/Inf are reported separately
        s.abs_eta_max = std::max(s.abs_eta_max, std::abs(part.eta[i]));
        if (part.label[i] == kTau) ++s.tau_decay_modes[part.decay_mode[i]];
      }
    }
  }
  for (std::size_t c = 0; c < schema.collections.size(); ++c)
    s.mean_tokens[schema.collections[c].name] = s.candidates ? perCollection[c] / s.candidates : 0.0;
  if (!totals.empty()) {
    double sum = 0;
    for (double t : totals) sum += t;
    s.tokens_mean = sum / totals.size();
    std::sort(totals.begin(), totals.end());
    s.tokens_median = quantile(totals, 0.5);
    s.tokens_p99 = quantile(totals, 0.99);
    s.tokens_max = totals.back();
  }
  if (!pts.empty()) {
    std::sort(pts.begin(), pts.end());
    s.pt_min = static_cast<float>(pts.front());
    s.pt_max = static_cast<float>(pts.back());
    s.pt_median = static_cast<float>(quantile(pts, 0.5));
  }
  return s;
}

namespace {

/// Counts the non-finite values of `values` ([rows, columns]) into found[0..columns);
/// `candidateOf` maps a row to its candidate within the file.
template <class CandidateOf>
void countNonFinite(const float* values, std::int64_t rows, int columns, CandidateOf candidateOf,
                    NonFiniteFeature* found) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (int c = 0; c < columns; ++c)
      if (!std::isfinite(values[r * columns + c]) && found[c].count++ == 0) found[c].first_candidate = candidateOf(r);
}

}  // namespace

std::vector<NonFiniteFeature> findNonFinite(const Dataset& dataset, int threads) {
  const auto& schema = dataset.schema();
  // One slot per reported name: pt, eta, weight, then every token feature in schema order.
  std::vector<std::string> names{"pt", "eta", "weight"};
  for (const auto& c : schema.collections)
    for (const auto& f : c.features) names.push_back(c.name + "/" + f);
  std::vector<std::vector<NonFiniteFeature>> perShard(dataset.shardCount());
  parallelFor(dataset.shardCount(), threads, [&](std::size_t k) {
    const auto& shard = dataset.shard(k);
    std::vector<NonFiniteFeature> found(names.size());
    CandidateBlock block;
    constexpr std::int64_t kBlock = 4096;
    for (std::int64_t begin = 0; begin < shard.size(); begin += kBlock) {
      const auto end = std::min(shard.size(), begin + kBlock);
      shard.read(begin, end, block);
      const auto candidate = [begin](std::int64_t row) { return begin + row; };
      NonFiniteFeature* slot = found.data();
      for (const auto* scalar : {&block.pt, &block.eta, &block.weight})
        countNonFinite(scalar->data(), static_cast<std::int64_t>(scalar->size()), 1, candidate, slot++);
      for (const auto& matrix : block.collections) {
        std::int64_t current = 0;  // rows come in order, so the candidate only moves forward
        countNonFinite(matrix.values.data(), matrix.tokens(), matrix.n_features,
                       [&](std::int64_t row) {
                         while (matrix.offsets[current + 1] <= row) ++current;
                         return begin + current;
                       },
                       slot);
        slot += matrix.n_features;
      }
    }
    for (std::size_t i = 0; i < found.size(); ++i)
      if (found[i].count > 0) {
        found[i].file = shard.path();
        found[i].feature = names[i];
        perShard[k].push_back(found[i]);
      }
  });
  std::vector<NonFiniteFeature> all;
  for (auto& shardFound : perShard) all.insert(all.end(), shardFound.begin(), shardFound.end());
  return all;
}

std::int64_t DatasetSummary::nonFiniteValues() const {
  std::int64_t total = 0;
  for (const auto& f : non_finite) total += f.count;
  return total;
}

nlohmann::json DatasetSummary::toJson() const {
  nlohmann::json json;
  json["candidates"] = candidates;
  for (int k = 0; k < kNumClasses; ++k) json["class_counts"][kClassNames[k]] = class_counts[k];
  for (const auto& [mode, n] : tau_decay_modes) json["tau_decay_modes"][std::to_string(mode)] = n;
  json["mean_tokens_per_candidate"] = mean_tokens;
  json["tokens"] = {{"mean", tokens_mean}, {"median", tokens_median}, {"p99", tokens_p99}, {"max", tokens_max}};
  json["pt"] = {{"min", pt_min}, {"median", pt_median}, {"max", pt_max}};
  json["abs_eta_max"] = abs_eta_max;
  json["non_finite"] = nlohmann::json::array();
  for (const auto& f : non_finite)
    json["non_finite"].push_back(
        {{"file", f.file}, {"feature", f.feature}, {"count", f.count}, {"first_candidate", f.first_candidate}});
  return json;
}

std::string DatasetSummary::toText() const {
  std::ostringstream out;
  out << "candidates: " << candidates << "\nclasses:";
  for (int k = 0; k < kNumClasses; ++k) out << " " << kClassNames[k] << "=" << class_counts[k];
  out << "\ntokens per candidate: mean " << tokens_mean << ", median " << tokens_median << ", p99 " << tokens_p99
      << ", max " << tokens_max << "\nmean tokens per collection:";
  for (const auto& [name, mean] : mean_tokens) out << " " << name << "=" << mean;
  out << "\npt: min " << pt_min << ", median " << pt_median << ", max " << pt_max << " GeV; |eta| max " << abs_eta_max;
  if (!tau_decay_modes.empty()) {
    std::int64_t taus = 0;
    for (const auto& item : tau_decay_modes) taus += item.second;
    out << "\ntau decay modes:";
    for (const auto& [mode, n] : tau_decay_modes) out << " DM" << mode << "=" << (100.0 * n / taus) << "%";
  }
  out << "\nnon-finite values: " << nonFiniteValues();
  for (const auto& f : non_finite)
    out << "\n  " << f.file << ": " << f.feature << ": " << f.count << " NaN/Inf, first at candidate "
        << f.first_candidate;
  out << "\n";
  return out.str();
}

}  // namespace tautrain::data
