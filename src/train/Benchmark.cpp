#include "tautrain/train/Benchmark.hpp"

#include <ATen/record_function.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <functional>

#include "Step.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Measure.hpp"
#include "tautrain/core/Names.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Loader.hpp"
#include "tautrain/train/MultiTensorAdam.hpp"

namespace tautrain::train {

namespace {

/// Waits for the work queued on a GPU, so that clocks and counters see it done.
void waitFor(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

/// The first `count` batches of the plan, cycling through epochs when the data runs out; held
/// in memory so that the timing measures the model, not the loader (it has its own benchmark).
std::vector<data::LoadedBatch> takeBatches(data::Loader& loader, std::int64_t count) {
  std::vector<data::LoadedBatch> batches;
  for (std::int64_t epoch = 1; static_cast<std::int64_t>(batches.size()) < count; ++epoch) {
    loader.startEpoch(epoch);
    const auto before = batches.size();
    while (static_cast<std::int64_t>(batches.size()) < count)
      if (auto batch = loader.next())
        batches.push_back(std::move(*batch));
      else
        break;
    TAUTRAIN_CHECK(batches.size() > before, DataError, "benchmark: the data set yields no batches");
  }
  return batches;
}

struct Rate {
  double candidates_per_s = 0;
  double host_seconds_per_step = 0;  ///< until work returned, copies in
};

/// Candidates per second over the batches after the first `warmup`; the device is
/// synchronised before the clock starts and before it stops.
template <typename Work>
Rate rate(const std::vector<data::LoadedBatch>& batches, std::int64_t warmup, const torch::Device& device, Work work) {
  for (std::int64_t i = 0; i < warmup; ++i) work(batches[i].tensors->to(device));
  waitFor(device);
  const auto start = SteadyClock::now();
  std::int64_t candidates = 0;
  double host = 0;
  for (std::size_t i = warmup; i < batches.size(); ++i) {
    candidates += batches[i].host.size;
    const auto called = SteadyClock::now();
    work(batches[i].tensors->to(device));
    host += secondsSince(called);
  }
  waitFor(device);
  const auto steps = static_cast<double>(batches.size() - static_cast<std::size_t>(warmup));
  return {static_cast<double>(candidates) / secondsSince(start), host / steps};
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

/// Cost per candidate of the timed batches.
model::Cost costPerCandidate(const std::vector<data::LoadedBatch>& batches, std::int64_t warmup,
                             const std::function<model::Cost(const data::HostBatch&)>& costOf) {
  model::Cost total;
  double candidates = 0;
  for (std::size_t i = warmup; i < batches.size(); ++i) {
    total += costOf(batches[i].host);
    candidates += static_cast<double>(batches[i].host.size);
  }
  return {total.flops / candidates, total.bytes / candidates};
}

/// [collection][candidate] token counts of the timed batches.
std::vector<std::vector<std::int64_t>> tokensOf(const std::vector<data::LoadedBatch>& batches, std::int64_t warmup) {
  std::vector<std::vector<std::int64_t>> tokens(batches.front().host.collections.size());
  for (std::size_t i = warmup; i < batches.size(); ++i) {
    const auto& host = batches[i].host;
    for (std::size_t c = 0; c < host.collections.size(); ++c) {
      auto& counts = tokens[c];
      const auto first = counts.size();
      counts.resize(first + host.size, 0);
      for (const auto slot : host.collections[c].padded_pos) ++counts[first + slot / host.max_len];
    }
  }
  return tokens;
}

/// Seconds per call of `work` after two untimed calls, over `repeats` calls.
template <typename Work>
double secondsPerCall(const torch::Device& device, int repeats, Work work) {
  for (int i = 0; i < 2; ++i) work();
  waitFor(device);
  const auto start = SteadyClock::now();
  for (int i = 0; i < repeats; ++i) work();
  waitFor(device);
  return secondsSince(start) / repeats;
}

DevicePeak measurePeak(const torch::Device& device, bool bf16, bool tf32) {
  torch::NoGradGuard noGrad;
  const bool gpu = device.is_cuda();
  const auto dtype = bf16 ? torch::kBFloat16 : torch::kFloat;
  const std::int64_t n = gpu ? 8192 : 1024;
  const auto options = torch::TensorOptions().device(device).dtype(dtype);
  const auto a = torch::randn({n, n}, options), b = torch::randn({n, n}, options);
  auto c = torch::empty({n, n}, options);
  const double matmul = secondsPerCall(device, gpu ? 20 : 5, [&] { torch::matmul_out(c, a, b); });
  const std::int64_t copyBytes = gpu ? (std::int64_t{1} << 30) : (std::int64_t{1} << 27);
  const auto source = torch::empty({copyBytes}, torch::TensorOptions().device(device).dtype(torch::kUInt8)).fill_(1);
  auto target = torch::empty_like(source);
  const double copy = secondsPerCall(device, gpu ? 20 : 5, [&] { target.copy_(source); });
  return {bf16 ? "bf16" : (gpu && tf32 ? "tf32" : "fp32"), 2.0 * static_cast<double>(n * n * n) / matmul,
          2.0 * static_cast<double>(copyBytes) / copy};
}

std::atomic<std::int64_t> g_topLevelOperators{0};
thread_local int t_operatorDepth = 0;

/// ATen operators that `work` calls other than from inside another operator, on every thread
/// (backward runs on the autograd engine's): on a GPU each is about one kernel launch.
std::int64_t topLevelOperators(const torch::Device& device, const std::function<void()>& work) {
  waitFor(device);
  g_topLevelOperators = 0;
  const auto handle =
      at::addGlobalCallback(at::RecordFunctionCallback(
                                [](const at::RecordFunction&) -> std::unique_ptr<at::ObserverContext> {
                                  if (t_operatorDepth++ == 0)
                                    g_topLevelOperators.fetch_add(1, std::memory_order_relaxed);
                                  return nullptr;
                                },
                                [](const at::RecordFunction&, at::ObserverContext*) { --t_operatorDepth; })
                                .scopes({at::RecordScope::FUNCTION}));
  work();
  waitFor(device);
  at::removeCallback(handle);
  return g_topLevelOperators.load();
}

}  // namespace

double floorRate(const model::Cost& perCandidate, const DevicePeak& peak) {
  return 1.0 / std::max(perCandidate.flops / peak.flops_per_s, perCandidate.bytes / peak.bytes_per_s);
}

ThroughputReport measureThroughput(const config::RunConfig& config, const ThroughputOptions& options) {
  auto logger = log::get("bench");
  const auto device = setUpDevice(config.train);
  const bool bf16 = config.train.precision == Precision::kBf16;
  const auto schema = data::FeatureSchema::fromSpec(config.data.features);
  const data::Dataset dataset(data::splitFiles(config.data).train, schema, data::readOptions(config.data));
  const auto scaler = data::StandardScaler::fit(dataset, config.data.threads);
  const LossWeights weighting(config.train, device);
  ThroughputReport report;
  report.threads = torch::get_num_threads();
  report.parameters = model::TauTransformer(schema, config.model)->parameterCount();
  const model::CostModel cost(schema, config.model, bf16 ? 2 : 4);

  auto& rows = report.rows;
  std::vector<std::vector<Rate>> trainRates, inferRates;
  std::vector<std::vector<data::LoadedBatch>> batchesOf;
  std::vector<std::size_t> largestBatch, batchesOfRow;
  // Smart and random batching in both layouts; on CUDA, smart batching with graphs as well.
  std::vector<bool> graphVariants{false, false};
  if (usesCudaGraphs(config.train, device)) graphVariants.push_back(true);
  for (std::size_t variant = 0; variant < graphVariants.size(); ++variant) {
    const bool smart = variant != 1, graphs = graphVariants[variant];
    auto loaderOptions = tensorLoaderOptions(config.data, config.seed, device);
    loaderOptions.batching.smart = smart;
    loaderOptions.bucket_lengths = graphs;
    data::Loader loader(dataset, scaler, loaderOptions);
    const auto& batches = batchesOf.emplace_back(takeBatches(loader, options.warmup_steps + options.steps));
    // Both layouts run the same batches: one efficiency and one cost serve them.
    const double efficiency = paddingEfficiency(batches, options.warmup_steps);
    const auto trainCost = costPerCandidate(batches, options.warmup_steps,
                                            [&](const auto& host) { return cost.training(host, report.parameters); });
    const auto inferCost =
        costPerCandidate(batches, options.warmup_steps, [&](const auto& host) { return cost.inference(host); });
    const auto layouts = graphs ? std::vector<model::Layout>{model::Layout::kPadded}
                                : std::vector<model::Layout>{model::Layout::kPadded, model::Layout::kPacked};
    for (const auto layout : layouts) {
      auto layoutConfig = config.model;
      layoutConfig.layout = layout;
      const model::CostModel layoutCost(schema, layoutConfig, bf16 ? 2 : 4);
      std::size_t largest = options.warmup_steps;  // the timed batch of the highest predicted memory
      std::int64_t memoryEstimate = 0;
      for (std::size_t i = options.warmup_steps; i < batches.size(); ++i) {
        const auto bytes = static_cast<std::int64_t>(
            layoutCost.trainingMemoryBytes(report.parameters, model::BatchShape::of(batches[i].host)));
        if (bytes > memoryEstimate) memoryEstimate = bytes, largest = i;
      }
      largestBatch.push_back(largest);
      batchesOfRow.push_back(batchesOf.size() - 1);
      auto& row = rows.emplace_back();
      row.smart = smart;
      row.layout = layout;
      row.cuda_graphs = graphs;
      row.padding_efficiency = efficiency;
      row.train_cost = trainCost;
      row.infer_cost = inferCost;
      row.train_memory_estimate_bytes = memoryEstimate;
      trainRates.emplace_back(), inferRates.emplace_back();
    }
  }
  report.timed_tokens = tokensOf(batchesOf.back(), options.warmup_steps);
  // Rounds interleave the variants, so that drifts of a shared machine hit them all alike.
  for (int round = 0; round < options.rounds; ++round) {
    for (std::size_t v = 0; v < rows.size(); ++v) {
      const auto& batches = batchesOf[batchesOfRow[v]];
      auto modelConfig = config.model;
      modelConfig.layout = rows[v].layout;
      torch::manual_seed(config.seed);
      model::TauTransformer model(schema, modelConfig);
      model->to(device);
      MultiTensorAdam optimizer(model->parameters(), torch::optim::AdamOptions(config.train.learning_rate));
      const auto graphs = rows[v].cuda_graphs ? graphsFor(config.train, model, device) : nullptr;
      const auto step = [&](const data::TensorBatch& batch) {
        trainStep(model, optimizer, weighting, batch, device, bf16, nullptr, nullptr, graphs.get());
      };
      const auto infer = [&](const data::TensorBatch& batch) {
        torch::NoGradGuard noGrad;
        compat::AutocastGuard autocast(device, bf16);
        graphs ? graphs->forward(batch) : model->forward(batch);
      };
      if (graphs) {  // every shape captured before the clock runs: capture is a one-off per run
        model->train();
        for (const auto& batch : batches) step(batch.tensors->to(device));
        model->eval();
        for (const auto& batch : batches) infer(batch.tensors->to(device));
      }
      model->train();
      if (!device.is_cuda()) {  // a first step, counted: the weights were there before, all else is its own
        const auto largest = batches[largestBatch[v]].tensors->to(device);
        compat::HostMemoryCounter counter;
        step(largest);
        rows[v].train_peak_memory_bytes =
            std::max(rows[v].train_peak_memory_bytes, counter.peak() + 4 * report.parameters);
      }
      compat::resetPeakDeviceMemory(device);
      trainRates[v].push_back(rate(batches, options.warmup_steps, device, step));
      if (device.is_cuda())
        rows[v].train_peak_memory_bytes = std::max(rows[v].train_peak_memory_bytes, compat::peakDeviceMemory(device));
      const auto sample = batches.back().tensors->to(device);
      rows[v].train_operators_per_step = topLevelOperators(device, [&] { step(sample); });
      model->eval();
      inferRates[v].push_back(rate(batches, options.warmup_steps, device, infer));
      rows[v].infer_operators_per_step = topLevelOperators(device, [&] { infer(sample); });
    }
  }
  report.peak = measurePeak(device, bf16, config.train.allow_tf32);
  for (std::size_t v = 0; v < rows.size(); ++v) {
    const auto medianOf = [](const std::vector<Rate>& rates, double Rate::*field) {
      std::vector<double> values;
      for (const auto& r : rates) values.push_back(r.*field);
      return median(values);
    };
    rows[v].train_candidates_per_s = medianOf(trainRates[v], &Rate::candidates_per_s);
    rows[v].infer_candidates_per_s = medianOf(inferRates[v], &Rate::candidates_per_s);
    rows[v].train_host_ms_per_step = 1e3 * medianOf(trainRates[v], &Rate::host_seconds_per_step);
    rows[v].infer_host_ms_per_step = 1e3 * medianOf(inferRates[v], &Rate::host_seconds_per_step);
    logger->info(
        "{} batching, {} layout{}: training {:.0f} candidates/s, inference {:.0f} candidates/s (median of {}), "
        "padding efficiency {:.3f}",
        rows[v].smart ? "smart" : "random", core::nameOf(rows[v].layout), rows[v].cuda_graphs ? ", CUDA graphs" : "",
        rows[v].train_candidates_per_s, rows[v].infer_candidates_per_s, options.rounds, rows[v].padding_efficiency);
  }
  return report;
}

std::vector<std::int64_t> parameterSizes(const config::RunConfig& config) {
  const model::TauTransformer model(data::FeatureSchema::fromSpec(config.data.features), config.model);
  std::vector<std::int64_t> sizes;
  for (const auto& p : model->parameters()) sizes.push_back(p.numel());
  return sizes;
}

}  // namespace tautrain::train
