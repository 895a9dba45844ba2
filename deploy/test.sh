#!/usr/bin/env bash
# Runs every test of DataAPI: installs what is missing, builds everything with
# AddressSanitizer + UndefinedBehaviorSanitizer (warnings are errors), and runs CTest:
# the cmocka unit tests and the integration tests, which start a real Kafka broker, a real
# MongoDB-wire server and the three programs on free 127.0.0.1 ports and stop them after;
# then the fault-injection suite against the same stack (docs/reliability.md); then builds
# the libFuzzer targets with clang and runs each for a bounded time.
# Arguments go to ctest instead (e.g. -L unit, -R pipeline, -L reliability for the
# fault-injection suite) and skip the fuzz step.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

"$here/install.sh"
build=${DAPI_TEST_BUILD_DIR:-$DAPI_ROOT/build-asan}
cmake -S "$DAPI_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDAPI_SANITIZE=ON \
  -DDAPI_WERROR=ON >/dev/null
cmake --build "$build"
export DAPI_SCHEMATHESIS DAPI_LIZARD DAPI_MYPY DAPI_CLIENT_PYTHON DAPI_PROMTOOL DAPI_PROMETHEUS
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ $# -gt 0 ]; then
  ctest --test-dir "$build" --output-on-failure --no-tests=error -j2 "$@"
  exit 0
fi
# Unit, integration and the fault-injection suite (label "reliability": R1-R8, the replays and
# the cluster scenarios C1-C5 on three brokers of their own, label "cluster").
ctest --test-dir "$build" --output-on-failure --no-tests=error -j2

fuzz=${DAPI_FUZZ_BUILD_DIR:-$DAPI_ROOT/build-fuzz}
CC=clang cmake -S "$DAPI_ROOT" -B "$fuzz" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDAPI_SANITIZE=ON \
  -DDAPI_FUZZ=ON -DDAPI_INTEGRATION_TESTS=OFF >/dev/null
cmake --build "$fuzz" --target fuzz_request fuzz_event fuzz_params fuzz_http fuzz_sealed
ctest --test-dir "$fuzz" --output-on-failure --no-tests=error -L fuzz
