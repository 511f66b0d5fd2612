#!/usr/bin/env bash
# The GPU run in one call (docs/gpu.md, "The GPU run"): on a GPU machine that has a compiler,
# CMake, ninja and PyTorch but none of tautrain's other dependencies, and no internet, it
#   1. unpacks the carried Debian packages (bench/gpu/fetch-debs.sh) into a prefix,
#   2. configures against the LibTorch inside the PyTorch install (cmake --preset cuda) and builds,
#   3. runs the CUDA tests (required: a skip is a failure), then the GPU benchmarks
#      (bench train fp32 and bf16 on the thesis config with the PyTorch eager baseline, the NCCL
#      start and a one-rank all-reduce, the loader on every core of the node), then the rest of
#      the test suite while time is left,
# writing logs and JSON to the output folder as it goes. Every step runs under what is left of
# the time limit; a step that runs out is stopped, marked, and the summary is still written.
#
#   bench/gpu/run.sh [--time-limit SECONDS] [--out DIR] [--debs DIR] [--build-dir DIR] [--rehearse]
#
# --rehearse: a CPU machine with a CPU LibTorch and no CUDA (cmake/integration.sh gpu-rehearsal):
# the same steps, the CUDA tests' code on the CPU (TAUTRAIN_TEST_DEVICE=cpu), small benchmarks.
set -uo pipefail

SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TIME_LIMIT=540
OUT_DIR="${OUT:-$SOURCE_DIR/build/gpu-run}"
DEBS_DIR="$SOURCE_DIR/.debs"
BUILD_DIR="$SOURCE_DIR/build/cuda"
REHEARSE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --time-limit) TIME_LIMIT="$2"; shift 2 ;;
    --out) OUT_DIR="$2"; shift 2 ;;
    --debs) DEBS_DIR="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --rehearse) REHEARSE=1; shift ;;
    -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
readonly DEADLINE=$((SECONDS + TIME_LIMIT - 15))  # 15 s to write the summary
readonly PREFIX=/tmp/tautrain-deps
readonly BUILD_DIR
readonly TAUTRAIN="$BUILD_DIR/apps/tautrain"
mkdir -p "$OUT_DIR"
readonly LOG="$OUT_DIR/run.log"
# A fresh set of results: what an earlier run left in the folder is not this run's.
for f in run.log build.log tests.log bench.log; do : >"$OUT_DIR/$f"; done
rm -f "$OUT_DIR"/bench-train-*.json "$OUT_DIR/allreduce.json" "$OUT_DIR/summary.json"
STEPS=()  # one JSON object per step

say() { printf '[%4ds] %s\n' "$SECONDS" "$*" | tee -a "$LOG"; }

# step NAME LOGFILE COMMAND...: runs COMMAND under the time left, appending to LOGFILE; records
# its status (ok, failed with its exit code, or out of time) and duration.
step() {
  local name=$1 logfile=$2 left=$((DEADLINE - SECONDS)) started=$SECONDS status code
  shift 2
  if [ "$left" -lt 10 ]; then
    say "$name: skipped, no time left"
    STEPS+=("{\"step\": \"$name\", \"status\": \"skipped\", \"seconds\": 0}")
    return 1
  fi
  say "$name: $* (at most ${left}s)"
  echo "=== $name: $*" >>"$logfile"
  # A function of this script runs in a child bash that timeout can stop (export -f'd below).
  timeout --kill-after=5 "$left" bash -c '"$@"' step "$@" >>"$logfile" 2>&1
  code=$?
  case $code in
    0) status=ok ;;
    124 | 137) status=timeout ;;
    *) status=failed ;;
  esac
  say "$name: $status (exit $code) after $((SECONDS - started))s"
  STEPS+=("{\"step\": \"$name\", \"status\": \"$status\", \"exit_code\": $code, \"seconds\": $((SECONDS - started))}")
  [ $code -eq 0 ]
}

FAILED_TESTS=()
# tests NAME CTEST-ARGS...: a step running ctest; the tests that failed are kept for the summary.
tests() {
  local name=$1 failed="$BUILD_DIR/Testing/Temporary/LastTestsFailed.log"
  shift
  rm -f "$failed"
  step "$name" "$OUT_DIR/tests.log" ctest --output-on-failure "$@"
  local code=$?
  if [ -f "$failed" ]; then
    while IFS= read -r line; do FAILED_TESTS+=("\"${line#*:}\""); done <"$failed"
  fi
  return $code
}

