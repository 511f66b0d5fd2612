#include "tautrain/data/Mixing.hpp"

#include <array>
#include <cmath>
#include <set>

#include "tautrain/data/Dataset.hpp"

namespace tautrain::data {

PlanMixing measureMixing(const EpochPlan& plan, const Dataset& dataset) {
  PlanMixing mixing;
  if (plan.batches.empty()) return mixing;
  const auto classCounts = dataset.classCounts();
  std::array<double, kNumClasses> p{};
  for (int c = 0; c < kNumClasses; ++c)
    p[c] = static_cast<double>(classCounts[c]) / static_cast<double>(dataset.size());

  std::array<double, kNumClasses> squaredZ{};
  std::vector<double> tauFraction;
  double shards = 0;
  for (const auto& batch : plan.batches) {
    std::array<double, kNumClasses> counts{};
    std::set<std::size_t> batchShards;
    for (const auto i : batch) {
      const auto s = dataset.shardOf(i);
      batchShards.insert(s);
      ++counts[dataset.shard(s).labels()[i - dataset.shardStart(s)]];
    }
    shards += static_cast<double>(batchShards.size());
    const auto n = static_cast<double>(batch.size());
    for (int c = 0; c < kNumClasses; ++c)
      if (p[c] > 0 && p[c] < 1) {
        const double z = (counts[c] / n - p[c]) / std::sqrt(p[c] * (1 - p[c]) / n);
        squaredZ[c] += z * z;
      }
    tauFraction.push_back(counts[kTau] / n);
  }
  const auto batches = static_cast<double>(plan.batches.size());
  mixing.shards_per_batch = shards / batches;
  int classes = 0;
  for (int c = 0; c < kNumClasses; ++c)
    if (p[c] > 0 && p[c] < 1) mixing.class_spread += std::sqrt(squaredZ[c] / batches), ++classes;
  if (classes > 0) mixing.class_spread /= classes;

  double mean = 0;
  for (double x : tauFraction) mean += x;
  mean /= batches;
  double lagged = 0, variance = 0;
  for (std::size_t b = 0; b < tauFraction.size(); ++b) {
    variance += (tauFraction[b] - mean) * (tauFraction[b] - mean);
    if (b + 1 < tauFraction.size()) lagged += (tauFraction[b] - mean) * (tauFraction[b + 1] - mean);
  }
  mixing.tau_fraction_autocorrelation = variance > 0 ? lagged / variance : 0;
  return mixing;
}

}  // namespace tautrain::data
