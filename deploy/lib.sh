# Shared shell functions for DataAPI's local stack, its tests and CI. Source it.
# shellcheck shell=bash

DAPI_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DAPI_CACHE=${DATAAPI_CACHE:-$HOME/.cache/dataapi}
DAPI_KAFKA_VERSION=3.9.1
DAPI_FERRETDB_VERSION=v1.24.2
DAPI_KAFKA_LIBS="$DAPI_CACHE/kafka-$DAPI_KAFKA_VERSION/libs"
# "-patched2": built with deploy/ferretdb-patch.sh applied (see dapi_build_ferretdb)
DAPI_FERRETDB_BIN="$DAPI_CACHE/ferretdb-$DAPI_FERRETDB_VERSION-patched2/ferretdb"

dapi_log() { printf '[dataapi] %s\n' "$*" >&2; }
dapi_die() { printf '[dataapi] error: %s\n' "$*" >&2; exit 1; }

# Everything the build and the tests use, installed with --no-install-recommends: what a
# package only recommends (clang's sanitizer and libFuzzer runtimes, libclang-rt-14-dev) is
# named here. tests/packages_test.py fails when the build uses a file of a package that
# these lists do not bring in. Running needs the first list (deploy/stack.sh up installs
# only it: a first start stays short); the tests, benchmarks and fuzzers add the second.
DAPI_RUN_PACKAGES=(build-essential cmake ninja-build pkg-config curl python3 librdkafka-dev
  libmongoc-dev libbson-dev libmicrohttpd-dev libjansson-dev libssl-dev kcat maven)
DAPI_TEST_PACKAGES=(clang libclang-rt-14-dev libcmocka-dev libcurl4-openssl-dev python3-yaml
  python3-venv wrk valgrind clang-format)
DAPI_PACKAGES=("${DAPI_RUN_PACKAGES[@]}" "${DAPI_TEST_PACKAGES[@]}")

# Test tools from PyPI, pinned, each in a virtual environment of its own under the cache:
# schemathesis (OpenAPI-driven API fuzzing, tests/api_fuzz.py), lizard (function length
# and complexity, tests/lizard_test.sh), mypy (the Python client's type hints,
# clients/python) and the Python the client's tests run on, with pandas and pyarrow (the
# client's optional extras, whose paths the tests take).
DAPI_SCHEMATHESIS_VERSION=4.32.5
DAPI_SCHEMATHESIS="$DAPI_CACHE/schemathesis-$DAPI_SCHEMATHESIS_VERSION/bin/schemathesis"
DAPI_LIZARD_VERSION=1.24.3
DAPI_LIZARD="$DAPI_CACHE/lizard-$DAPI_LIZARD_VERSION/bin/lizard"
DAPI_MYPY_VERSION=1.13.0
DAPI_MYPY="$DAPI_CACHE/mypy-$DAPI_MYPY_VERSION/bin/mypy"
DAPI_PANDAS_VERSION=2.2.3
DAPI_PYARROW_VERSION=18.1.0
DAPI_CLIENT_PYTHON="$DAPI_CACHE/client-pandas-$DAPI_PANDAS_VERSION-pyarrow-$DAPI_PYARROW_VERSION/bin/python"

# Prometheus and promtool (tests/monitoring_test.py, tests/integration/monitoring_live.py)
# from Debian's prometheus package, unpacked into the cache instead of installed:
# installing it starts a system service listening on every interface (port 9090); the
# tests run their own, on 127.0.0.1, only while they need it. Both are static Go programs.
DAPI_PROMETHEUS_DIR="$DAPI_CACHE/prometheus-deb"
DAPI_PROMTOOL="$DAPI_PROMETHEUS_DIR/usr/bin/promtool"
DAPI_PROMETHEUS="$DAPI_PROMETHEUS_DIR/usr/bin/prometheus"

