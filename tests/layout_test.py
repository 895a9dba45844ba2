#!/usr/bin/env python3
"""The layout maps say where code lives, and stay true as files come and go.

README.md's "Layout" block and docs/architecture.md's "Components" section are how a
newcomer finds a file. This test fails when
  - a C source of common/, ingest/ or query/ (every .c, and every .h without a .c twin) is
    named in neither map's part for it: README by file name, architecture.md by file name
    or by its stem in backquotes (`keystore`);
  - a script of deploy/ or tests/ (top level) is missing from the README block;
  - either map names a .c, .h, .py or .sh file that exists nowhere in the tree.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILE_NAME = re.compile(r"(?<![A-Za-z0-9_.-])([A-Za-z0-9_-]+\.(?:c|h|py|sh))\b")


def section(path, start, end_pattern):
    text = open(os.path.join(ROOT, path), encoding="utf-8").read()
    at = text.index(start)
    rest = text[at + len(start):]
    end = re.search(end_pattern, rest)
    return rest[: end.start()] if end else rest


def sources():
    found = []
    for top in ("common", "ingest", "query"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                stem, ext = os.path.splitext(f)
                if ext == ".c" or (ext == ".h" and stem + ".c" not in files):
                    found.append(os.path.relpath(os.path.join(folder, f), ROOT))
    return sorted(found)


def scripts():
    found = []
    for top, exts in (("deploy", (".sh",)), ("tests", (".py", ".sh"))):
        for f in sorted(os.listdir(os.path.join(ROOT, top))):
            if f.endswith(exts) and f != "testlib.py":
                found.append(f"{top}/{f}")
    return found


def tree_names():
    names = set()
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
        names.update(files)
    return names


def main():
    readme = section("README.md", "## Layout", r"\n## ")
    arch = section("docs/architecture.md", "## Components", r"\n### |\n## ")
    failures = []
    for path in sources():
        name = os.path.basename(path)
        stem = os.path.splitext(name)[0]
        if not re.search(rf"\b{re.escape(name)}\b", readme):
            failures.append(f"README.md Layout does not name {path}")
        if not re.search(rf"\b{re.escape(name)}\b|`{re.escape(stem)}`", arch):
            failures.append(f"docs/architecture.md Components does not name {path}")
    for path in scripts():
        if not re.search(rf"\b{re.escape(os.path.basename(path))}\b", readme):
            failures.append(f"README.md Layout does not name {path}")
    names = tree_names()
    for where, text in (("README.md Layout", readme), ("docs/architecture.md Components", arch)):
        for name in sorted(set(FILE_NAME.findall(text))):
            if name not in names:
                failures.append(f"{where} names {name}, which is nowhere in the tree")
    for f in failures:
        print("FAIL", f)
    checked = len(sources()) + len(scripts())
    print(f"layout: {checked} files checked against the maps, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
