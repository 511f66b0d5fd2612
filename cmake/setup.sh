#!/usr/bin/env bash
# Shared set-up of quickstart.sh and test.sh: install missing Debian packages (when we can),
# then configure the build directory. Source it; it sets TAUTRAIN_BUILD_DIR.
set -euo pipefail

TAUTRAIN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAUTRAIN_BUILD_DIR="${TAUTRAIN_BUILD_DIR:-$TAUTRAIN_ROOT/build}"

# Everything the build needs, from Debian's archive. OpenBLAS: LibTorch calls the system BLAS,
# and the reference BLAS is about 12x slower.
# The HDF5 filter plugins read and write zstd and LZ4 shards (docs/data-format.md#compression);
# Blosc, LZ4 and zlib decode their chunks outside HDF5's lock (src/io/ChunkDecode.hpp).
# c10d's Gloo header, included by dist/Communicator.cpp, needs libgloo-dev's headers, and
# libtorch-dev does not depend on it. The test Packages.* (cmake/check_packages.py) fails naming any
# package the build uses that this list does not bring in.
tautrain_packages=(cmake ninja-build g++ ccache pkg-config
  libtorch-dev libgloo-dev libopenblas0-openmp
  libyaml-cpp-dev libspdlog-dev libfmt-dev libhdf5-dev libcli11-dev nlohmann-json3-dev
  libeigen3-dev libprotobuf-dev protobuf-compiler libonnx-dev libgtest-dev gnuplot-nox libjemalloc-dev
  hdf5-filter-plugin hdf5-filter-plugin-blosc-serial libblosc-dev liblz4-dev zlib1g-dev)
# ONNX Runtime, which `tautrain export --check` compares LibTorch with, is in Debian from 13 on
# (TAUTRAIN_DEBIAN_RELEASE overrides the release read from /etc/os-release).
tautrain_debian_release="${TAUTRAIN_DEBIAN_RELEASE:-$(. /etc/os-release 2>/dev/null && echo "${VERSION_ID:-0}")}"
if [ "${tautrain_debian_release%%.*}" -ge 13 ] 2>/dev/null; then tautrain_packages+=(libonnxruntime-dev); fi
# The tests also run the PyTorch baseline of `tautrain bench train`, on Debian's python3-torch.
if [ "${TAUTRAIN_SETUP_FOR:-}" = tests ]; then tautrain_packages+=(python3-torch); fi

# `bash cmake/setup.sh --list-packages` prints the list and changes nothing.
if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "${1:-}" = --list-packages ]; then
  printf '%s\n' "${tautrain_packages[@]}"
  exit 0
fi

tautrain_install_packages() {
  local missing=()
  for p in "${tautrain_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo="sudo"
    else
      echo "tautrain: missing Debian packages: ${missing[*]}" >&2
      echo "tautrain: install them as root with:" >&2
      echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "tautrain: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

tautrain_configure() {
  cmake -S "$TAUTRAIN_ROOT" -B "$TAUTRAIN_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
}

tautrain_install_packages
tautrain_configure
