#pragma once
#include <string>

namespace tautrain {
/// "tautrain X.Y.Z (LibTorch A.B.C)"; defined where the build knows both.
std::string versionString();
}  // namespace tautrain
