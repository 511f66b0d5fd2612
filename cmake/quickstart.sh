#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds tautrain and runs `tautrain quickstart` on the
# embedded synthetic default. Extra arguments go to the quickstart command.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cmake --build "$TAUTRAIN_BUILD_DIR" -j "$(nproc)" --target tautrain
cd "$TAUTRAIN_ROOT"
"$TAUTRAIN_BUILD_DIR/apps/tautrain" quickstart "$@"
