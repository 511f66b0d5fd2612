#!/usr/bin/env python3
"""Fails naming every Debian package that a build used but cmake/setup.sh does not install.

What the build used, as the build system recorded it: every header the compiler read
(`ninja -t deps`), every library on a link line and every shared library the linked programs
load (ldd), and the programs that ran (compiler, protoc, ccache, cmake, ninja, gnuplot). Each
file is mapped to its package through dpkg's file lists; a package counts as installed by the
set-up when it is in setup.sh's list or in the dependency closure of that list.

usage: check_packages.py BUILD_DIR
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs).stdout


def setup_packages():
    """The packages cmake/setup.sh installs for a plain build (not the tests' extras)."""
    env = dict(os.environ)
    env.pop("TAUTRAIN_SETUP_FOR", None)
    return run("bash", os.path.join(SOURCE_DIR, "cmake", "setup.sh"), "--list-packages", env=env).split()


def dependency_closure(packages):
    """`packages` and everything they depend on (Depends and Pre-Depends, every alternative)."""
    out = run("apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
              "--no-breaks", "--no-replaces", "--no-enhances", *packages)
    closure = set(packages)
    for line in out.splitlines():
        # "name" at the margin, then indented "Depends: dep" lines; a virtual <name> is followed
        # by the packages that provide it, further indented and without a colon.
        name = line.split(":", 1)[1] if line.startswith((" ", "|")) and ":" in line else line
        closure.add(name.strip().strip("<>").split(":")[0])
    return closure


def headers_read(build_dir):
    out = run("ninja", "-C", build_dir, "-t", "deps")
    return {line.strip() for line in out.splitlines() if line.startswith("    ") and line.strip().startswith("/")}


def libraries_linked(build_dir):
    """Absolute library paths and -l names on the link lines of build.ninja."""
    paths = set()
    with open(os.path.join(build_dir, "build.ninja")) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("LINK_LIBRARIES ="):
                continue
            for token in shlex.split(line.split("=", 1)[1]):
                for part in token.split(","):  # -Wl,--whole-archive,/path/lib.a
                    if part.startswith("/") and re.search(r"\.(so(\.\d+)*|a)$", part):
                        paths.add(part)
                    elif part.startswith("-l"):
                        found = run("c++", f"-print-file-name=lib{part[2:]}.so").strip()
                        if found.startswith("/"):
                            paths.add(found)
    return paths


def libraries_loaded(programs):
    paths = set()
    for program in programs:
        for line in run("ldd", program).splitlines():
            match = re.search(r"=> (/\S+)", line) or re.match(r"\s*(/\S+)", line)
            if match:
                paths.add(match.group(1))
    return paths


def programs_run(build_dir):
    cache = {}
    with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
        for line in f:
            match = re.match(r"([A-Za-z_0-9]+):[A-Z]+=(.*)", line.strip())
            if match:
                cache[match.group(1)] = match.group(2)
    programs = {cache.get(k, "") for k in ("CMAKE_CXX_COMPILER", "CMAKE_C_COMPILER", "CMAKE_MAKE_PROGRAM",
                                            "CMAKE_COMMAND", "Protobuf_PROTOC_EXECUTABLE", "TAUTRAIN_CCACHE")}
    # Plots are drawn by gnuplot at run time.
    programs.add(shutil.which("gnuplot") or "")
    return {p for p in programs if p.startswith("/")}


def dpkg_owners():
    """Installed path -> package, from dpkg's file lists."""
    owners = {}
    for listing in glob.glob("/var/lib/dpkg/info/*.list"):
        package = os.path.basename(listing)[: -len(".list")].split(":")[0]
        with open(listing, errors="replace") as f:
            for path in f:
                owners.setdefault(path.rstrip("\n"), package)
    return owners


def owner_of(path, owners):
    """The package that ships `path`, also through symlinks and the /usr merge."""
    candidates = [path, os.path.realpath(path)]
    for p in list(candidates):
        candidates.append(p[4:] if p.startswith("/usr/") else "/usr" + p)
    for p in candidates:
        normalized = os.path.normpath(p)
        if normalized in owners:
            return owners[normalized]
    return None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build_dir = os.path.abspath(sys.argv[1])
    if not os.path.exists(os.path.join(build_dir, ".ninja_deps")):
        sys.exit(f"check_packages: {build_dir} is not a built Ninja build directory (no .ninja_deps)")
    programs = [p for p in (os.path.join(build_dir, "apps", "tautrain"), os.path.join(build_dir, "tests", "tautrain_tests"))
                if os.path.exists(p)]
    used = headers_read(build_dir) | libraries_linked(build_dir) | libraries_loaded(programs) | programs_run(build_dir)
    used = {p for p in used if not p.startswith((SOURCE_DIR + "/", build_dir + "/"))}

    owners = dpkg_owners()
    installed = dependency_closure(setup_packages())
    missing = {}  # package -> files it provided to the build
    unowned = []
    for path in sorted(used):
        package = owner_of(path, owners)
        if package is None:
            unowned.append(path)
        elif package not in installed:
            missing.setdefault(package, []).append(path)

    for package, paths in sorted(missing.items()):
        more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
        print(f"cmake/setup.sh does not install {package}, which the build used: {paths[0]}{more}")
    for path in unowned:
        print(f"the build used {path}, which no Debian package installed")
    print(f"check_packages: {len(used)} files used by the build, {len({owner_of(p, owners) for p in used})} packages; "
          f"{len(missing)} not installed by cmake/setup.sh, {len(unowned)} from no package")
    return 1 if missing or unowned else 0


if __name__ == "__main__":
    sys.exit(main())
