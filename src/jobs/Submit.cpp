#include "tautrain/jobs/Submit.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Machine.hpp"
#include "tautrain/core/Version.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Shard.hpp"
#include "tautrain/jobs/Condor.hpp"
#include "tautrain/train/Benchmark.hpp"
#include "tautrain/train/HostMemory.hpp"

namespace tautrain::jobs {

namespace fs = std::filesystem;

namespace {

std::string absolute(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

/// request_memory of the jobs whose memory has no model yet (scoring, merging, studies' last step).
constexpr double kUnmodelledJobMemoryGb = 16;

std::int64_t parameterCount(const config::RunConfig& config) {
  const auto sizes = train::parameterSizes(config);
  return std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
}

/// request_memory of a training job: the predicted peak of each of its ranks
/// (train/HostMemory.hpp) with a quarter's headroom, rounded up to half a GB. Where the data
/// cannot be read (it exists only on the execute nodes), kUnmodelledJobMemoryGb and why.
std::pair<double, std::string> trainingMemoryGb(const config::RunConfig& config, const JobResources& r) {
  const auto schema = data::FeatureSchema::fromSpec(config.data.features);
  data::DataExtent train, valid;
  try {
    const auto split = data::splitFiles(config.data);
    train = data::measureExtent(split.train, schema), valid = data::measureExtent(split.valid, schema);
  } catch (const DataError& e) {
    return {kUnmodelledJobMemoryGb, std::string("not predicted, the data cannot be read here: ") + e.what()};
  }
  const int ranks = std::max(r.gpus, 1);
  const auto memory =
      train::predictHostMemory(config, train, valid, parameterCount(config), r.longest_tokens, r.gpus > 0, ranks);
  return {std::ceil(memory.total() * ranks * 1.25 / 0.5e9) * 0.5,
          fmt::format("predicted peak {:.2f} GB per rank for {} candidates in {} shards", memory.total() / 1e9,
                      train.candidates + valid.candidates, train.shards + valid.shards)};
}

/// The commands every job shares: program, arguments, resources, file transfer, logs.
SubmitFile jobFile(const std::string& what, const JobResources& r, const std::vector<std::string>& arguments, int gpus,
                   const std::string& logName) {
  SubmitFile file(what + " (written by " + versionString() + "; see docs/htcondor.md)");
  file.set("universe", "vanilla");
  file.set("executable", r.executable.empty() ? executablePath() : r.executable);
  file.set("transfer_executable", "false");
  file.set("arguments", condorArguments(arguments));
  file.set("environment", "\"GLIBC_TUNABLES=glibc.malloc.hugetlb=1 OMP_NUM_THREADS=" + std::to_string(r.cpus) + "\"");
  file.set("should_transfer_files", "YES");
  file.set("when_to_transfer_output", "ON_EXIT");
  file.set("request_cpus", std::to_string(r.cpus));
  file.set("request_memory", fmt::format("{:g} GB", r.memory_gb > 0 ? r.memory_gb : kUnmodelledJobMemoryGb));
  file.set("request_disk", fmt::format("{:g} GB", r.disk_gb));
  if (gpus > 0) {
    file.set("request_GPUs", std::to_string(gpus));
    // HTCondor's own commands (>= 10.0) write RequireGPUs on the GPU properties slots advertise.
    if (r.min_gpu_memory_gb > 0) file.set("gpus_minimum_memory", fmt::format("{:.0f}", r.min_gpu_memory_gb * 1024));
    if (r.min_capability > 0) file.set("gpus_minimum_capability", fmt::format("{:.1f}", r.min_capability));
  }
  file.set("output", "logs/" + logName + ".$(ClusterId).$(ProcId).out");
  file.set("error", "logs/" + logName + ".$(ClusterId).$(ProcId).err");
  file.set("log", "logs/" + logName + ".log");
  return file;
}

/// A training job of `config` writing RUN: self-checkpointing, resumed wherever HTCondor restarts
/// it. `moreArguments` is appended as written (a DAG's $(VARS)).
SubmitFile trainingJob(const config::RunConfig& config, const JobResources& r, const std::string& configFile,
                       const std::string& run, const std::string& moreArguments = "") {
  std::vector<std::string> arguments;
  if (r.gpus > 1) arguments = {"launch", "--nproc-per-node", std::to_string(r.gpus), "--master-port", "0", "--"};
  arguments.insert(arguments.end(), {"train", "--auto-resume", "-c", configFile, "-o", run, "--set",
                                     fmt::format("train.checkpoint_every_minutes={:g}", r.checkpoint_minutes), "--set",
                                     "train.exit_after_checkpoint=true"});
  auto file = jobFile(r.gpus > 1 ? "data-parallel training on " + std::to_string(r.gpus) + " GPUs" : "training", r,
                      arguments, r.gpus, "train");
  if (!moreArguments.empty()) {
    auto text = condorArguments(arguments);
    file.set("arguments", text.insert(text.size() - 1, " " + moreArguments));
  }
  if (r.memory_gb <= 0) {
    const auto [gb, why] = trainingMemoryGb(config, r);
    file.set("request_memory", fmt::format("{:g} GB", gb));
    file.set("# request_memory", why + " (--memory-gb sets it)");
  }
  file.set("transfer_input_files", configFile);
  file.set("transfer_output_files", run);
  // Self-checkpointing: the job exits with this code after each checkpoint, HTCondor keeps RUN
  // and starts it again (here, or elsewhere after an eviction) with RUN restored.
  file.set("checkpoint_exit_code", std::to_string(config.train.checkpoint_exit_code));
  file.set("transfer_checkpoint_files", run);
  if (r.gpus == 0) return file;
  const auto estimate = estimateGpuMemoryMb(config, parameterCount(config), r.longest_tokens);
  if (!r.gpu_memory_attribute.empty()) file.set("MY." + r.gpu_memory_attribute, std::to_string(estimate));
  else file.set("# estimated GPU memory (MB)", std::to_string(estimate));
  return file;
}

/// run.yaml: the run's effective config, its input paths made absolute (jobs start in their
/// scratch directory) and its device the one the jobs ask for.
JobFile runYaml(config::RunConfig config, const JobResources& r) {
  config.train.device = jobDevice(r.gpus);
  for (auto* paths : {&config.data.files, &config.data.train_files, &config.data.valid_files})
    for (auto& path : *paths) path = absolute(path);
  if (!config.data.scaler.empty()) config.data.scaler = absolute(config.data.scaler);
  if (config.data.features != "builtin") config.data.features = absolute(config.data.features);
  return {"run.yaml", config::dumpRunConfig(config)};
}

/// "frac0p125" for ("frac", 0.125): node and directory names without dots.
std::string nodeName(const std::string& prefix, double value) {
  auto text = fmt::format("{:g}", value);
  std::replace(text.begin(), text.end(), '.', 'p');
  return prefix + text;
}

/// A DAG node: job name, submit file, VARS.
struct Node {
  std::string name, submit;
  std::vector<std::pair<std::string, std::string>> vars;
};

std::string dagText(const std::string& comment, const std::vector<Node>& nodes,
                    const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>>& edges) {
  std::string dag = "# " + comment + " (written by " + versionString() + "; condor_submit_dag it)\n";
  for (const auto& n : nodes) {
    dag += "JOB " + n.name + " " + n.submit + "\n";
    if (!n.vars.empty()) {
      dag += "VARS " + n.name;
      for (const auto& [k, v] : n.vars) dag += " " + k + "=\"" + v + "\"";
      dag += "\n";
    }
    dag += "RETRY " + n.name + " 2\n";
  }
  for (const auto& [parents, children] : edges)
    dag += fmt::format("PARENT {} CHILD {}\n", fmt::join(parents, " "), fmt::join(children, " "));
  return dag;
}

/// Scoring job: evaluates $(checkpoint) (in directory $(run), transferred) on the test data.
SubmitFile scoringJob(const JobResources& r, const std::vector<std::string>& data) {
  const int gpus = r.gpus > 0 ? 1 : 0;
  std::vector<std::string> arguments{"evaluate", "--checkpoints", "$(checkpoint)", "--name", "$(name)",
                                     "--device", jobDevice(gpus), "--data"};
  for (const auto& d : data) arguments.push_back(absolute(d));
  arguments.insert(arguments.end(), {"-o", "eval-$(name)"});
  auto file = jobFile("scoring one checkpoint", r, arguments, gpus, "score");
  file.set("transfer_input_files", "$(inputs)");
  file.set("transfer_output_files", "eval-$(name)");
  return file;
}

/// The final node: a tautrain command over the results its parents brought back.
SubmitFile finalJob(const JobResources& r, const std::string& what, const std::vector<std::string>& arguments,
                          const std::vector<std::string>& inputs, const std::string& output) {
  auto file = jobFile(what, r, arguments, 0, "final");
  file.set("transfer_input_files", fmt::format("{}", fmt::join(inputs, ",")));
  file.set("transfer_output_files", output);
  return file;
}

}  // namespace

std::string jobDevice(int gpus) { return gpus > 0 ? "cuda" : "cpu"; }

std::vector<JobFile> trainingJobFiles(const config::RunConfig& config, const JobResources& r) {
  return {runYaml(config, r), {"train.sub", trainingJob(config, r, "run.yaml", "run").text()}};
}

std::vector<JobFile> evaluationDagFiles(const std::vector<std::pair<std::string, std::string>>& models,
                                        const std::vector<std::string>& testData, const JobResources& r) {
  std::vector<Node> nodes;
  std::vector<std::string> scoreNodes, evalDirs;
  for (std::size_t i = 0; i < models.size(); ++i) {
    const auto& name = models[i].first;
    const fs::path checkpoint = absolute(models[i].second);
    nodes.push_back({"score" + std::to_string(i), "score.sub",
                     {{"name", name}, {"inputs", checkpoint.string()}, {"checkpoint", checkpoint.filename().string()}}});
    scoreNodes.push_back(nodes.back().name);
    evalDirs.push_back("eval-" + name);
  }
  std::vector<std::string> merge{"roc", "--scores"};
  for (const auto& d : evalDirs) merge.push_back(d + "/scores");
  merge.insert(merge.end(), {"-o", "merged"});
  nodes.push_back({"merge", "merge.sub", {}});
  return {{"score.sub", scoringJob(r, testData).text()},
          {"merge.sub", finalJob(r, "one ROC table of every checkpoint", merge, evalDirs, "merged").text()},
          {"evaluate.dag",
           dagText("evaluation of " + std::to_string(models.size()) + " checkpoints", nodes, {{scoreNodes, {"merge"}}})}};
}

std::vector<JobFile> studyDagFiles(const config::RunConfig& runConfig, const StudySpec& spec, const JobResources& r) {
  auto config = runConfig;
  if (spec.kind != StudyKind::kPatience) config.train.keep_checkpoints = 1;  // best and newest travel back
  struct Variant {
    std::string name;
    std::vector<std::string> settings;
    std::string label;  ///< data scaling: the training-set size
  };
  std::vector<Variant> variants;
  if (spec.kind == StudyKind::kSeeds) {
    for (int s = 1; s <= spec.seeds; ++s) variants.push_back({fmt::format("seed{}", s), {fmt::format("seed={}", s)}, ""});
  } else if (spec.kind == StudyKind::kDataScaling) {
    const auto schema = data::FeatureSchema::fromSpec(config.data.features);
    for (const double f : spec.fractions) {
      auto scaled = config.data;
      scaled.train_fraction = f;
      const auto split = data::splitFiles(scaled);
      std::int64_t candidates = 0;
      for (const auto& file : split.train) candidates += data::ShardReader(file, schema).size();
      variants.push_back({nodeName("frac", f), {fmt::format("data.train_fraction={:g}", f)}, std::to_string(candidates)});
    }
  } else if (spec.kind == StudyKind::kPruning) {
    for (const double dr : spec.max_dr)
      variants.push_back({nodeName("dr", dr), {fmt::format("data.pruning.max_dr={:g}", dr)}, ""});
  } else {
    variants.push_back({"patience", {"train.keep_checkpoints=0"}, ""});
  }

  std::vector<Node> nodes;
  std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> edges;
  std::vector<std::string> last, finalInputs;
  std::vector<std::string> finalArguments;
  for (const auto& v : variants) {
    const auto run = "run-" + v.name;
    std::string settings;
    for (const auto& setting : v.settings) settings += (settings.empty() ? "--set " : " --set ") + setting;
    nodes.push_back({"train_" + v.name, "train.sub", {{"run", run}, {"settings", settings}}});
    if (spec.kind == StudyKind::kPatience) {
      last.push_back(nodes.back().name);
      finalInputs.push_back(run);
      continue;
    }
    nodes.push_back({"score_" + v.name, "score.sub",
                     {{"name", v.name}, {"inputs", run}, {"checkpoint", run + "/best.pt"}}});
    edges.push_back({{"train_" + v.name}, {"score_" + v.name}});
    last.push_back(nodes.back().name);
    finalInputs.push_back("eval-" + v.name);
  }
  std::vector<std::string> test;
  for (const auto& t : spec.test) test.push_back(absolute(t));
  if (spec.kind == StudyKind::kSeeds) {
    finalArguments = {"ensemble", "--scores"};
    for (const auto& v : variants) finalArguments.push_back("eval-" + v.name + "/scores");
  } else if (spec.kind == StudyKind::kDataScaling) {
    finalArguments = {"fit", "data-scaling", "--out", "study/data-scaling"};
    for (const auto& v : variants) finalArguments.insert(finalArguments.end(), {"--run", v.label + "=eval-" + v.name});
  } else if (spec.kind == StudyKind::kPruning) {
    finalArguments = {"roc", "--scores"};
    for (const auto& v : variants) finalArguments.push_back("eval-" + v.name + "/scores");
  } else {
    finalArguments = {"patience", "--run", "run-patience", "--data"};
    finalArguments.insert(finalArguments.end(), test.begin(), test.end());
  }
  if (spec.kind != StudyKind::kDataScaling) finalArguments.insert(finalArguments.end(), {"-o", "study"});
  nodes.push_back({"final", "final.sub", {}});
  edges.push_back({last, {"final"}});

  // One training submit file serves every variant through the DAG's VARS.
  const std::string kind = core::nameOf(spec.kind);
  std::vector<JobFile> files{runYaml(config, r),
                             {"train.sub", trainingJob(config, r, "run.yaml", "$(run)", "$(settings)").text()}};
  if (spec.kind != StudyKind::kPatience) files.push_back({"score.sub", scoringJob(r, spec.test).text()});
  files.push_back(
      {"final.sub", finalJob(r, kind + " study: fits, tables and plots", finalArguments, finalInputs, "study").text()});
  files.push_back({"study.dag", dagText(kind + " study", nodes, edges)});
  return files;
}

}  // namespace tautrain::jobs
