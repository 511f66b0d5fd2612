#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/core/Allocator.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Machine.hpp"
#include "tautrain/core/Names.hpp"
#include "tautrain/core/Version.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/data/LoaderBenchmark.hpp"
#include "tautrain/data/Shard.hpp"
#include "tautrain/data/SyntheticGenerator.hpp"
#ifdef TAUTRAIN_HAVE_ONNX
#include "tautrain/deploy/Benchmark.hpp"
#endif
#include "tautrain/dist/AllReduceBench.hpp"
#include "tautrain/dist/Communicator.hpp"
#include "tautrain/dist/Launcher.hpp"
#include "tautrain/dist/RankInfo.hpp"
#include "tautrain/eval/RocBenchmark.hpp"
#include "tautrain/io/Hdf5.hpp"
#include "tautrain/io/Json.hpp"
#include "tautrain/train/Benchmark.hpp"

namespace tautrain::cli {

namespace {

namespace fs = std::filesystem;

struct LoaderBenchOptions {
  data::LoaderBenchmarkOptions measure;
  std::vector<std::string> codecs = {"none", "deflate", "zstd"};
  std::string workDir;
  std::vector<std::string> data;
  bool hdf5Filters = false;  ///< --data: decode through HDF5's filters, under its lock
  std::string json;
};

nlohmann::json footprintJson(const data::LoaderFootprint& f) {
  return {{"index_bytes_per_candidate", f.index_bytes_per_candidate},
          {"token_counts_bytes_per_candidate", f.token_counts_bytes_per_candidate},
          {"plan_bytes_per_candidate", f.plan_bytes_per_candidate},
          {"open_seconds", f.open_seconds}};
}

nlohmann::json diskJson(const data::DiskRate& r) {
  return {{"threads", r.threads},
          {"candidates_per_s", r.candidates_per_s},
          {"megabytes_per_s", r.megabytes_per_s},
          {"read_bytes_per_candidate", r.read_bytes_per_candidate},
          {"cached_fraction_before", r.cached_fraction_before}};
}

nlohmann::json mixingJson(const data::PlanMixing& m) {
  return {{"shards_per_batch", m.shards_per_batch},
          {"class_spread_vs_random", m.class_spread},
          {"tau_fraction_autocorrelation", m.tau_fraction_autocorrelation}};
}

void printMixing(const data::PlanMixing& m, std::int64_t blockSize) {
  std::cout << fmt::format("mixing at block size {}: {:.1f} shards per batch, class fractions spread {:.2f}x a random "
                           "batch's, tau fraction autocorrelation {:.3f} between consecutive batches\n",
                           blockSize, m.shards_per_batch, m.class_spread, m.tau_fraction_autocorrelation);
}

/// The footprint as printed: per candidate, and what it comes to at the thesis' 96 M candidates.
void printFootprint(const data::LoaderFootprint& f) {
  constexpr double kThesisCandidates = 96e6;
  std::cout << fmt::format("memory per candidate: index {:.2f} B, token counts {:.0f} B, epoch plan {:.2f} B; at 96 M "
                           "candidates {:.2f} GB, {:.2f} GB and {:.2f} GB (opening took {:.2f} s)\n",
                           f.index_bytes_per_candidate, f.token_counts_bytes_per_candidate, f.plan_bytes_per_candidate,
                           f.index_bytes_per_candidate * kThesisCandidates / 1e9,
                           f.token_counts_bytes_per_candidate * kThesisCandidates / 1e9,
                           f.plan_bytes_per_candidate * kThesisCandidates / 1e9, f.open_seconds);
}

/// `bench loader --data`: the given shards, read from the disk.
void runLoaderBenchOn(const LoaderBenchOptions& options) {
  const io::h5::ScopedChunkDecoding decoding(options.hdf5Filters ? io::h5::ChunkDecoding::kThroughHdf5
                                                                : io::h5::ChunkDecoding::kOutsideLock);
  const char* decodedWhere = options.hdf5Filters ? "by HDF5, under its lock" : "outside HDF5's lock";
  const auto r = data::measureLoaderOn(data::expandPaths(options.data), options.measure);
  nlohmann::json disk = nlohmann::json::array();
  for (const auto& rate : r.disk) disk.push_back(diskJson(rate));
  const nlohmann::json result = {{"benchmark", "loader-on-disk"},
                                 {"machine", machineDescription()},
                                 {"version", versionString()},
                                 {"candidates", r.candidates},
                                 {"shards", r.shards},
                                 {"bytes_per_candidate", r.bytes_per_candidate},
                                 {"batch_size", options.measure.batch_size},
                                 {"block_size", options.measure.block_size},
                                 {"chunks_decoded", decodedWhere},
                                 {"footprint", footprintJson(r.footprint)},
                                 {"mixing", mixingJson(r.mixing)},
                                 {"disk", disk},
                                 {"peak_resident_bytes", r.peak_resident_bytes}};
  std::cout << "machine: " << machineDescription() << "\n"
            << fmt::format("{} candidates in {} shards, {:.0f} bytes/candidate on disk; compressed chunks decoded {}\n",
                           r.candidates, r.shards, r.bytes_per_candidate, decodedWhere);
  printFootprint(r.footprint);
  printMixing(r.mixing, options.measure.block_size);
  for (const auto& rate : r.disk)
    std::cout << fmt::format("from disk, {} thread(s): {:.0f} candidates/s ({:.0f} per thread), {:.0f} MB/s, {:.0f} "
                             "bytes read per candidate, {:.1f} % of the shards cached before\n",
                             rate.threads, rate.candidates_per_s, rate.candidates_per_s / rate.threads,
                             rate.megabytes_per_s, rate.read_bytes_per_candidate, 100 * rate.cached_fraction_before);
  std::cout << fmt::format("peak resident memory while loading: {:.2f} GB\n", static_cast<double>(r.peak_resident_bytes) / 1e9);
  if (!options.json.empty()) io::writeJson(options.json, result);
}

/// A benchmark's scratch directory (its shards can take gigabytes): removed when the benchmark
/// ends, by an error too, unless the user named it.
class ScratchDirectory {
 public:
  ScratchDirectory(std::filesystem::path path, bool keep) : m_path(std::move(path)), m_keep(keep) {
    std::filesystem::create_directories(m_path);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    if (!m_keep) std::filesystem::remove_all(m_path, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
  bool m_keep;
};

void runLoaderBench(LoaderBenchOptions options) {
  if (!options.data.empty()) return runLoaderBenchOn(options);
  options.measure.codecs.clear();
  for (const auto& name : options.codecs) {
    const auto codec = core::parseName<io::Codec>(name);
    TAUTRAIN_CHECK_KEY(codec, "--codecs", "must name codecs among ", core::allowedNames<io::Codec>(), ", not '", name, "'");
    options.measure.codecs.push_back({*codec, 0});
  }
  const ScratchDirectory scratch(options.workDir.empty() ? fs::temp_directory_path() / "tautrain-bench-loader"
                                                        : fs::path(options.workDir),
                                 !options.workDir.empty());
  const auto r = data::measureLoader(options.measure, scratch.path().string());
  nlohmann::json threads = nlohmann::json::array();
  for (const auto& rate : r.loader)
    threads.push_back({{"threads", rate.threads}, {"candidates_per_s", rate.candidates_per_s},
                       {"per_thread", rate.candidates_per_s / rate.threads},
                       {"speedup_vs_1_thread", rate.candidates_per_s / r.loader.front().candidates_per_s}});
  nlohmann::json codecs = nlohmann::json::array();
  for (const auto& c : r.codecs)
    codecs.push_back({{"codec", core::nameOf(c.compression.codec)},
                      {"bytes_per_candidate", c.bytes_per_candidate},
                      {"rewrite_candidates_per_s", c.rewrite_per_s},
                      {"loader_one_thread_candidates_per_s", c.loader_one_thread_per_s},
                      {"loader_all_threads_candidates_per_s", c.loader_all_threads_per_s},
                      {"hdf5_filters_one_thread_candidates_per_s", c.hdf5_filters_one_thread_per_s},
                      {"hdf5_filters_all_threads_candidates_per_s", c.hdf5_filters_all_threads_per_s},
                      {"bytes_vs_first", c.bytes_per_candidate / r.codecs.front().bytes_per_candidate},
                      {"loader_one_thread_vs_first", c.loader_one_thread_per_s / r.codecs.front().loader_one_thread_per_s},
                      {"disk_one_thread", diskJson(c.disk_one_thread)},
                      {"disk_all_threads", diskJson(c.disk_all_threads)}});
  const nlohmann::json result = {
      {"benchmark", "loader"},
      {"machine", machineDescription()},
      {"version", versionString()},
      {"candidates", r.candidates},
      {"batch_size", options.measure.batch_size},
      {"generator_candidates_per_s_one_thread_in_memory", r.generate_one_thread_per_s},
      {"generator_candidates_per_s_writing_shards_all_threads", r.generate_writing_shards_per_s},
      {"scaler_fit_candidates_per_s", r.scaler_fit_per_s},
      {"padding_efficiency", {{"smart", r.padding_efficiency_smart}, {"random", r.padding_efficiency_random}}},
      {"loader", threads},
      {"block_size", options.measure.block_size},
      {"footprint", footprintJson(r.footprint)},
      {"mixing", mixingJson(r.mixing)},
      {"codecs", codecs}};
  std::cout << "machine: " << machineDescription() << "\n"
            << "generator: " << r.generate_one_thread_per_s << " candidates/s on one thread in memory, "
            << r.generate_writing_shards_per_s << " candidates/s writing shards on all threads\n"
            << "padding efficiency at batch " << options.measure.batch_size << ": smart " << r.padding_efficiency_smart
            << ", random " << r.padding_efficiency_random << " ("
            << r.padding_efficiency_smart / r.padding_efficiency_random << "x)\n";
  for (const auto& row : threads)
    std::cout << "loader " << row["threads"] << " thread(s): " << row["candidates_per_s"].get<double>()
              << " candidates/s, " << row["per_thread"].get<double>() << " per thread\n";
  const int allThreads = r.loader.back().threads;
  for (const auto& row : codecs)
    std::cout << fmt::format("shards {:<8} {:6.0f} bytes/candidate ({:.2f}x), loader {:.0f} candidates/s on 1 thread "
                             "({:.2f}x), {:.0f} on {}; rewrite {:.0f} candidates/s\n",
                             row["codec"].get<std::string>(), row["bytes_per_candidate"].get<double>(),
                             row["bytes_vs_first"].get<double>(), row["loader_one_thread_candidates_per_s"].get<double>(),
                             row["loader_one_thread_vs_first"].get<double>(),
                             row["loader_all_threads_candidates_per_s"].get<double>(), allThreads,
                             row["rewrite_candidates_per_s"].get<double>());
  for (const auto& c : r.codecs)
    if (c.hdf5_filters_one_thread_per_s > 0)
      std::cout << fmt::format("shards {:<8} decoded by HDF5 under its lock: {:.0f} candidates/s on 1 thread, {:.0f} on "
                               "{}; decoding outside it is {:.2f}x and {:.2f}x that\n",
                               core::nameOf(c.compression.codec), c.hdf5_filters_one_thread_per_s,
                               c.hdf5_filters_all_threads_per_s, allThreads,
                               c.loader_one_thread_per_s / c.hdf5_filters_one_thread_per_s,
                               c.loader_all_threads_per_s / c.hdf5_filters_all_threads_per_s);
  for (const auto& c : r.codecs)
    std::cout << fmt::format("shards {:<8} from disk: {:.0f} candidates/s on 1 thread, {:.0f} on {} ({:.0f} MB/s, {:.0f} "
                             "bytes read per candidate, {:.1f} % cached before)\n",
                             core::nameOf(c.compression.codec), c.disk_one_thread.candidates_per_s,
                             c.disk_all_threads.candidates_per_s, allThreads, c.disk_all_threads.megabytes_per_s,
                             c.disk_all_threads.read_bytes_per_candidate, 100 * c.disk_all_threads.cached_fraction_before);
  printFootprint(r.footprint);
  printMixing(r.mixing, options.measure.block_size);
  if (!options.json.empty()) io::writeJson(options.json, result);
}

struct TrainBenchOptions {
  ConfigOptions config;
  std::int64_t synthetic = 0;
  train::ThroughputOptions throughput;
  std::string baselineScript;
  std::string python = "python3";
  double baselineCoverage = 0.99;
  std::string json;
};

/// A config section as a JSON object, written through its describe(), so that every key is there.
struct JsonSection {
  nlohmann::json object = nlohmann::json::object();
  template <typename T>
  void operator()(const char* key, const T& value, const char*) {
    if constexpr (core::HasNames<T>::value) object[key] = core::nameOf(value);
    else object[key] = value;
  }
};

/// Runs bench/pytorch_baseline.py on the timed candidates' token counts with the same model,
/// batch, device and precision; returns its result line.
nlohmann::json runPytorchBaseline(const TrainBenchOptions& options, const config::RunConfig& config,
                                  const train::ThroughputReport& report, const std::filesystem::path& dir) {
  const auto schema = data::FeatureSchema::fromSpec(config.data.features);
  nlohmann::json spec = {
      {"device", config.train.device}, {"precision", core::nameOf(config.train.precision)}, {"allow_tf32", config.train.allow_tf32},
      {"threads", report.threads}, {"seed", config.seed}, {"batch_size", config.data.batch_size},
      {"warmup_steps", options.throughput.warmup_steps}, {"rounds", options.throughput.rounds},
      {"learning_rate", config.train.learning_rate}, {"coverage", options.baselineCoverage},
      {"token_types", schema.tokenTypeCount()},
      {"collections", nlohmann::json::array()}};
  JsonSection model;
  auto modelConfig = config.model;
  modelConfig.describe(model);
  spec["model"] = model.object;
  for (std::size_t c = 0; c < schema.collections.size(); ++c)
    spec["collections"].push_back({{"name", schema.collections[c].name},
                                   {"per_candidate", schema.collections[c].per_candidate},
                                   {"inputs", schema.collections[c].continuousCount()},
                                   {"tokens", report.timed_tokens[c]}});
  const auto specPath = (dir / "baseline-spec.json").string(), resultPath = (dir / "baseline-result.json").string();
  io::writeJson(specPath, spec);
  log::get("bench")->info("PyTorch baseline: {} {}", options.python, options.baselineScript);
  const int code = runProgram({options.python, options.baselineScript, specPath}, resultPath);
  TAUTRAIN_CHECK_KEY(code != 127, "--python", "could not start '", options.python, "'");
  TAUTRAIN_CHECK_KEY(code == 0, "--pytorch-baseline", "'", options.baselineScript, "' failed with exit code ", code,
                     " (its messages are above)");
  std::ifstream in(resultPath);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  const auto result = nlohmann::json::parse(last, nullptr, /*allow_exceptions=*/false);
  TAUTRAIN_CHECK_KEY(result.is_object() && result.contains("train_candidates_per_s"), "--pytorch-baseline", "'",
                     options.baselineScript, "' printed no result line (last line: '", last, "')");
  TAUTRAIN_CHECK_KEY(result.value("parameters", std::int64_t{-1}) == report.parameters, "--pytorch-baseline",
                     "the baseline model has ", result.value("parameters", std::int64_t{-1}), " parameters, tautrain's ",
                     report.parameters, ": not the same architecture");
  return result;
}

std::string memoryText(std::int64_t bytes) { return bytes < 0 ? "n/a" : fmt::format("{:.2f} GiB", bytes / 1073741824.0); }

void runTrainBench(const TrainBenchOptions& options) {
  auto config = options.config.load();
  const ScratchDirectory scratch(fs::temp_directory_path() / ("tautrain-bench-train-" + std::to_string(::getpid())),
                                 /*keep=*/false);
  const auto& dir = scratch.path();
  if (options.synthetic > 0) {
    config.generator.candidates = options.synthetic;
    config.generator.shard_size = std::max<std::int64_t>(1, options.synthetic / 4);
    config.generator.output = (dir / "data").string();
    data::SyntheticGenerator(data::FeatureSchema::fromSpec(config.data.features), config.generator).writeShards();
    config.data.files = {config.generator.output};
    config.data.valid_fraction = 0;
  }
  const auto report = train::measureThroughput(config, options.throughput);
  const auto baseline = options.baselineScript.empty() ? nlohmann::json() : runPytorchBaseline(options, config, report, dir);

  const auto& peak = report.peak;
  nlohmann::json result = {{"benchmark", "train"},         {"machine", machineDescription()},
                           {"allocator", allocatorName()},
                           {"version", versionString()},   {"device", config.train.device},
                           {"precision", core::nameOf(config.train.precision)}, {"batch_size", config.data.batch_size},
                           {"parameters", report.parameters}, {"threads", report.threads},
                           {"steps", options.throughput.steps}, {"rounds", options.throughput.rounds},
                           {"peak", {{"dtype", peak.dtype}, {"matmul_flops_per_s", peak.flops_per_s},
                                     {"copy_bytes_per_s", peak.bytes_per_s}}},
                           {"rows", nlohmann::json::array()}};
  const auto& reference = report.rows.front();
  std::cout << "machine: " << machineDescription() << ", " << allocatorName() << "\ndevice " << config.train.device << ", " << core::nameOf(config.train.precision)
            << ", batch " << config.data.batch_size << ", " << options.throughput.steps
            << " timed steps per variant, median of " << options.throughput.rounds << " rounds\n"
            << fmt::format("measured peak: matmul {:.3g} TFLOP/s ({}), copy {:.0f} GB/s\n", peak.flops_per_s / 1e12,
                           peak.dtype, peak.bytes_per_s / 1e9)
            << fmt::format("{:<8} {:<7} {:<6} {:>8} {:>13} {:>6} {:>7} {:>13} {:>6} {:>7} {:>10} {:>10} {:>9}\n",
                           "batching", "layout", "step", "pad eff", "train cand/s", "ratio", "floor", "infer cand/s",
                           "ratio", "floor", "memory", "predicted", "host ms");
  for (const auto& row : report.rows) {
    const double trainRatio = row.train_candidates_per_s / reference.train_candidates_per_s;
    const double inferRatio = row.infer_candidates_per_s / reference.infer_candidates_per_s;
    const double trainFloor = train::floorRate(row.train_cost, peak), inferFloor = train::floorRate(row.infer_cost, peak);
    std::cout << fmt::format("{:<8} {:<7} {:<6} {:>8.3f} {:>13.0f} {:>6.2f} {:>6.1f}% {:>13.0f} {:>6.2f} {:>6.1f}% {:>10} "
                             "{:>10} {:>9.2f}\n",
                             row.smart ? "smart" : "random", core::nameOf(row.layout),
                             row.cuda_graphs ? "graphs" : "eager", row.padding_efficiency,
                             row.train_candidates_per_s, trainRatio, 100 * row.train_candidates_per_s / trainFloor,
                             row.infer_candidates_per_s, inferRatio, 100 * row.infer_candidates_per_s / inferFloor,
                             memoryText(row.train_peak_memory_bytes), memoryText(row.train_memory_estimate_bytes),
                             row.train_host_ms_per_step);
    result["rows"].push_back({{"batching", row.smart ? "smart" : "random"}, {"layout", core::nameOf(row.layout)},
                              {"cuda_graphs", row.cuda_graphs},
                              {"train_host_ms_per_step", row.train_host_ms_per_step},
                              {"infer_host_ms_per_step", row.infer_host_ms_per_step},
                              {"padding_efficiency", row.padding_efficiency},
                              {"train_candidates_per_s", row.train_candidates_per_s},
                              {"infer_candidates_per_s", row.infer_candidates_per_s},
                              {"train_ratio_vs_smart_padded", trainRatio}, {"infer_ratio_vs_smart_padded", inferRatio},
                              {"train_flops_per_candidate", row.train_cost.flops},
                              {"train_bytes_per_candidate", row.train_cost.bytes},
                              {"infer_flops_per_candidate", row.infer_cost.flops},
                              {"infer_bytes_per_candidate", row.infer_cost.bytes},
                              {"train_floor_candidates_per_s", trainFloor}, {"infer_floor_candidates_per_s", inferFloor},
                              {"train_peak_memory_bytes", row.train_peak_memory_bytes},
                              {"train_memory_estimate_bytes", row.train_memory_estimate_bytes},
                              {"train_operators_per_step", row.train_operators_per_step},
                              {"infer_operators_per_step", row.infer_operators_per_step}});
  }
  std::cout << fmt::format("floor, per candidate of real tokens: training {:.1f} MFLOP and {:.2f} MB, inference {:.1f} "
                           "MFLOP and {:.2f} MB (smart batches)\n",
                           reference.train_cost.flops / 1e6, reference.train_cost.bytes / 1e6,
                           reference.infer_cost.flops / 1e6, reference.infer_cost.bytes / 1e6);
  // The variant a training with this config runs: with graphs where there is a graphs row.
  auto configured = std::find_if(report.rows.begin(), report.rows.end(), [](const auto& row) { return row.cuda_graphs; });
  if (configured == report.rows.end())
    configured = std::find_if(report.rows.begin(), report.rows.end(), [&](const auto& row) {
      return row.smart == config.data.smart_batching && row.layout == config.model.layout;
    });
  std::cout << fmt::format("ATen operators per step ({} layout{}; about the kernel launches on a GPU): training {}, "
                           "inference {}\n",
                           core::nameOf(configured->layout), configured->cuda_graphs ? ", CUDA graphs" : "",
                           configured->train_operators_per_step, configured->infer_operators_per_step);
  if (!baseline.is_null()) {
    const double trainRatio = configured->train_candidates_per_s / baseline["train_candidates_per_s"].get<double>();
    const double inferRatio = configured->infer_candidates_per_s / baseline["infer_candidates_per_s"].get<double>();
    std::cout << fmt::format("PyTorch {} eager baseline, fixed lengths {}: padding eff {:.3f}, training {:.0f} cand/s, "
                             "inference {:.0f} cand/s, memory {}\n",
                             baseline["torch"].get<std::string>(), baseline["fixed_length"].dump(),
                             baseline["padding_efficiency"].get<double>(), baseline["train_candidates_per_s"].get<double>(),
                             baseline["infer_candidates_per_s"].get<double>(),
                             memoryText(baseline["peak_memory_bytes"].get<std::int64_t>()))
              << fmt::format("tautrain ({} batching, {} layout{}) over the baseline: training {:.2f}x, inference {:.2f}x\n",
                             configured->smart ? "smart" : "random", core::nameOf(configured->layout),
                             configured->cuda_graphs ? ", CUDA graphs" : "", trainRatio, inferRatio);
    result["pytorch_baseline"] = baseline;
    result["pytorch_baseline"]["train_ratio"] = trainRatio;
    result["pytorch_baseline"]["infer_ratio"] = inferRatio;
  }
  if (!options.json.empty()) io::writeJson(options.json, result);
}

struct RocBenchOptions {
  std::int64_t candidates = 10'000'000;
  std::string json;
};

void runRocBench(const RocBenchOptions& options) {
  const auto r = eval::measureRoc(eval::syntheticScores(options.candidates));
  std::cout << "machine: " << machineDescription() << "\n"
            << options.candidates << " candidates; D_jet on its " << r.scores
            << " taus and jets: ROC, AUC, knee and 8 WPs in " << r.one_discriminant_s << " s ("
            << r.one_discriminant_s / r.sort_only_s << "x a plain sort of its scores, " << r.sort_only_s << " s)\n"
            << "window and 5 decay modes (" << r.window_and_modes_rocs << " ROCs, intervals) in " << r.window_and_modes_s << " s ("
            << r.window_and_modes_s / r.sort_only_s << "x the sort)\n"
            << "full evaluation (" << r.rocs << " ROCs: 3 discriminants x window, 5 decay modes, pT and |eta| bins; "
            << "rates versus pT, |eta| and decay mode) in " << r.full_evaluation_s << " s ("
            << r.full_evaluation_s / r.sort_only_s << "x the sort)\n"
            << "bootstrap (eval.bootstrap): " << r.bootstrap_resample_s << " s per resample of D_jet ("
            << r.bootstrap_resample_s / r.sort_only_s << "x the sort)\n";
  if (!options.json.empty())
    io::writeJson(options.json, {{"benchmark", "roc"}, {"machine", machineDescription()}, {"version", versionString()},
                                 {"candidates", options.candidates}, {"one_discriminant_s", r.one_discriminant_s},
                                 {"one_discriminant_scores", r.scores}, {"sort_only_s", r.sort_only_s},
                                 {"one_discriminant_vs_sort", r.one_discriminant_s / r.sort_only_s},
                                 {"window_and_modes_s", r.window_and_modes_s},
                                 {"window_and_modes_rocs", r.window_and_modes_rocs},
                                 {"bootstrap_resample_s", r.bootstrap_resample_s},
                                 {"full_evaluation_s", r.full_evaluation_s}, {"rocs", r.rocs}});
}

#ifdef TAUTRAIN_HAVE_ONNX
struct OnnxBenchOptions {
  std::string checkpoint;
  std::vector<std::string> data;
  deploy::InferenceBenchOptions measure;
  std::string json;
};

void runOnnxBench(const OnnxBenchOptions& options) {
  const ScratchDirectory scratch(fs::temp_directory_path() / ("tautrain-bench-onnx-" + std::to_string(::getpid())),
                                 false);
  const auto r =
      deploy::measureInference(options.checkpoint, options.data, (scratch.path() / "model.onnx").string(), options.measure);
  std::cout << "machine: " << machineDescription() << "\n"
            << r.candidates << " candidates of " << options.checkpoint << ", fp32, " << r.threads
            << " thread(s), median of " << options.measure.rounds << " rounds; baseline: LibTorch\n"
            << fmt::format("{:>6} {:>22} {:>26} {:>10}\n", "batch", "LibTorch candidates/s",
                           r.runtime + " candidates/s", "x LibTorch");
  nlohmann::json result{{"benchmark", "onnx"},       {"machine", machineDescription()},
                        {"version", versionString()}, {"runtime", r.runtime},
                        {"checkpoint", options.checkpoint}, {"candidates", r.candidates},
                        {"threads", r.threads},       {"rows", nlohmann::json::array()}};
  for (const auto& row : r.rows) {
    const double ratio = row.onnxruntime_candidates_per_s / row.libtorch_candidates_per_s;
    std::cout << fmt::format("{:>6} {:>22.0f} {:>26.0f} {:>10.2f}\n", row.batch_size, row.libtorch_candidates_per_s,
                             row.onnxruntime_candidates_per_s, ratio);
    result["rows"].push_back({{"batch_size", row.batch_size},
                              {"libtorch_candidates_per_s", row.libtorch_candidates_per_s},
                              {"onnxruntime_candidates_per_s", row.onnxruntime_candidates_per_s},
                              {"onnxruntime_vs_libtorch", ratio}});
  }
  if (!options.json.empty()) io::writeJson(options.json, result);
}
#endif

struct AllReduceBenchOptions {
  ConfigOptions config;
  int ranks = 2;
  int iterations = 20;
  std::string device = "cpu";
  std::string json;
};

/// Under a launcher: times joining the group, then all-reduces of the model's gradients and of
/// a size sweep; rank 0 reports. Started by hand: launches itself on `ranks` local ranks. One
/// rank moves nothing between devices; it shows that the backend's path runs and what it costs
/// to start.
void runAllReduceBench(const AllReduceBenchOptions& options, const std::vector<std::string>& arguments) {
  const auto rank = dist::rankFromEnvironment();
  if (rank.source == "single") {
    TAUTRAIN_CHECK_KEY(options.ranks >= 1, "--ranks", "must be at least 1, not ", options.ranks);
    dist::LaunchOptions launch;
    launch.nproc_per_node = options.ranks;
    launch.master_port = 0;
    launch.arguments = arguments;
    if (const int code = dist::launch(launch); code != 0) throw ExitRequest{code};
    return;
  }
  const auto config = options.config.load();
  const bool cuda = options.device.rfind("cuda", 0) == 0;
  const auto group = dist::joinTimed(config.dist, rank, cuda);
  auto& comm = *group.comm;
  // The gradient all-reduce of training: one tensor per parameter, bucketed as in training.
  auto gradients = train::parameterSizes(config);
  gradients.push_back(2);  // the loss and weight sums ride along
  const auto rows = dist::timeGradientsAndSizes(comm, gradients, options.iterations, cuda);
  if (rank.rank != 0) return;
  nlohmann::json result = {{"benchmark", "allreduce"},      {"machine", machineDescription()},
                           {"version", versionString()},    {"ranks", rank.world_size},
                           {"backend", core::nameOf(comm.backend())},     {"iterations", options.iterations},
                           {"join_seconds", group.join_seconds},
                           {"first_all_reduce_seconds", group.first_all_reduce_seconds},
                           {"rows", nlohmann::json::array()}};
  std::cout << "machine: " << machineDescription() << "\n"
            << rank.world_size << " ranks, " << core::nameOf(comm.backend()) << ", median of " << options.iterations
            << " all-reduces; baseline: a local copy of the same bytes\n"
            << fmt::format("start: joining the group {:.1f} ms, the first all-reduce {:.1f} ms\n",
                           group.join_seconds * 1e3, group.first_all_reduce_seconds * 1e3)
            << fmt::format("{:<16} {:>12} {:>8} {:>12} {:>10} {:>10} {:>10}\n", "buffer", "bytes", "tensors",
                           "time (us)", "algbw GB/s", "busbw GB/s", "x copy");
  for (const auto& [what, t] : rows) {
    std::cout << fmt::format("{:<16} {:>12} {:>8} {:>12.1f} {:>10.3f} {:>10.3f} {:>10.1f}\n", what, t.bytes, t.tensors,
                             t.seconds * 1e6, t.algorithm_gbps, t.bus_gbps, t.seconds / t.copy_seconds);
    result["rows"].push_back({{"buffer", what}, {"bytes", t.bytes}, {"tensors", t.tensors}, {"seconds", t.seconds},
                              {"copy_seconds", t.copy_seconds}, {"algorithm_gbps", t.algorithm_gbps},
                              {"bus_gbps", t.bus_gbps}});
  }
  if (!options.json.empty()) io::writeJson(options.json, result);
}

}  // namespace

void addBenchCommand(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks; each writes its figures as JSON with --json");
  bench->require_subcommand(1);
  auto* loader = bench->add_subcommand("loader", "Loader throughput per thread count and padding efficiency, smart vs random batching");
  auto options = std::make_shared<LoaderBenchOptions>();
  auto* candidates = loader->add_option("-n,--candidates", options->measure.candidates, "synthetic candidates to generate")
                         ->check(CLI::PositiveNumber)
                         ->capture_default_str();
  loader->add_option("--max-threads", options->measure.max_threads, "loader threads up to this (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  loader->add_option("--batch-size", options->measure.batch_size, "candidates per batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  loader->add_option("--window-batches", options->measure.window_batches, "batches' worth of candidates sorted together")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  loader->add_option("--block-size", options->measure.block_size, "candidates read contiguously from a shard")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* codecs = loader->add_option("--codecs", options->codecs, "shard codecs to compare, the first the baseline: " +
                                                                   core::allowedNames<io::Codec>())
                     ->delimiter(',')
                     ->capture_default_str();
  auto* workDir =
      loader->add_option("--work-dir", options->workDir, "keep the generated shards here (default: a temporary directory)");
  // What generated shards are for means nothing for given ones: say so rather than ignore it.
  auto* data = loader
      ->add_option("--data", options->data,
                   "measure these shards instead (files, directories, globs): memory, and reads from the disk per "
                   "thread count; nothing is generated")
      ->excludes(candidates)
      ->excludes(codecs)
      ->excludes(workDir);
  // Generated shards are measured both ways by themselves.
  loader
      ->add_flag("--hdf5-filters", options->hdf5Filters,
                 "with --data: decode compressed chunks through HDF5's own filters, under its lock (the baseline "
                 "of decoding outside it, the default)")
      ->needs(data);
  loader->add_option("--json", options->json, "write the figures as JSON");
  loader->callback([options] { runLoaderBench(*options); });

  auto* trainBench = bench->add_subcommand(
      "train", "Training and inference throughput: smart vs random batching, padded vs packed layout");
  auto trainOptions = std::make_shared<TrainBenchOptions>();
  trainOptions->config.addTo(*trainBench);
  trainBench->add_option("--synthetic", trainOptions->synthetic,
                         "generate this many synthetic candidates instead of reading data.files");
  trainBench->add_option("--steps", trainOptions->throughput.steps, "timed steps per variant")->capture_default_str();
  trainBench->add_option("--warmup", trainOptions->throughput.warmup_steps, "untimed steps first")->capture_default_str();
  trainBench->add_option("--rounds", trainOptions->throughput.rounds, "interleaved rounds; the median is reported")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  trainBench->add_option("--pytorch-baseline", trainOptions->baselineScript,
                         "also time bench/pytorch_baseline.py (PyTorch eager, fixed-length padding) on the same candidates")
      ->check(CLI::ExistingFile);
  trainBench->add_option("--python", trainOptions->python, "Python interpreter with torch for the baseline")
      ->capture_default_str();
  trainBench->add_option("--baseline-coverage", trainOptions->baselineCoverage,
                         "the baseline's fixed lengths hold every token of this fraction of candidates")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 1.0));
  trainBench->add_option("--json", trainOptions->json, "write the figures as JSON");
  trainBench->callback([trainOptions] { runTrainBench(*trainOptions); });

