#include "tautrain/train/Benchmark.hpp"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>

#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "Step.hpp"

namespace tautrain::train {

namespace {

using Clock = std::chrono::steady_clock;

/// The first `count` batches of the plan, cycling through epochs when the data runs out; held
/// in memory so that the timing measures the model, not the loader (it has its own benchmark).
std::vector<data::LoadedBatch> takeBatches(data::Loader& loader, std::int64_t count) {
  std::vector<data::LoadedBatch> batches;
  for (std::int64_t epoch = 1; static_cast<std::int64_t>(batches.size()) < count; ++epoch) {
    loader.startEpoch(epoch);
    const auto before = batches.size();
    while (static_cast<std::int64_t>(batches.size()) < count)
      if (auto batch = loader.next()) batches.push_back(std::move(*batch));
      else break;
    TAUTRAIN_CHECK(batches.size() > before, DataError, "benchmark: the data set yields no batches");
  }
  return batches;
}

/// Candidates per second over the batches after the first `warmup`; the device is
/// synchronised before the clock starts and before it stops.
template <typename Work>
double rate(const std::vector<data::LoadedBatch>& batches, std::int64_t warmup, const torch::Device& device, Work work) {
  for (std::int64_t i = 0; i < warmup; ++i) work(batches[i].tensors->to(device));
  if (device.is_cuda()) torch::cuda::synchronize();
  const auto start = Clock::now();
  std::int64_t candidates = 0;
  for (std::size_t i = warmup; i < batches.size(); ++i) {
    candidates += batches[i].host.size;
    work(batches[i].tensors->to(device));
  }
  if (device.is_cuda()) torch::cuda::synchronize();
  return static_cast<double>(candidates) / std::chrono::duration<double>(Clock::now() - start).count();
}

/// Real over padded tokens of the timed batches.
double paddingEfficiency(const std::vector<data::LoadedBatch>& batches, std::int64_t warmup) {
  double real = 0, padded = 0;
  for (std::size_t i = warmup; i < batches.size(); ++i) {
    real += static_cast<double>(batches[i].host.realTokens());
    padded += static_cast<double>(batches[i].host.paddedTokens());
  }
  return padded > 0 ? real / padded : 0;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

std::vector<Throughput> measureThroughput(const config::RunConfig& config, const ThroughputOptions& options) {
  auto logger = log::get("bench");
  const auto device = setUpDevice(config.train);
  const bool bf16 = config.train.precision == "bf16" && device.is_cuda();
  const auto schema = data::FeatureSchema::fromSpec(config.data.features);
  const data::Dataset dataset(data::splitFiles(config.data).train, schema, data::readOptions(config.data));
  const auto scaler = data::StandardScaler::fit(dataset, config.data.threads);
  const LossWeights weighting(config.train, device);

  std::vector<Throughput> rows;
  std::vector<std::vector<double>> trainRates, inferRates;
  std::vector<std::vector<data::LoadedBatch>> batchesOf;
  for (const bool smart : {true, false}) {
    auto loaderOptions = tensorLoaderOptions(config.data, config.seed, device);
    loaderOptions.batching.smart = smart;
    data::Loader loader(dataset, scaler, loaderOptions);
    batchesOf.push_back(takeBatches(loader, options.warmup_steps + options.steps));
    for (const std::string layout : {"padded", "packed"}) {
      rows.push_back({smart, layout, paddingEfficiency(batchesOf.back(), options.warmup_steps)});
      trainRates.emplace_back(), inferRates.emplace_back();
    }
  }
  // Rounds interleave the variants, so that drifts of a shared machine hit them all alike.
  for (int round = 0; round < options.rounds; ++round) {
    for (std::size_t v = 0; v < rows.size(); ++v) {
      const auto& batches = batchesOf[v / 2];
      auto modelConfig = config.model;
      modelConfig.layout = rows[v].layout;
      torch::manual_seed(config.seed);
      model::TauTransformer model(schema, modelConfig);
      model->to(device);
      torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(config.train.learning_rate));
      model->train();
      trainRates[v].push_back(rate(batches, options.warmup_steps, device, [&](const auto& batch) {
        trainStep(model, optimizer, weighting, batch, device, bf16);
      }));
      model->eval();
      torch::NoGradGuard noGrad;
      inferRates[v].push_back(rate(batches, options.warmup_steps, device, [&](const auto& batch) {
        model::compat::AutocastGuard autocast(device, bf16);
        model->forward(batch);
      }));
    }
  }
  for (std::size_t v = 0; v < rows.size(); ++v) {
    rows[v].train_candidates_per_s = median(trainRates[v]);
    rows[v].infer_candidates_per_s = median(inferRates[v]);
    logger->info("{} batching, {} layout: training {:.0f} candidates/s, inference {:.0f} candidates/s (median of {}), "
                 "padding efficiency {:.3f}",
                 rows[v].smart ? "smart" : "random", rows[v].layout, rows[v].train_candidates_per_s,
                 rows[v].infer_candidates_per_s, options.rounds, rows[v].padding_efficiency);
  }
  return rows;
}

std::vector<std::int64_t> parameterSizes(const config::RunConfig& config) {
  const model::TauTransformer model(data::FeatureSchema::fromSpec(config.data.features), config.model);
  std::vector<std::int64_t> sizes;
  for (const auto& p : model->parameters()) sizes.push_back(p.numel());
  return sizes;
}

}  // namespace tautrain::train
