#include "tautrain/core/Version.hpp"

namespace tautrain {
std::string versionString() { return "tautrain " TAUTRAIN_VERSION " (LibTorch " TAUTRAIN_TORCH_VERSION ")"; }
}  // namespace tautrain
