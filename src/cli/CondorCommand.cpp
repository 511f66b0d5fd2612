// `tautrain condor`: ready-to-submit HTCondor files for training, batch evaluation and studies
// (docs/htcondor.md). Jobs use HTCondor file transfer; shards and test data are read from the
// paths given (a shared file system), only configs, checkpoints and results travel.
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <sstream>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Log.hpp"
#include "tautrain/core/Machine.hpp"
#include "tautrain/core/Version.hpp"
#include "tautrain/data/Dataset.hpp"
#include "tautrain/data/Shard.hpp"
#include "tautrain/jobs/Condor.hpp"
#include "tautrain/io/Json.hpp"
#include "tautrain/train/Benchmark.hpp"
#include "tautrain/train/Checkpoint.hpp"

namespace tautrain::cli {

namespace {

namespace fs = std::filesystem;

struct Resources {
  int gpus = 1;
  int cpus = 4;
  double memory_gb = 16;
  double disk_gb = 20;
  double min_gpu_memory_gb = 0;
  double min_capability = 0;
  std::string gpu_memory_attribute;
  std::int64_t longest_tokens = 256;
  double checkpoint_minutes = 30;
  std::string executable;

  void addTo(CLI::App& command) {
    command.add_option("--gpus", gpus, "GPUs per training job (more than 1: tautrain launch inside the job; 0: CPU jobs)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    command.add_option("--cpus", cpus, "request_cpus")->capture_default_str();
    command.add_option("--memory-gb", memory_gb, "request_memory")->capture_default_str();
    command.add_option("--disk-gb", disk_gb, "request_disk")->capture_default_str();
    command.add_option("--min-gpu-memory-gb", min_gpu_memory_gb, "require GPUs with at least this memory (0: any)")
        ->check(CLI::NonNegativeNumber);
    command.add_option("--min-capability", min_capability, "require this CUDA compute capability, e.g. 8.0 (0: any)")
        ->check(CLI::NonNegativeNumber);
    command.add_option("--gpu-memory-attribute", gpu_memory_attribute,
                       "job attribute that carries the GPU memory estimate on clusters that share GPUs, e.g. "
                       "RequestGPUMemoryMB (default: only a comment)");
    command.add_option("--longest-tokens", longest_tokens, "tokens of the longest candidates, for the GPU memory estimate")
        ->capture_default_str();
    command.add_option("--checkpoint-minutes", checkpoint_minutes,
                       "training checkpoints and exits for HTCondor to save it this often (0: only by "
                       "train.checkpoint_every_steps)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    command.add_option("--executable", executable, "tautrain on the execute nodes (default: this program's path)");
  }
};

std::string absolute(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

/// The commands every job shares: program, arguments, resources, file transfer, logs.
jobs::SubmitFile jobFile(const std::string& what, const Resources& r, const std::vector<std::string>& arguments,
                         int gpus, const std::string& logName) {
  jobs::SubmitFile file(what + " (written by " + versionString() + "; see docs/htcondor.md)");
  file.set("universe", "vanilla");
  file.set("executable", r.executable.empty() ? executablePath() : r.executable);
  file.set("transfer_executable", "false");
  file.set("arguments", jobs::condorArguments(arguments));
  file.set("environment", "\"GLIBC_TUNABLES=glibc.malloc.hugetlb=1 OMP_NUM_THREADS=" + std::to_string(r.cpus) + "\"");
  file.set("should_transfer_files", "YES");
  file.set("when_to_transfer_output", "ON_EXIT");
  file.set("request_cpus", std::to_string(r.cpus));
  file.set("request_memory", fmt::format("{:g} GB", r.memory_gb));
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
jobs::SubmitFile trainingJob(const config::RunConfig& config, const Resources& r, const std::string& configFile,
                             const std::string& run, const std::string& moreArguments = "") {
  std::vector<std::string> arguments;
  if (r.gpus > 1) arguments = {"launch", "--nproc-per-node", std::to_string(r.gpus), "--master-port", "0", "--"};
  arguments.insert(arguments.end(), {"train", "--auto-resume", "-c", configFile, "-o", run, "--set",
                                     fmt::format("train.checkpoint_every_minutes={:g}", r.checkpoint_minutes), "--set",
                                     "train.exit_after_checkpoint=true"});
  auto file = jobFile(r.gpus > 1 ? "data-parallel training on " + std::to_string(r.gpus) + " GPUs" : "training", r,
                      arguments, r.gpus, "train");
  if (!moreArguments.empty()) {
    auto text = jobs::condorArguments(arguments);
    file.set("arguments", text.insert(text.size() - 1, " " + moreArguments));
  }
  file.set("transfer_input_files", configFile);
  file.set("transfer_output_files", run);
  // Self-checkpointing: the job exits with this code after each checkpoint, HTCondor keeps RUN
  // and starts it again (here, or elsewhere after an eviction) with RUN restored.
  file.set("checkpoint_exit_code", std::to_string(config.train.checkpoint_exit_code));
  file.set("transfer_checkpoint_files", run);
  if (r.gpus == 0) return file;
  const auto estimate =
      jobs::estimateGpuMemoryMb(config, [&] {
        const auto sizes = train::parameterSizes(config);
        return std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
      }(), r.longest_tokens);
  if (!r.gpu_memory_attribute.empty()) file.set("MY." + r.gpu_memory_attribute, std::to_string(estimate));
  else file.set("# estimated GPU memory (MB)", std::to_string(estimate));
  return file;
}

void write(const fs::path& path, const std::string& text) {
  io::writeFileAtomic(path.string(), text);
  std::cout << "wrote " << path.string() << "\n";
}

/// The device of jobs that ask for `gpus`: HTCondor's CUDA_VISIBLE_DEVICES makes "cuda" the job's GPU.
std::string jobDevice(int gpus) { return gpus > 0 ? "cuda" : "cpu"; }

/// The job directory with its logs folder and the run's effective config as run.yaml, its input
/// paths made absolute (jobs start in their scratch directory) and its device the one the jobs ask for.
void prepareJobDirectory(const std::string& directory, config::RunConfig config, const Resources& r) {
  fs::create_directories(fs::path(directory) / "logs");
  config.train.device = jobDevice(r.gpus);
  for (auto* paths : {&config.data.files, &config.data.train_files, &config.data.valid_files})
    for (auto& path : *paths) path = absolute(path);
  if (!config.data.scaler.empty()) config.data.scaler = absolute(config.data.scaler);
  if (config.data.features != "builtin") config.data.features = absolute(config.data.features);
  write(fs::path(directory) / "run.yaml", config::dumpRunConfig(config));
}

struct TrainJobOptions {
  ConfigOptions config;
  Resources resources;
  std::string out;
};

struct EvaluateJobOptions {
  ConfigOptions config;
  Resources resources;
  std::vector<std::string> checkpoints, data;
  std::string out;
};

struct StudyOptions {
  ConfigOptions config;
  Resources resources;
  std::string kind, out;
  std::vector<std::string> test;
  int seeds = 5;
  std::vector<double> fractions{0.125, 0.25, 0.5, 1};
  std::vector<double> max_dr{0.1, 0.2, 0.3};
};

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
jobs::SubmitFile scoringJob(const Resources& r, const std::vector<std::string>& data) {
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
jobs::SubmitFile finalJob(const Resources& r, const std::string& what, const std::vector<std::string>& arguments,
                          const std::vector<std::string>& inputs, const std::string& output) {
  auto file = jobFile(what, r, arguments, 0, "final");
  file.set("transfer_input_files", fmt::format("{}", fmt::join(inputs, ",")));
  file.set("transfer_output_files", output);
  return file;
}

void writeTrainJob(const TrainJobOptions& options) {
  const auto config = options.config.load();
  prepareJobDirectory(options.out, config, options.resources);
  const auto file = trainingJob(config, options.resources, "run.yaml", "run");
  write(fs::path(options.out) / "train.sub", file.text());
  std::cout << "submit with: cd " << options.out << " && condor_submit train.sub\n";
}

void writeEvaluateJobs(const EvaluateJobOptions& options) {
  // The models get the names `tautrain evaluate` gives them, so the merged table reads the same.
  const auto models = namedCheckpoints(options.checkpoints);
  TAUTRAIN_CHECK_KEY(!models.empty(), "--checkpoints", "no checkpoint matched");
  // A file that is no checkpoint is refused here, not hours later on an execute node.
  for (const auto& model : models) train::readCheckpointState(model.second);
  fs::create_directories(fs::path(options.out) / "logs");
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
  write(fs::path(options.out) / "score.sub", scoringJob(options.resources, options.data).text());
  write(fs::path(options.out) / "merge.sub",
        finalJob(options.resources, "one ROC table of every checkpoint", merge, evalDirs, "merged").text());
  write(fs::path(options.out) / "evaluate.dag",
        dagText("evaluation of " + std::to_string(models.size()) + " checkpoints", nodes, {{scoreNodes, {"merge"}}}));
  std::cout << "submit with: cd " << options.out << " && condor_submit_dag evaluate.dag\n";
}

void writeStudy(const StudyOptions& options) {
  auto config = options.config.load();
  if (options.kind != "patience") config.train.keep_checkpoints = 1;  // best and newest travel back
  prepareJobDirectory(options.out, config, options.resources);
  struct Variant {
    std::string name;
    std::vector<std::string> settings;
    std::string label;  ///< data scaling: the training-set size
  };
  std::vector<Variant> variants;
  if (options.kind == "seeds") {
    for (int s = 1; s <= options.seeds; ++s) variants.push_back({fmt::format("seed{}", s), {fmt::format("seed={}", s)}, ""});
  } else if (options.kind == "data-scaling") {
    const auto schema = data::FeatureSchema::fromSpec(config.data.features);
    for (const double f : options.fractions) {
      auto scaled = config.data;
      scaled.train_fraction = f;
      const auto split = data::splitFiles(scaled);
      std::int64_t candidates = 0;
      for (const auto& file : split.train) candidates += data::ShardReader(file, schema).size();
      variants.push_back({nodeName("frac", f), {fmt::format("data.train_fraction={:g}", f)}, std::to_string(candidates)});
    }
  } else if (options.kind == "pruning") {
    for (const double dr : options.max_dr)
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
    if (options.kind == "patience") {
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
  for (const auto& t : options.test) test.push_back(absolute(t));
  if (options.kind == "seeds") {
    finalArguments = {"ensemble", "--scores"};
    for (const auto& v : variants) finalArguments.push_back("eval-" + v.name + "/scores");
  } else if (options.kind == "data-scaling") {
    finalArguments = {"fit", "data-scaling", "--out", "study/data-scaling"};
    for (const auto& v : variants) finalArguments.insert(finalArguments.end(), {"--run", v.label + "=eval-" + v.name});
  } else if (options.kind == "pruning") {
    finalArguments = {"roc", "--scores"};
    for (const auto& v : variants) finalArguments.push_back("eval-" + v.name + "/scores");
  } else {
    finalArguments = {"patience", "--run", "run-patience", "--data"};
    finalArguments.insert(finalArguments.end(), test.begin(), test.end());
  }
  if (options.kind != "data-scaling") finalArguments.insert(finalArguments.end(), {"-o", "study"});
  nodes.push_back({"final", "final.sub", {}});
  edges.push_back({last, {"final"}});

  // One training submit file serves every variant through the DAG's VARS.
  const auto train = trainingJob(config, options.resources, "run.yaml", "$(run)", "$(settings)");
  write(fs::path(options.out) / "train.sub", train.text());
  if (options.kind != "patience") write(fs::path(options.out) / "score.sub", scoringJob(options.resources, options.test).text());
  write(fs::path(options.out) / "final.sub",
        finalJob(options.resources, options.kind + " study: fits, tables and plots", finalArguments, finalInputs, "study").text());
  write(fs::path(options.out) / "study.dag", dagText(options.kind + " study", nodes, edges));
  std::cout << "submit with: cd " << options.out << " && condor_submit_dag study.dag\n";
}

}  // namespace

void addCondorCommand(CLI::App& app) {
  auto* condor = app.add_subcommand("condor", "Write HTCondor submit files and DAGs (docs/htcondor.md)");
  condor->require_subcommand(1);

  auto* train = condor->add_subcommand("train", "A self-checkpointing training job (one GPU, or several with --gpus)");
  auto trainOptions = std::make_shared<TrainJobOptions>();
  trainOptions->config.addTo(*train);
  trainOptions->resources.addTo(*train);
  train->add_option("-o,--out", trainOptions->out, "job directory to write")->required();
  train->callback([trainOptions] { writeTrainJob(*trainOptions); });

  auto* evaluate = condor->add_subcommand("evaluate", "A DAG: one scoring job per checkpoint, then one merged ROC table");
  auto evaluateOptions = std::make_shared<EvaluateJobOptions>();
  evaluateOptions->config.addTo(*evaluate);
  evaluateOptions->resources.addTo(*evaluate);
  evaluate->add_option("--checkpoints", evaluateOptions->checkpoints, "checkpoint files, globs or directories")->required();
  evaluate->add_option("--data", evaluateOptions->data, "test shards (paths the execute nodes can read)")->required();
  evaluate->add_option("-o,--out", evaluateOptions->out, "job directory to write")->required();
  evaluate->callback([evaluateOptions] { writeEvaluateJobs(*evaluateOptions); });

  auto* study = condor->add_subcommand("study", "A DAG of training runs, their evaluation and a final fit/plot node");
  auto studyOptions = std::make_shared<StudyOptions>();
  studyOptions->config.addTo(*study);
  studyOptions->resources.addTo(*study);
  study->add_option("kind", studyOptions->kind, "seeds, data-scaling, patience or pruning")
      ->required()
      ->check(CLI::IsMember({"seeds", "data-scaling", "patience", "pruning"}));
  study->add_option("--test", studyOptions->test, "test shards (paths the execute nodes can read)")->required();
  study->add_option("-o,--out", studyOptions->out, "job directory to write")->required();
  study->add_option("--seeds", studyOptions->seeds, "seeds: runs 1..N")->capture_default_str();
  study->add_option("--fractions", studyOptions->fractions, "data-scaling: training fractions")->capture_default_str();
  study->add_option("--max-dr", studyOptions->max_dr, "pruning: data.pruning.max_dr values")->capture_default_str();
  study->callback([studyOptions] { writeStudy(*studyOptions); });
}

}  // namespace tautrain::cli
