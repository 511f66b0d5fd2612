#!/usr/bin/env bash
# The Debian 13 (trixie) integration environment: a debootstrap root in which tautrain is built
# and tested against what Debian 12 cannot give us (LibTorch 2.6; HTCondor 23.9, in which the
# tests run personal pools; the CUDA LibTorch with NCCL and the CUDA toolkit, compiled and linked
# without a GPU). Run as root; only Debian's package registry has to be reachable. See
# docs/integration.md.
#
#   cmake/integration.sh [test]   make or reuse the root, build there, run the whole test suite
#   cmake/integration.sh root     make, repair or reuse the root, nothing else
#   cmake/integration.sh cuda     a second root with the CUDA LibTorch, NCCL and the CUDA toolkit;
#                                 builds the CUDA variant through to linked programs
#   cmake/integration.sh shell [COMMAND...]
#                                 a shell (or COMMAND) in the root, a copy of the tree at /tautrain/src
#   cmake/integration.sh gpu-rehearsal
#                                 a Debian 12 root with only what a GPU machine has (compiler,
#                                 CMake, ninja, Python; a CPU LibTorch standing in for PyTorch's):
#                                 downloads the other build dependencies as .debs into .debs/
#                                 (what a GPU run carries) and rehearses bench/gpu/run.sh with them
#
# Environment: TAUTRAIN_TRIXIE (the root; default /var/cache/tautrain/trixie, the CUDA root
# gets the suffix -cuda, the rehearsal root is /var/cache/tautrain/bookworm-gpu),
# TAUTRAIN_DEBIAN_MIRROR (default http://deb.debian.org/debian), TAUTRAIN_GPU_REHEARSAL_LIMIT
# (the rehearsal's time limit in seconds, default 3600).
# The roots are reused while complete and repaired or made anew when not. Whatever happens,
# Ctrl-C included, the script stops what it started in the root and unmounts what it mounted.
set -euo pipefail

readonly SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly MIRROR="${TAUTRAIN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly STARTED=$SECONDS
COMMAND="${1:-test}"
SUITE=trixie
case "$COMMAND" in
  test | root | shell) ROOT="${TAUTRAIN_TRIXIE:-/var/cache/tautrain/trixie}" ;;
  cuda) ROOT="${TAUTRAIN_TRIXIE:-/var/cache/tautrain/trixie}-cuda" ;;
  gpu-rehearsal) ROOT=/var/cache/tautrain/bookworm-gpu SUITE=bookworm ;;
  -h | --help) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "integration: unknown command '$COMMAND' (test, root, cuda, shell, gpu-rehearsal)" >&2; exit 2 ;;
esac
readonly ROOT COMMAND SUITE
readonly LOG_DIR="${ROOT}.logs"

say() { printf 'integration [%3dm%02ds] %s\n' $(((SECONDS - STARTED) / 60)) $(((SECONDS - STARTED) % 60)) "$*"; }
die() { echo "integration: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root: debootstrap, chroot and mount need it"

# --- what goes into the roots ------------------------------------------------------------------

# The set-up's own list (tests included), so the root checks exactly what cmake/setup.sh installs.
mapfile -t SETUP_PACKAGES < <(TAUTRAIN_SETUP_FOR=tests TAUTRAIN_DEBIAN_RELEASE=13 bash "$SOURCE_DIR/cmake/setup.sh" --list-packages)
# The CUDA root swaps the CPU LibTorch for the CUDA one (they conflict) and adds NCCL and nvcc.
CUDA_PACKAGES=(cmake ninja-build g++ ccache pkg-config libtorch-cuda-dev libgloo-cuda-dev libnccl-dev nvidia-cuda-toolkit
  libopenblas0-openmp libyaml-cpp-dev libspdlog-dev libfmt-dev libhdf5-dev libcli11-dev nlohmann-json3-dev
  libeigen3-dev libprotobuf-dev protobuf-compiler libonnx-dev libgtest-dev libjemalloc-dev hdf5-filter-plugin
  hdf5-filter-plugin-blosc-serial libblosc-dev liblz4-dev zlib1g-dev)
# What a GPU machine has (its image: compiler, CMake, ninja, Python with PyTorch), and what the
# build needs besides, which a GPU run carries as .debs. The rehearsal root gets the first, then
# the second is downloaded (the packages the first lacks), then Debian 12's CPU LibTorch and
# python3-torch stand in for PyTorch's (they bring protobuf and the HDF5 runtime with them).
GPU_IMAGE_PACKAGES=(cmake ninja-build g++ python3 ccache)
GPU_CARRIED_PACKAGES=(libyaml-cpp-dev libspdlog-dev libfmt-dev libhdf5-dev libcli11-dev nlohmann-json3-dev
  libeigen3-dev libprotobuf-dev protobuf-compiler libgtest-dev libjemalloc-dev hdf5-filter-plugin
  hdf5-filter-plugin-blosc-serial libblosc-dev liblz4-dev zlib1g-dev)
GPU_STAND_IN_PACKAGES=(libtorch-dev libgloo-dev python3-torch)
# The test root adds HTCondor (a personal pool in one package) for the tests of `tautrain condor`.
case "$COMMAND" in
  cuda) PACKAGES=("${CUDA_PACKAGES[@]}") ;;
  gpu-rehearsal) PACKAGES=("${GPU_IMAGE_PACKAGES[@]}" "${GPU_STAND_IN_PACKAGES[@]}") ;;
  *) PACKAGES=("${SETUP_PACKAGES[@]}" minicondor) ;;
