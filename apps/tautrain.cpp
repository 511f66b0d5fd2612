#include "tautrain/cli/Commands.hpp"

int main(int argc, char** argv) { return tautrain::cli::run(argc, argv); }
