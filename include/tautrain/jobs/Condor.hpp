#pragma once
// HTCondor, the batch system: what a job finds in its environment, and submit descriptions to write.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tautrain::config {
struct RunConfig;
}

namespace tautrain::jobs {

/// A job ClassAd file (_CONDOR_JOB_AD): `Name = value` lines, strings unquoted.
std::map<std::string, std::string> parseJobAd(const std::string& text);

struct CondorJob {
  bool inside = false;      ///< running as an HTCondor job
  std::string scratch;      ///< _CONDOR_SCRATCH_DIR
  std::map<std::string, std::string> ad;
  std::vector<std::string> gpus;  ///< from CUDA_VISIBLE_DEVICES
  /// "ClusterId.ProcId" when the ad has them.
  std::string id() const;
};

CondorJob condorJobFromEnvironment();

/// A submit description, written in the order its commands were set.
class SubmitFile {
 public:
  explicit SubmitFile(std::string comment) : m_comment(std::move(comment)) {}
  void set(const std::string& command, const std::string& value);
  void queue(const std::string& statement) { m_queue = statement; }
  std::string text() const;

 private:
  std::string m_comment;
  std::vector<std::pair<std::string, std::string>> m_commands;
  std::string m_queue = "queue";
};

/// HTCondor's argument syntax: double-quoted, words separated by spaces, a word with spaces in
/// single quotes.
std::string condorArguments(const std::vector<std::string>& words);

/// GPU memory (MiB) a training run is expected to need at its peak: CUDA context, weights,
/// gradients and Adam moments, and the activations of a batch of `longest` tokens per candidate
/// (docs/htcondor.md gives the formula). For request_GPUMemoryMB on clusters that share GPUs.
std::int64_t estimateGpuMemoryMb(const config::RunConfig& config, std::int64_t parameters, std::int64_t longest);

}  // namespace tautrain::jobs
