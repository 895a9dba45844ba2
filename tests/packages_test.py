#!/usr/bin/env python3
"""The install step installs everything the build and the tests use.

A fresh Debian 12 machine has only what deploy/install.sh gives it (packages go in with
--no-install-recommends), so a file the build reads that came with a Recommends, or with a
package someone installed by hand, works here and fails there. This test collects what the
build and the tests really use, finds the Debian package each file belongs to, and fails
when that package is not in the closure of deploy/lib.sh's DAPI_PACKAGES under Depends and
Pre-Depends (nor part of every Debian system, nor one of the README's prerequisites).

What it collects, from the build directory given as the only argument:
  - every header the compiler read (ninja's dependency log),
  - every shared library the built programs load (ldd),
  - the sanitizer and libFuzzer runtimes the compilers link (-print-file-name),
  - every command the scripts and tests run.
It needs no network: apt-cache reads the installed packages' metadata.

The same holds of the first start, which installs DAPI_RUN_PACKAGES alone: every header
the programs' own objects read (not those of tests/ and bench/), every library the four
programs load, and the commands deploy/stack.sh up runs must come from that list.
"""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Commands the project's scripts and tests run (deploy/*.sh, tests/, CMake).
COMMANDS = ["cc", "gcc", "clang", "clang-format", "cmake", "ninja", "pkg-config", "curl", "kcat",
            "wrk", "mvn", "valgrind", "ld", "ar"]
# Runtimes the compilers link for -fsanitize=address,undefined and -fsanitize=fuzzer.
RUNTIMES = {
    "cc": ["libasan.so", "libubsan.so"],
    "clang": ["libclang_rt.asan-x86_64.a", "libclang_rt.ubsan_standalone-x86_64.a",
              "libclang_rt.fuzzer-x86_64.a", "libclang_rt.fuzzer_no_main-x86_64.a"],
}
# The README's prerequisites, not installed by the project: Java (Kafka) and Go (FerretDB).
PREREQUISITE_PREFIXES = ("openjdk-", "temurin-", "golang")


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout


def declared_packages(name="DAPI_PACKAGES"):
    out = run("bash", "-c", f'. "{ROOT}/deploy/lib.sh"; printf "%s\\n" "${{{name}[@]}}"')
    return [p for p in out.split() if p]


# What deploy/stack.sh up runs (its build included), and the programs it starts.
RUN_COMMANDS = ["cc", "gcc", "cmake", "ninja", "pkg-config", "curl", "kcat", "mvn", "ld", "ar"]
PROGRAMS = ["ingest/dataapi-ingress", "ingest/dataapi-ingestd", "ingest/dataapi-dlq",
            "query/dataapi-query"]


def closure(packages):
    """Installed packages reached from packages by Depends and Pre-Depends."""
    out = run("apt-cache", "depends", "--recurse", "--installed", "--no-recommends",
              "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
              "--no-enhances", *packages)
    names = set()
    for line in out.splitlines():
        line = line.strip()
        if not line:
            continue
        if ":" in line and line.split(":", 1)[0].lstrip("|") in ("Depends", "PreDepends"):
            line = line.split(":", 1)[1].strip()
        names.add(line.strip("<>").split(":")[0])
    return names


def base_packages():
    """Essential and Priority: required packages: part of every Debian system."""
    out = run("dpkg-query", "-W", "-f", "${Package} ${Essential} ${Priority}\\n")
    base = set()
    for line in out.splitlines():
        name, essential, priority = (line.split() + ["", "", ""])[:3]
        if essential == "yes" or priority == "required":
            base.add(name)
    return base


def header_files(build, programs_only=False):
    """System headers the objects read; programs_only: not those of tests/ and bench/."""
    out = run("ninja", "-C", build, "-t", "deps")
    found, skip = set(), False
    for l in out.splitlines():
        if not l.startswith(" "):
            skip = programs_only and l.startswith(("tests/", "bench/"))
            continue
        l = l.strip()
        if not skip and l.startswith("/usr/") and not l.startswith("/usr/local/"):
            found.add(l)
    return found


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def loaded_by(path):
    libs = set()
    for line in run("ldd", path).splitlines():
        parts = line.split("=>")
        target = (parts[1] if len(parts) > 1 else parts[0]).split("(")[0].strip()
        if target.startswith("/"):
            libs.add(target)
    return libs


