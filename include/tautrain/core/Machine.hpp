#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tautrain {
/// "hostname: CPU model, N cores" for benchmark records.
std::string machineDescription();
/// The path of the running program (the ranks and batch jobs it starts run the same one).
std::string executablePath();
/// Runs argv[0] (looked up in PATH) to its end, no shell in between. Its stdout goes to
/// stdoutPath, its stderr to stderrPath (the same file when the paths are equal; empty: this
/// process's stderr). Returns its exit code: 127 when it could not start, 128 + signal when killed.
int runProgram(const std::vector<std::string>& argv, const std::string& stdoutPath, const std::string& stderrPath = "");
/// Raises this process's limit of open files to the most it may have: every open shard keeps
/// a file open, and a thesis-scale dataset has thousands. Returns the limit now in force.
std::int64_t raiseOpenFileLimit();
/// Peak resident memory of this process since it started or since resetPeakResidentBytes().
std::int64_t peakResidentBytes();
/// Starts the peak over from the current resident memory, so one phase can be measured alone.
void resetPeakResidentBytes();
}  // namespace tautrain
