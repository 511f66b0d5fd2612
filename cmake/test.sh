#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds everything and runs the whole test suite.
set -euo pipefail
TAUTRAIN_SETUP_FOR=tests
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cmake --build "$TAUTRAIN_BUILD_DIR" -j "$(nproc)"
cd "$TAUTRAIN_BUILD_DIR"
ctest -j "$(nproc)" --output-on-failure