write_summary() {
  local failed_tests
  failed_tests="[$(IFS=,; echo "${FAILED_TESTS[*]}")]"
  {
    echo "{"
    echo "  \"rehearsal\": $([ $REHEARSE -eq 1 ] && echo true || echo false),"
    echo "  \"seconds\": $SECONDS, \"time_limit\": $TIME_LIMIT,"
    echo "  \"commit\": \"$(git -C "$SOURCE_DIR" rev-parse HEAD 2>/dev/null || echo unknown)\","
    echo "  \"failed_tests\": $failed_tests,"
    echo "  \"steps\": ["
    local i
    for ((i = 0; i < ${#STEPS[@]}; i++)); do
      printf '    %s%s\n' "${STEPS[i]}" "$([ $i -lt $((${#STEPS[@]} - 1)) ] && echo ,)"
    done
    echo "  ]"
    echo "}"
  } >"$OUT_DIR/summary.json"
  # The build log can be long; its end says what broke.
  [ -f "$OUT_DIR/build.log" ] && tail -c 4000000 "$OUT_DIR/build.log" >"$OUT_DIR/build.log.tail" &&
    mv "$OUT_DIR/build.log.tail" "$OUT_DIR/build.log"
  say "summary: $OUT_DIR/summary.json"
}
trap write_summary EXIT

# --- the machine -------------------------------------------------------------------------------

{
  echo "=== machine"
  uname -a
  nproc
  free -g 2>/dev/null | head -2
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
  command -v nvcc >/dev/null && nvcc --version | tail -2
  g++ --version | head -1
  cmake --version | head -1
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cxx11 abi', torch._C._GLIBCXX_USE_CXX11_ABI, 'gpu', torch.cuda.is_available())" 2>&1
} >>"$LOG" 2>&1
say "machine: $(nproc) cores; $(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name --format=csv,noheader | head -1 || echo 'no GPU')"

# --- 1. the carried dependencies ---------------------------------------------------------------

unpack_debs() {
  local deb count=0
  shopt -s nullglob
  local debs=("$DEBS_DIR"/*.deb)
  [ ${#debs[@]} -gt 0 ] || { echo "no .deb files in $DEBS_DIR (bench/gpu/fetch-debs.sh makes them)"; return 1; }
  rm -rf "$PREFIX" && mkdir -p "$PREFIX"
  for deb in "${debs[@]}"; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$PREFIX" || return 1
    else  # no dpkg: a .deb is an ar archive holding data.tar.*
      (cd "$PREFIX" && ar p "$deb" "$(ar t "$deb" | grep '^data\.tar')" | tar -x --auto-compress -f - 2>/dev/null ||
        ar p "$deb" "$(ar t "$deb" | grep '^data\.tar')" | xz -dc | tar -x -f -) || return 1
    fi
    count=$((count + 1))
  done
  echo "unpacked $count packages into $PREFIX"
}
export -f unpack_debs
export DEBS_DIR PREFIX
step dependencies "$LOG" unpack_debs || exit 1
export PATH="$PREFIX/usr/bin:$PATH"
export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu:$PREFIX/usr/lib/x86_64-linux-gnu/hdf5/serial${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The HDF5 filter plugins (zstd and LZ4 shards) are looked for where Debian puts them, not here.
export HDF5_PLUGIN_PATH="$PREFIX/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"

# --- 2. configure and build --------------------------------------------------------------------

configure=(cmake --preset cuda -B "$BUILD_DIR" -DCMAKE_PREFIX_PATH="$PREFIX/usr"
  -DHDF5_ROOT="$PREFIX/usr/lib/x86_64-linux-gnu/hdf5/serial"
  -DHDF5_INCLUDE_DIRS="$PREFIX/usr/include/hdf5/serial" -DPython3_EXECUTABLE="$(command -v python3)")
if [ $REHEARSE -eq 1 ]; then
  configure+=(-DTAUTRAIN_TORCH_FROM_PYTHON=OFF)  # the CPU LibTorch of the rehearsal root
else
  configure+=(-DTAUTRAIN_REQUIRE_CUDA=ON)
  [ -x /usr/local/cuda/bin/nvcc ] && configure+=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
fi
cd "$SOURCE_DIR" || exit 1
step configure "$OUT_DIR/build.log" "${configure[@]}" || exit 1
step build "$OUT_DIR/build.log" cmake --build "$BUILD_DIR" -j "$(nproc)" || exit 1

# --- 3. CUDA tests, benchmarks, the rest of the suite ------------------------------------------

if [ $REHEARSE -eq 1 ]; then
  export TAUTRAIN_TEST_DEVICE=cpu
  # The thesis batch of 350 with reference attention (LibTorch 1.13) needs ~20 GB on a CPU.
  device=cpu synthetic=3000 steps=3 warmup=1 rounds=1 batch=32 loader_candidates=5000
else
  export TAUTRAIN_REQUIRE_CUDA_TESTS=1
  device=cuda synthetic=100000 steps=30 warmup=3 rounds=3 batch=350 loader_candidates=200000
fi
cd "$BUILD_DIR" || exit 1
tests cuda-tests -R '^Cuda\.' --timeout 300

bench_train() {  # bench_train PRECISION
  "$TAUTRAIN" bench train -c "$SOURCE_DIR/configs/taut_thesis.yaml" --set train.device=$device \
    --set train.precision="$1" --set data.batch_size=$batch --set data.threads="$(($(nproc) > 8 ? 8 : $(nproc)))" --synthetic $synthetic \
    --steps $steps --warmup $warmup --rounds $rounds --pytorch-baseline "$SOURCE_DIR/bench/pytorch_baseline.py" \
    --python python3 --json "$OUT_DIR/bench-train-$1.json"
}
export -f bench_train
export TAUTRAIN SOURCE_DIR OUT_DIR device synthetic steps warmup rounds batch
step bench-train-fp32 "$OUT_DIR/bench.log" bench_train fp32
step bench-train-bf16 "$OUT_DIR/bench.log" bench_train bf16
step bench-allreduce "$OUT_DIR/bench.log" "$TAUTRAIN" bench allreduce --ranks 1 --device $device --iterations 20 \
  --json "$OUT_DIR/allreduce.json"
# A GPU node's cores: loader threads 1..all uncompressed, and zstd and LZ4 decoded on 1 and all
# (its figures go to bench.log: the machine returns at most eight files).
step bench-loader "$OUT_DIR/bench.log" "$TAUTRAIN" bench loader -n $loader_candidates --codecs none,zstd,lz4 \
  --max-threads "$(nproc)" --work-dir "$BUILD_DIR/bench-loader"
# Packages.* checks a Debian machine's set-up against dpkg; here the libraries come from a prefix.
tests other-tests -E '^(Cuda|Packages)\.' -j "$(nproc)"