# dapi_install_packages [PACKAGE...]: those missing (default: every one the project uses).
dapi_install_packages() {
  local missing=() p
  [ $# -gt 0 ] || set -- "${DAPI_PACKAGES[@]}"
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  dapi_log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The deployment test parses YAML; python3 may be another interpreter than Debian's.
dapi_check_python_yaml() {
  python3 -c 'import yaml' 2>/dev/null && return 0
  dapi_log "installing PyYAML for $(command -v python3)"
  python3 -m pip install --quiet --disable-pip-version-check pyyaml >&2
}

# dapi_install_pytool BIN PACKAGE==VERSION...: the packages into the venv that holds BIN.
dapi_install_pytool() {
  local bin=$1 venv
  shift
  [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1 && return 0
  venv=$(dirname "$(dirname "$bin")")
  dapi_log "installing $* from PyPI into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
}

dapi_install_prometheus() {
  [ -x "$DAPI_PROMTOOL" ] && [ -x "$DAPI_PROMETHEUS" ] && return 0
  local work sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  work=$(mktemp -d)
  dapi_log "unpacking Debian's prometheus package into $DAPI_PROMETHEUS_DIR"
  if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
    $sudo apt-get update -qq
    (cd "$work" && apt-get download prometheus >/dev/null 2>&1)
  fi
  rm -rf "$DAPI_PROMETHEUS_DIR"
  dpkg-deb -x "$work"/prometheus_*.deb "$DAPI_PROMETHEUS_DIR"
  rm -rf "$work"
  [ -x "$DAPI_PROMTOOL" ] || dapi_die "promtool missing from Debian's prometheus package"
}

dapi_install_pytools() {
  dapi_install_pytool "$DAPI_SCHEMATHESIS" "schemathesis==$DAPI_SCHEMATHESIS_VERSION"
  dapi_install_pytool "$DAPI_LIZARD" "lizard==$DAPI_LIZARD_VERSION"
  dapi_install_pytool "$DAPI_MYPY" "mypy==$DAPI_MYPY_VERSION"
  dapi_install_pytool "$DAPI_CLIENT_PYTHON" "pandas==$DAPI_PANDAS_VERSION" \
    "pyarrow==$DAPI_PYARROW_VERSION"
}

dapi_check_toolchains() {
  command -v java >/dev/null || dapi_die "Java 17 is required (java not found)"
  local jv
  jv=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${jv:-0}" -ge 17 ] || dapi_die "Java 17 or newer is required (found ${jv:-none})"
  if ! command -v mongod >/dev/null && [ -z "${MONGODB_URI:-}" ]; then
    command -v go >/dev/null || dapi_die "Go is required to build FerretDB (or put mongod on PATH)"
  fi
}

# Kafka broker and tools jars, resolved from Maven Central by deploy/kafka/pom.xml.
dapi_fetch_kafka() {
  if [ -f "$DAPI_KAFKA_LIBS/.complete" ]; then return 0; fi
  dapi_log "fetching Apache Kafka $DAPI_KAFKA_VERSION jars from Maven Central"
  rm -rf "$DAPI_KAFKA_LIBS"
  mkdir -p "$DAPI_KAFKA_LIBS"
  mvn -q -B -f "$DAPI_ROOT/deploy/kafka/pom.xml" -Dkafka.version="$DAPI_KAFKA_VERSION" \
    -Dkafka.libs="$DAPI_KAFKA_LIBS" package >&2
  rm -rf "$DAPI_ROOT/deploy/kafka/target"
  touch "$DAPI_KAFKA_LIBS/.complete"
}

# FerretDB from the Go module proxy. Built from a copy of the module source because its
# version package needs build/version/version.txt, which the module zip leaves out, and
# because one line is fixed: FerretDB 1.24's SQLite backend creates the unique _id index on
# the expression _ferretdb_sjson->"_id" but looks documents up by _ferretdb_sjson->'$._id';
# SQLite matches index expressions as written, so every lookup, update and delete by _id
# scanned the whole collection (measured: 0.2 s per lookup at 20,000 dialogs, 57 µs with
# the index). deploy/ferretdb-patch.sh makes the lookups use the index's expression, also
# when the filter holds more than the _id (ingestd's guarded writes; see the script).
dapi_build_ferretdb() {
  if command -v mongod >/dev/null || [ -n "${MONGODB_URI:-}" ]; then return 0; fi
  if [ -x "$DAPI_FERRETDB_BIN" ]; then return 0; fi
  dapi_log "building FerretDB $DAPI_FERRETDB_VERSION from the Go module proxy (first run only)"
  local work src
  work=$(mktemp -d)
  (
    cd "$work"
    go mod init dataapi.local/ferretdb-build >/dev/null 2>&1
    GOFLAGS=-mod=mod go get "github.com/FerretDB/FerretDB@$DAPI_FERRETDB_VERSION" >/dev/null 2>&1 ||
      GOFLAGS=-mod=mod go get "github.com/FerretDB/FerretDB@$DAPI_FERRETDB_VERSION"
    src=$(go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)
    cp -r "$src" "$work/src"
    chmod -R u+w "$work/src"
    echo "$DAPI_FERRETDB_VERSION" > "$work/src/build/version/version.txt"
    "$DAPI_ROOT/deploy/ferretdb-patch.sh" "$work/src"
    cd "$work/src"
    mkdir -p "$(dirname "$DAPI_FERRETDB_BIN")"
    CGO_ENABLED=0 go build -trimpath -o "$DAPI_FERRETDB_BIN.tmp" ./cmd/ferretdb
    mv "$DAPI_FERRETDB_BIN.tmp" "$DAPI_FERRETDB_BIN"
  )
  rm -rf "$work"
}

# A TCP port that is free on 127.0.0.1 right now.
dapi_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until host:port accepts connections or the pid died; $4 is the timeout in seconds.
dapi_wait_port() {
  local host=$1 port=$2 pid=$3 timeout=$4 i
  for ((i = 0; i < timeout * 10; i++)); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# Waits until an HTTP URL answers 200.
dapi_wait_http() {
  local url=$1 timeout=$2 i
  for ((i = 0; i < timeout * 10; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Stops the process in pidfile $1: SIGTERM, then SIGKILL after $2 seconds (default 15).
dapi_stop_pidfile() { dapi_stop_pidfiles "${2:-15}" "$1"; }

# dapi_stop_pidfiles GRACE PIDFILE...: SIGTERM to all at once (a cluster's brokers shut
# down together), then SIGKILL to those still running after GRACE seconds.
dapi_stop_pidfiles() {
  local grace=$1 pidfile pids=() pid i alive
  shift
  for pidfile in "$@"; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  for ((i = 0; i < grace * 10 && ${#pids[@]} > 0; i++)); do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    pids=("${alive[@]+"${alive[@]}"}")
    [ ${#pids[@]} -gt 0 ] && sleep 0.1
  done
  for pid in "${pids[@]+"${pids[@]}"}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -f "$@"
}

# The JVM command lines for Kafka's classes: the stock tools start fast with the C1
# compiler only; the broker gets the full JIT (C1 only cost it a third of its throughput).
# The broker's heap is fixed at 1 GiB, as Kafka's own kafka-server-start.sh sets it: grown
# from 256 MiB it sat near 285 MiB with 160 MiB live, above G1's threshold, and ran a
# concurrent cycle every 2 s (5-12 ms pauses several times a second under load; fixed: one
# young pause every 10-15 s).
DAPI_JAVA_COMMON=(-Djava.awt.headless=true
  "-Dlog4j.configuration=file:$DAPI_ROOT/deploy/kafka/log4j.properties" -cp "$DAPI_KAFKA_LIBS/*")
DAPI_JAVA=(java -Xmx512m -Xms128m -XX:+UseG1GC -XX:TieredStopAtLevel=1 "${DAPI_JAVA_COMMON[@]}")
DAPI_JAVA_BROKER=(java -Xmx1g -Xms1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 "${DAPI_JAVA_COMMON[@]}")
dapi_kafka_java() { "${DAPI_JAVA[@]}" "$@"; }