esac
# HTCondor takes no jobs from root: the tests submit as this user of the root.
readonly CONDOR_USER=tautrain-jobs
readonly STAMP="$ROOT/.tautrain-root"
readonly GPU_DEBS=/var/cache/tautrain-gpu-debs  # in the rehearsal root
WANTED="suite=$SUITE packages=${PACKAGES[*]}"
[ "$COMMAND" = gpu-rehearsal ] && WANTED+=" carried=${GPU_CARRIED_PACKAGES[*]}"
readonly WANTED

# --- mounts and processes, undone whatever happens ---------------------------------------------

MOUNTS=()  # mount points we made, in order
mount_in_root() {  # mount_in_root TARGET ARGS...: mount, remembering to undo it
  local target="$ROOT$1"
  shift
  mkdir -p "$target"
  mount "$@" "$target"
  MOUNTS+=("$target")
}

processes_in_root() {  # pids whose root directory is $ROOT
  local pid link
  for link in /proc/[0-9]*/root; do
    pid="${link#/proc/}" && pid="${pid%/root}"
    [ "$(readlink "$link" 2>/dev/null)" = "$ROOT" ] && echo "$pid"
  done
  return 0
}

stop_processes_in_root() {  # TERM, then KILL after 10 s, whatever runs with $ROOT as its root
  local pids
  pids="$(processes_in_root)"
  [ -n "$pids" ] || return 0
  say "stopping what still runs in the root: $(echo $pids)"
  kill -TERM $pids 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do [ -z "$(processes_in_root)" ] && break; sleep 1; done
  pids="$(processes_in_root)"
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

mounts_under_root() { findmnt -rn -o TARGET | grep "^$ROOT/" || true; }

unmount_all_under_root() {  # deepest first; fails (1) if anything stays mounted
  local target
  mounts_under_root | sort -r | while read -r target; do
    umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || true
  done
  [ -z "$(mounts_under_root)" ]
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_processes_in_root
  local i failed=0
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -R "${MOUNTS[i]}" 2>/dev/null || umount -R -l "${MOUNTS[i]}" || failed=1
  done
  MOUNTS=()
  if [ -n "$(mounts_under_root)" ]; then
    echo "integration: mounts left under $ROOT:" >&2
    mounts_under_root >&2
    failed=1
  fi
  [ $failed -eq 0 ] || status=1
  exit $status
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# One run at a time per root: mounts and apt must not interleave.
mkdir -p "$(dirname "$ROOT")" "$LOG_DIR"
exec 9>"$ROOT.lock"
flock -n 9 || { say "another integration run holds $ROOT.lock; waiting"; flock 9; }
# Holding the lock, whatever is mounted or running in the root was left by a run that could not
# clean up (killed with SIGKILL, a machine restarted under it): clear it, or mounting again fails.
if [ -n "$(mounts_under_root)$(processes_in_root)" ]; then
  say "clearing what an earlier run left in the root: $(mounts_under_root | wc -l) mounts"
  stop_processes_in_root
  unmount_all_under_root || { mounts_under_root >&2; die "cannot unmount what is left under $ROOT"; }
fi

mount_system() {
  mount_in_root /proc -t proc proc
  mount_in_root /sys -t sysfs sysfs
  mount_in_root /dev --rbind /dev
  mount --make-rslave "$ROOT/dev"
  cp /etc/hosts /etc/resolv.conf "$ROOT/etc/"
}

in_root() {  # in_root COMMAND...: runs in the root with a clean environment
  chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# Bash runs a signal's trap only after the foreground command ends; a command waited for in the
# background lets SIGINT/SIGTERM reach the trap (and so the clean-up) at once.
interruptible() {
  "$@" &
  wait $!
}

run_logged() {  # run_logged NAME COMMAND...: output to a log, its tail shown on failure
  local log="$LOG_DIR/$1.log"
  shift
  if ! interruptible "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "$(basename "$log" .log) failed; the whole log is $log"
  fi
}

# --- the root ----------------------------------------------------------------------------------

root_is_complete() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANTED" ] || return 1
  local installed
  installed="$(in_root dpkg-query -W -f='${Status}\n' "${PACKAGES[@]}" 2>/dev/null | grep -c "install ok installed")"
  [ "$installed" -eq "${#PACKAGES[@]}" ]
}

bootstrap_root() {
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap on this machine"
    run_logged host-apt bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap"
  fi
  # An interrupted debootstrap leaves its work folder behind; nothing in such a root is trusted.
  if [ -e "$ROOT" ]; then
    say "removing the root $ROOT (incomplete, or made for another package list)"
    rm -rf --one-file-system "$ROOT"
  fi
  say "debootstrap $SUITE into $ROOT from $MIRROR (about a minute)"
  interruptible debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$LOG_DIR/debootstrap.log" 2>&1 || {
    tail -n 20 "$LOG_DIR/debootstrap.log" >&2
    die "debootstrap failed: is Debian's registry ($MIRROR) reachable? (log: $LOG_DIR/debootstrap.log)"
  }
}

install_packages() {
  cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -f "$ROOT/etc/apt/sources.list" "$STAMP"
  [ "$COMMAND" = cuda ] && install_cudnn_stub
  local apt_install="DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends"
  if [ "$COMMAND" = gpu-rehearsal ]; then
    say "installing what a GPU machine has, then downloading the rest as .debs (apt log: $LOG_DIR/apt.log)"
    run_logged apt in_root bash -c "dpkg --configure -a && apt-get update -qq && $apt_install ${GPU_IMAGE_PACKAGES[*]} &&
      rm -rf $GPU_DEBS && mkdir -p $GPU_DEBS/partial &&
      $apt_install --download-only -o Dir::Cache::archives=$GPU_DEBS ${GPU_CARRIED_PACKAGES[*]} &&
      rm -rf $GPU_DEBS/partial $GPU_DEBS/lock"
  fi
  say "installing ${#PACKAGES[@]} packages and their dependencies in the root (apt log: $LOG_DIR/apt.log)"
  run_logged apt in_root bash -c "dpkg --configure -a && apt-get update -qq &&
    $apt_install ${PACKAGES[*]} python3 && apt-get clean"
  echo "$WANTED" >"$STAMP"
  say "root ready: $(du -sh --one-file-system "$ROOT" | cut -f1)"
}

# libtorch-cuda depends on nvidia-cudnn (contrib), which downloads cuDNN from NVIDIA while it is
# configured: with only Debian's registry reachable that fails. A stand-in package of the same
# name (built with dpkg-deb) satisfies the dependency; cuDNN itself is needed only to run, on a
# GPU node, so the CUDA build links with --allow-shlib-undefined (our own symbols still resolve).
install_cudnn_stub() {
  if in_root dpkg-query -W -f='${Version}' nvidia-cudnn 2>/dev/null | grep -q 'stub'; then return; fi
  say "installing a stand-in for the cuDNN downloader nvidia-cudnn"
  run_logged cudnn-stub in_root bash -c "
    set -e
    dpkg --purge --force-depends nvidia-cudnn 2>/dev/null || true
    rm -rf /tmp/stub && mkdir -p /tmp/stub/DEBIAN
    printf '%s\n' 'Package: nvidia-cudnn' 'Version: 9.0.0.312~cuda12+stub' 'Architecture: all' \
      'Maintainer: tautrain <tautrain@localhost>' \
      'Description: stand-in for the cuDNN downloader (tautrain CUDA compile check; no cuDNN inside)' \
      > /tmp/stub/DEBIAN/control
    dpkg-deb --build /tmp/stub /tmp/nvidia-cudnn-stub.deb && dpkg -i /tmp/nvidia-cudnn-stub.deb"
}

ensure_root() {
  local fresh=0
  [ -d "$ROOT/debootstrap" ] || [ ! -x "$ROOT/usr/bin/apt-get" ] && fresh=1
  # The carried .debs are what a root without them lacks: another list needs a root that has
  # never had the stand-in LibTorch (which brings some of them) installed.
  [ "$COMMAND" = gpu-rehearsal ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" != "$WANTED" ] && fresh=1
  if [ $fresh -eq 1 ]; then bootstrap_root; fi
  mount_system
  if root_is_complete; then
    say "reusing the complete root $ROOT"
  else
    install_packages
  fi
  in_root id -u "$CONDOR_USER" >/dev/null 2>&1 || in_root useradd --create-home "$CONDOR_USER"
}

# A snapshot of the source tree (what git tracks or would track, as it is in the working tree)
# where the root's build directory expects it. rsync compares contents, so a file that did not
# change keeps its time and the build there stays incremental across fresh clones (CI); edits
# made while a build runs do not reach it halfway.
copy_source() {
  if ! command -v rsync >/dev/null; then
    say "installing rsync on this machine"
    run_logged host-apt bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync"
  fi
  local files="$LOG_DIR/source-files" destination="$ROOT/tautrain/src"
  if git -C "$SOURCE_DIR" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$SOURCE_DIR" && git ls-files --cached --others --exclude-standard |
      while IFS= read -r f; do [ -f "$f" ] && echo "$f"; done | LC_ALL=C sort -u) >"$files"
  else  # an unpacked release: everything but build outputs
    (cd "$SOURCE_DIR" && find . -type f -not -path './build*' -printf '%P\n' | LC_ALL=C sort) >"$files"
  fi
  mkdir -p "$destination"
  rsync -rlpc --files-from="$files" "$SOURCE_DIR/" "$destination/"
  # --files-from never deletes: remove what is no longer in the tree.
  (cd "$destination" && find . -type f -printf '%P\n' | LC_ALL=C sort | comm -23 - "$files" | xargs -r -d '\n' rm -f)
}

ensure_root
case "$COMMAND" in
  root) ;;
  test)
    copy_source
    say "building tautrain against Debian 13's LibTorch and running the whole test suite"
    interruptible in_root bash -c "export TAUTRAIN_BUILD_DIR=/tautrain/build TAUTRAIN_REQUIRE_HTCONDOR=1 \
      TAUTRAIN_CONDOR_USER=$CONDOR_USER; bash /tautrain/src/cmake/test.sh"
    say "Debian 13 suite passed"
    ;;
  cuda)
    copy_source
    say "building the CUDA variant (CUDA LibTorch, NCCL) through to linked programs"
    interruptible in_root bash -c "cmake -S /tautrain/src -B /tautrain/build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DTAUTRAIN_REQUIRE_CUDA=ON -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined &&
      cmake --build /tautrain/build-cuda -j \$(nproc)"
    say "CUDA variant linked: $(du -sh "$ROOT/tautrain/build-cuda/apps/tautrain" | cut -f1) tautrain"
    ;;
  gpu-rehearsal)
    copy_source
    rm -rf "$SOURCE_DIR/.debs" "$ROOT/tautrain/src/.debs"
    mkdir -p "$SOURCE_DIR/.debs"
    cp "$ROOT$GPU_DEBS"/*.deb "$SOURCE_DIR/.debs/"
    cp -r "$SOURCE_DIR/.debs" "$ROOT/tautrain/src/.debs"
    say "carried to a GPU run: $(ls "$SOURCE_DIR/.debs" | wc -l) packages, $(du -sh "$SOURCE_DIR/.debs" | cut -f1), in $SOURCE_DIR/.debs"
    say "rehearsing bench/gpu/run.sh (log: $ROOT/tautrain/gpu-out/run.log)"
    interruptible in_root bash /tautrain/src/bench/gpu/run.sh --rehearse --out /tautrain/gpu-out \
      --build-dir /tautrain/build-gpu --time-limit "${TAUTRAIN_GPU_REHEARSAL_LIMIT:-3600}" || true
    cat "$ROOT/tautrain/gpu-out/summary.json"
    grep -q '"status": "\(failed\|timeout\|skipped\)"' "$ROOT/tautrain/gpu-out/summary.json" &&
      die "the rehearsal had a step that did not pass (above)"
    say "rehearsal passed"
    ;;
  shell)
    copy_source
    shift
    if [ $# -gt 0 ]; then interruptible in_root "$@"; else in_root bash -l || true; fi
    ;;
esac
