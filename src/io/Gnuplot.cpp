#include "tautrain/io/Gnuplot.hpp"


#include <atomic>
#include <cstdlib>

#include "tautrain/core/Log.hpp"
#include "tautrain/core/Machine.hpp"
#include "tautrain/io/Json.hpp"

namespace tautrain::io {

bool runGnuplot(const std::string& stem, const std::string& script) {
  static const bool available = std::system("command -v gnuplot > /dev/null 2>&1") == 0;
  static std::atomic<bool> warned{false};
  if (!available) {
    if (!warned.exchange(true)) log::get("plot")->warn("gnuplot not found: no plots; every table is written anyway");
    return false;
  }
  writeFileAtomic(stem + ".gp", script);
  if (runProgram({"gnuplot", stem + ".gp"}, stem + ".log", stem + ".log") != 0) {
    log::get("plot")->warn("gnuplot failed on {0}.gp; see {0}.log", stem);
    return false;
  }
  return true;
}

}  // namespace tautrain::io