  auto* rocBench = bench->add_subcommand("roc", "Time of ROC, AUC, knee and working points on many synthetic scores");
  auto rocOptions = std::make_shared<RocBenchOptions>();
  rocBench->add_option("-n,--candidates", rocOptions->candidates, "synthetic candidates")->capture_default_str();
  rocBench->add_option("--json", rocOptions->json, "write the figures as JSON");
  rocBench->callback([rocOptions] { runRocBench(*rocOptions); });

#ifdef TAUTRAIN_HAVE_ONNX
  auto* onnxBench = bench->add_subcommand(
      "onnx", "Inference with the exported graph in ONNX Runtime against LibTorch, same candidates, CPU");
  auto onnxOptions = std::make_shared<OnnxBenchOptions>();
  onnxBench->add_option("checkpoint", onnxOptions->checkpoint, "checkpoint (.pt)")->required()->check(CLI::ExistingFile);
  onnxBench->add_option("--data", onnxOptions->data, "shards (files, directories, globs)")->required();
  onnxBench->add_option("-n,--candidates", onnxOptions->measure.candidates, "the first candidates of the data")
      ->capture_default_str();
  onnxBench->add_option("--batch", onnxOptions->measure.batch_sizes, "candidates per call (one row each)")
      ->capture_default_str();
  onnxBench->add_option("--threads", onnxOptions->measure.threads, "intra-op threads of both")->capture_default_str();
  onnxBench->add_option("--rounds", onnxOptions->measure.rounds, "interleaved rounds; the median is reported")
      ->capture_default_str();
  onnxBench->add_option("--json", onnxOptions->json, "write the figures as JSON");
  onnxBench->callback([onnxOptions] { runOnnxBench(*onnxOptions); });
#endif

  auto* allReduce = bench->add_subcommand(
      "allreduce", "All-reduce time and bus bandwidth for the model's gradients and a size sweep (Gloo/NCCL)");
  auto allReduceOptions = std::make_shared<AllReduceBenchOptions>();
  allReduceOptions->config.addTo(*allReduce);
  allReduce->add_option("--ranks", allReduceOptions->ranks, "local ranks to launch when not under a launcher")
      ->capture_default_str();
  allReduce->add_option("--iterations", allReduceOptions->iterations, "timed all-reduces per size")->capture_default_str();
  allReduce->add_option("--device", allReduceOptions->device, "cpu (Gloo) or cuda (NCCL)")->capture_default_str();
  allReduce->add_option("--json", allReduceOptions->json, "write the figures as JSON (rank 0)");
  allReduce->callback([allReduceOptions] {
    // The ranks rerun this very command line.
    std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
    std::vector<std::string> arguments;
    for (std::string word; std::getline(cmdline, word, '\0');) arguments.push_back(word);
    arguments.erase(arguments.begin());
    runAllReduceBench(*allReduceOptions, arguments);
  });
}

}  // namespace tautrain::cli
