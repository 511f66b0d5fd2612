#pragma once
// What `tautrain condor` writes into a job directory: the run's config, self-checkpointing
// training jobs, scoring jobs and the DAGs of evaluations and studies (docs/htcondor.md). These
// functions only compose the files; the command writes them and says so.
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tautrain/core/Names.hpp"

namespace tautrain::config {
struct RunConfig;
}

namespace tautrain::jobs {

/// What every job asks HTCondor for.
struct JobResources {
  int gpus = 1;  ///< per training job; more than 1 runs `tautrain launch` in the job, 0 CPU jobs
  int cpus = 4;
  double memory_gb = 0;  ///< request_memory; 0: training jobs predict theirs, the others ask for 16 GB
  double disk_gb = 20;
  double min_gpu_memory_gb = 0;  ///< 0: any
  double min_capability = 0;     ///< CUDA compute capability; 0: any
  std::string gpu_memory_attribute;  ///< job attribute for the GPU-memory estimate; empty: a comment
  std::int64_t longest_tokens = 256;  ///< of the longest candidates, for the memory estimates
  double checkpoint_minutes = 30;     ///< training checkpoints and exits this often (0: by steps only)
  std::string executable;             ///< tautrain on the execute nodes; empty: this program
};

/// A file of the job directory: its name there and its text.
struct JobFile {
  std::string name, text;
};

/// The device jobs that ask for `gpus` GPUs run on: HTCondor's CUDA_VISIBLE_DEVICES makes
/// "cuda" the job's own GPU.
std::string jobDevice(int gpus);

/// run.yaml and train.sub of one self-checkpointing training job of `config`.
std::vector<JobFile> trainingJobFiles(const config::RunConfig& config, const JobResources& resources);

/// score.sub, merge.sub and evaluate.dag: one scoring job per (model name, checkpoint) on
/// `testData`, then one ROC table of them all.
std::vector<JobFile> evaluationDagFiles(const std::vector<std::pair<std::string, std::string>>& models,
                                        const std::vector<std::string>& testData, const JobResources& resources);

enum class StudyKind { kSeeds, kDataScaling, kPatience, kPruning };
constexpr std::array<core::Named<StudyKind>, 4> names(StudyKind) {
  return {{{StudyKind::kSeeds, "seeds"},
           {StudyKind::kDataScaling, "data-scaling"},
           {StudyKind::kPatience, "patience"},
           {StudyKind::kPruning, "pruning"}}};
}

struct StudySpec {
  StudyKind kind = StudyKind::kSeeds;
  std::vector<std::string> test;  ///< test shards
  int seeds = 5;
  std::vector<double> fractions{0.125, 0.25, 0.5, 1};  ///< data scaling: training fractions
  std::vector<double> max_dr{0.1, 0.2, 0.3};           ///< pruning: data.pruning.max_dr values
};

/// run.yaml, train.sub (every variant through the DAG's VARS), score.sub (not for patience),
/// final.sub and study.dag of a study over `config`.
std::vector<JobFile> studyDagFiles(const config::RunConfig& config, const StudySpec& spec, const JobResources& resources);

}  // namespace tautrain::jobs
