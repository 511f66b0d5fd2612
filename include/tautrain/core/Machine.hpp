#pragma once
#include <string>

namespace tautrain {
/// "hostname: CPU model, N cores" for benchmark records.
std::string machineDescription();
/// The path of the running program (the ranks and batch jobs it starts run the same one).
std::string executablePath();
}  // namespace tautrain
