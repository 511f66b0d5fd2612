#!/usr/bin/env python3
"""Checks the module boundaries: every module includes only headers of the modules its DEPS in
src/CMakeLists.txt name, and names only modules defined before it there (data flows one way,
files -> loader -> batches -> model -> scores -> evaluation). Exits 1 naming each offending
include; the test Modules.EachModuleIncludesOnlyTheModulesItDeclares runs it."""
import pathlib
import re
import sys


def modules(cmake_text):
    """(name, declared tautrain modules) in definition order."""
    found = []
    for call in re.finditer(r"tautrain_add_module\((\w+)(.*?)\)", cmake_text, re.S):
        deps = re.search(r"DEPS(.*?)(?:TORCH|$)", call.group(2), re.S)
        declared = re.findall(r"tautrain::(\w+)", deps.group(1)) if deps else []
        found.append((call.group(1), declared))
    return found


def includes(root, module):
    """(file, line number, included module) for each tautrain header a module's files include."""
    for directory in (root / "src" / module, root / "include" / "tautrain" / module):
        for path in sorted(directory.rglob("*")):
            if path.suffix not in (".cpp", ".hpp", ".h", ".in"):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                match = re.match(r'\s*#include\s+"tautrain/(\w+)/', line)
                if match and match.group(1) != module:
                    yield path.relative_to(root), number, match.group(1)


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
    order = modules((root / "src" / "CMakeLists.txt").read_text())
    position = {name: i for i, (name, _) in enumerate(order)}
    problems = []
    for name, declared in order:
        for dep in declared:
            if position.get(dep, len(order)) >= position[name]:
                problems.append(f"src/CMakeLists.txt: module {name} declares {dep}, which is not defined before it")
        for path, number, used in includes(root, name):
            if used not in position:
                problems.append(f"{path}:{number}: includes a header of '{used}', which is no module")
            elif used not in declared:
                problems.append(f"{path}:{number}: module {name} includes a header of {used} but does not "
                                f"declare it in its DEPS (src/CMakeLists.txt)")
    for problem in problems:
        print(problem)
    print(f"{len(order)} modules, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
