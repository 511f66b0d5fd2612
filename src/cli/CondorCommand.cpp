// `tautrain condor`: ready-to-submit HTCondor files for training, batch evaluation and studies
// (docs/htcondor.md). The jobs module composes them; this parses, writes and says what it wrote.
#include <filesystem>
#include <iostream>

#include "tautrain/cli/Commands.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/io/Json.hpp"
#include "tautrain/jobs/Submit.hpp"
#include "tautrain/train/Checkpoint.hpp"

namespace tautrain::cli {

namespace {

namespace fs = std::filesystem;

void addResourceOptions(CLI::App& command, jobs::JobResources& r) {
  command.add_option("--gpus", r.gpus, "GPUs per training job (more than 1: tautrain launch inside the job; 0: CPU jobs)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command.add_option("--cpus", r.cpus, "request_cpus")->capture_default_str();
  command.add_option("--memory-gb", r.memory_gb,
                     "request_memory (default: training jobs predict theirs from the config and the data, "
                     "other jobs ask for 16)")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--disk-gb", r.disk_gb, "request_disk")->capture_default_str();
  command.add_option("--min-gpu-memory-gb", r.min_gpu_memory_gb, "require GPUs with at least this memory (0: any)")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--min-capability", r.min_capability, "require this CUDA compute capability, e.g. 8.0 (0: any)")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--gpu-memory-attribute", r.gpu_memory_attribute,
                     "job attribute that carries the GPU memory estimate on clusters that share GPUs, e.g. "
                     "RequestGPUMemoryMB (default: only a comment)");
  command.add_option("--longest-tokens", r.longest_tokens, "tokens of the longest candidates, for the memory estimates")
      ->capture_default_str();
  command.add_option("--checkpoint-minutes", r.checkpoint_minutes,
                     "training checkpoints and exits for HTCondor to save it this often (0: only by "
                     "train.checkpoint_every_steps)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command.add_option("--executable", r.executable, "tautrain on the execute nodes (default: this program's path)");
}

/// The job directory with its logs folder (HTCondor does not create it) and `files`.
void writeJobDirectory(const std::string& directory, const std::vector<jobs::JobFile>& files) {
  fs::create_directories(fs::path(directory) / "logs");
  for (const auto& file : files) {
    const auto path = fs::path(directory) / file.name;
    io::writeFileAtomic(path.string(), file.text);
    std::cout << "wrote " << path.string() << "\n";
  }
}

struct TrainJobOptions {
  ConfigOptions config;
  jobs::JobResources resources;
  std::string out;
};

struct EvaluateJobOptions {
  ConfigOptions config;
  jobs::JobResources resources;
  std::vector<std::string> checkpoints, data;
  std::string out;
};

struct StudyOptions {
  ConfigOptions config;
  jobs::JobResources resources;
  jobs::StudySpec spec;
  std::string out;
};

void writeTrainJob(const TrainJobOptions& options) {
  writeJobDirectory(options.out, jobs::trainingJobFiles(options.config.load(), options.resources));
  std::cout << "submit with: cd " << options.out << " && condor_submit train.sub\n";
}

void writeEvaluateJobs(const EvaluateJobOptions& options) {
  // The models get the names `tautrain evaluate` gives them, so the merged table reads the same.
  const auto models = namedCheckpoints(options.checkpoints);
  TAUTRAIN_CHECK_KEY(!models.empty(), "--checkpoints", "no checkpoint matched");
  // A file that is no checkpoint is refused here, not hours later on an execute node.
  for (const auto& model : models) train::readCheckpointState(model.second);
  writeJobDirectory(options.out, jobs::evaluationDagFiles(models, options.data, options.resources));
  std::cout << "submit with: cd " << options.out << " && condor_submit_dag evaluate.dag\n";
}

void writeStudy(StudyOptions options) {
  writeJobDirectory(options.out, jobs::studyDagFiles(options.config.load(), options.spec, options.resources));
  std::cout << "submit with: cd " << options.out << " && condor_submit_dag study.dag\n";
}

}  // namespace

void addCondorCommand(CLI::App& app) {
  auto* condor = app.add_subcommand("condor", "Write HTCondor submit files and DAGs (docs/htcondor.md)");
  condor->require_subcommand(1);

  auto* train = condor->add_subcommand("train", "A self-checkpointing training job (one GPU, or several with --gpus)");
  auto trainOptions = std::make_shared<TrainJobOptions>();
  trainOptions->config.addTo(*train);
  addResourceOptions(*train, trainOptions->resources);
  train->add_option("-o,--out", trainOptions->out, "job directory to write")->required();
  train->callback([trainOptions] { writeTrainJob(*trainOptions); });

  auto* evaluate = condor->add_subcommand("evaluate", "A DAG: one scoring job per checkpoint, then one merged ROC table");
  auto evaluateOptions = std::make_shared<EvaluateJobOptions>();
  evaluateOptions->config.addTo(*evaluate);
  addResourceOptions(*evaluate, evaluateOptions->resources);
  evaluate->add_option("--checkpoints", evaluateOptions->checkpoints, "checkpoint files, globs or directories")->required();
  evaluate->add_option("--data", evaluateOptions->data, "test shards (paths the execute nodes can read)")->required();
  evaluate->add_option("-o,--out", evaluateOptions->out, "job directory to write")->required();
  evaluate->callback([evaluateOptions] { writeEvaluateJobs(*evaluateOptions); });

  auto* study = condor->add_subcommand("study", "A DAG of training runs, their evaluation and a final fit/plot node");
  auto studyOptions = std::make_shared<StudyOptions>();
  studyOptions->config.addTo(*study);
  addResourceOptions(*study, studyOptions->resources);
  addNamedOption(*study, "kind", studyOptions->spec.kind, "the study")->required();
  study->add_option("--test", studyOptions->spec.test, "test shards (paths the execute nodes can read)")->required();
  study->add_option("-o,--out", studyOptions->out, "job directory to write")->required();
  study->add_option("--seeds", studyOptions->spec.seeds, "seeds: runs 1..N")->capture_default_str();
  study->add_option("--fractions", studyOptions->spec.fractions, "data-scaling: training fractions")->capture_default_str();
  study->add_option("--max-dr", studyOptions->spec.max_dr, "pruning: data.pruning.max_dr values")->capture_default_str();
  study->callback([studyOptions] { writeStudy(*studyOptions); });
}

}  // namespace tautrain::cli
