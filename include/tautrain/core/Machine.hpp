#pragma once
#include <string>

namespace tautrain {
/// "hostname: CPU model, N cores" for benchmark records.
std::string machineDescription();
}  // namespace tautrain
