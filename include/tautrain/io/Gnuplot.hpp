#pragma once
// Plots go through gnuplot scripts kept next to their output, so a plot can be restyled by
// hand. Missing gnuplot only loses the plots.
#include <string>

namespace tautrain::io {

/// Writes STEM.gp and runs it (output in STEM.log). Without gnuplot on PATH it warns once per
/// process and returns false; a failing script warns naming it and returns false.
bool runGnuplot(const std::string& stem, const std::string& script);

}  // namespace tautrain::io
