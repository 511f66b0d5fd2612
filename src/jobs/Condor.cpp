#include "tautrain/jobs/Condor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tautrain/config/RunConfig.hpp"
#include "tautrain/core/Error.hpp"
#include "tautrain/core/Text.hpp"
#include "tautrain/data/Batching.hpp"
#include "tautrain/data/FeatureSchema.hpp"
#include "tautrain/dist/RankInfo.hpp"
#include "tautrain/model/Cost.hpp"

namespace tautrain::jobs {

std::map<std::string, std::string> parseJobAd(const std::string& text) {
  std::map<std::string, std::string> ad;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    ad[trim(line.substr(0, eq))] = value;
  }
  return ad;
}

std::string CondorJob::id() const {
  const auto cluster = ad.find("ClusterId"), proc = ad.find("ProcId");
  return cluster != ad.end() && proc != ad.end() ? cluster->second + "." + proc->second : "";
}

CondorJob condorJobFromEnvironment() {
  CondorJob job;
  if (const char* scratch = std::getenv("_CONDOR_SCRATCH_DIR")) job.scratch = scratch, job.inside = true;
  if (const char* adFile = std::getenv("_CONDOR_JOB_AD")) {
    job.inside = true;
    std::ifstream in(adFile);
    job.ad = parseJobAd({std::istreambuf_iterator<char>(in), {}});
  }
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) job.gpus = dist::visibleDevices(visible);
  return job;
}

void SubmitFile::set(const std::string& command, const std::string& value) {
  for (auto& item : m_commands)
    if (item.first == command) {
      item.second = value;
      return;
    }
  m_commands.emplace_back(command, value);
}

std::string SubmitFile::text() const {
  std::string out = "# " + m_comment + "\n";
  for (const auto& [command, value] : m_commands) out += command + " = " + value + "\n";
  return out + m_queue + "\n";
}

std::string condorArguments(const std::vector<std::string>& words) {
  std::string out = "\"";
  for (std::size_t i = 0; i < words.size(); ++i) {
    TAUTRAIN_CHECK_KEY(words[i].find_first_of("\"'") == std::string::npos, "arguments", "'", words[i],
                       "' holds a quote, which these HTCondor arguments cannot carry");
    if (i) out += ' ';
    out += words[i].find(' ') == std::string::npos ? words[i] : "'" + words[i] + "'";
  }
  return out + "\"";
}

std::int64_t estimateGpuMemoryMb(const config::RunConfig& config, std::int64_t parameters, std::int64_t longest) {
  // bf16 autocast keeps about half its saved values in fp32 (norm inputs, the residual stream).
  const int valueBytes = config.train.precision == train::Precision::kBf16 ? 3 : 4;
  const model::CostModel cost(data::FeatureSchema::fromSpec(config.data.features), config.model, valueBytes);
  constexpr double kContextMb = 600;  // CUDA context and LibTorch kernels
  longest = std::min(longest, config.data.hard_token_limit);  // no candidate is longer
  const double mb = kContextMb + cost.worstTrainingMemoryBytes(parameters, data::batchingOptions(config.data), longest) /
                                     (1024.0 * 1024.0);
  // 25 % headroom for the caching allocator's fragmentation, rounded up to 256 MiB.
  return static_cast<std::int64_t>(std::ceil(mb * 1.25 / 256.0) * 256.0);
}

}  // namespace tautrain::jobs