def shared_libraries(build):
    libs = set()
    for dirpath, _, files in os.walk(build):
        if "/stack" in dirpath or "CMakeFiles" in dirpath:
            continue
        for name in files:
            path = os.path.join(dirpath, name)
            if os.access(path, os.X_OK) and is_elf(path):
                libs |= loaded_by(path)
    return libs


def runtime_files(problems):
    files = set()
    for compiler, names in RUNTIMES.items():
        if not shutil.which(compiler):
            problems.append(f"{compiler}: not found (the build needs it)")
            continue
        for name in names:
            path = run(compiler, f"-print-file-name={name}").strip()
            if not os.path.isabs(path):
                problems.append(f"{compiler}: runtime {name} missing on this machine")
            else:
                files.add(path)
    return files


def command_files(problems, commands=COMMANDS):
    files = set()
    for cmd in commands:
        path = shutil.which(cmd)
        if not path:
            problems.append(f"command {cmd}: not found (the scripts or tests run it)")
        else:
            files.add(os.path.realpath(path))
    return files


def aliases(path):
    """path and its /usr-merged aliases (dpkg knows a file by the name its package ships)."""
    names = [path, os.path.realpath(path)]
    for p in list(names):
        for a, b in (("/usr/lib/", "/lib/"), ("/lib/", "/usr/lib/"), ("/usr/bin/", "/bin/"),
                     ("/bin/", "/usr/bin/")):
            if p.startswith(a):
                names.append(b + p[len(a):])
    return names


def owners_of(paths):
    """{path: package} for the paths some installed package ships (one dpkg-query call)."""
    names = {alias: path for path in paths for alias in aliases(path)}
    out = run("dpkg-query", "-S", *names)
    found = {}
    for line in out.splitlines():
        pkgs, _, shipped = line.partition(": ")
        if shipped in names:
            found.setdefault(names[shipped], pkgs.split(",")[0].split(":")[0].strip())
    return found


def check(files, declared, what, problems):
    """Adds a problem for each file whose package the declared list does not bring in;
    returns {package: a file of it}."""
    allowed = closure(declared) | base_packages()
    found = owners_of(sorted(files))
    owners = {}
    for path in sorted(files):
        pkg = found.get(path)
        if pkg is None:
            if path.startswith(("/usr/", "/lib/", "/bin/")) and not path.startswith("/usr/local/"):
                problems.append(f"{path}: belongs to no Debian package")
            continue  # /usr/local, pyenv, a JDK or Go outside dpkg: the README's prerequisites
        owners.setdefault(pkg, path)
    for pkg, path in sorted(owners.items()):
        if pkg in allowed or pkg.startswith(PREREQUISITE_PREFIXES):
            continue
        problems.append(f"{pkg} (for {path}) is not installed by {what}")
    return owners, len(allowed)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build-asan")
    problems = []
    declared = declared_packages()
    files = header_files(build) | shared_libraries(build)
    files |= runtime_files(problems) | command_files(problems)
    owners, allowed = check(files, declared, "deploy/install.sh: add it to DAPI_PACKAGES in "
                            "deploy/lib.sh", problems)
    run_files = header_files(build, programs_only=True)
    for program in PROGRAMS:
        run_files |= loaded_by(os.path.join(build, program))
    run_files |= command_files(problems, RUN_COMMANDS)
    run_declared = declared_packages("DAPI_RUN_PACKAGES")
    run_owners, _ = check(run_files, run_declared, "deploy/stack.sh up (install.sh --run): "
                          "add it to DAPI_RUN_PACKAGES in deploy/lib.sh", problems)
    checked = len(files)
    print(f"packages: {checked} files from {len(owners)} packages checked against "
          f"{len(declared)} declared packages ({allowed} with their dependencies); the first "
          f"start's {len(run_files)} files from {len(run_owners)} packages against "
          f"{len(run_declared)} run packages")
    for p in problems:
        print("  " + p)
    print(f"{checked - len(problems)} passed, {len(problems)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
