#!/usr/bin/env bash
# Soak: a stack of its own on free ports, batches of model-checked workloads for N minutes
# (default 10), the resident memory of each program sampled every 30 s, and at the end the
# sanitizer reports of the servers (with the ASan build, LeakSanitizer runs at their exit).
# Not part of the default test run. Usage: deploy/soak.sh [MINUTES] [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
minutes=${1:-10}
build=${2:-$DAPI_ROOT/build-asan}
state="$build/soak-stack"
[ -x "$build/tests/reliability/dapi-soak" ] || dapi_die "build $build first (deploy/test.sh or cmake)"

DAPI_INGESTD_ARGS="-X auto.commit.interval.ms=200" \
  "$here/stack.sh" up --fresh --state-dir "$state" --random-ports --build-dir "$build" --no-build >/dev/null
trap '"$here/stack.sh" down --state-dir "$state" >/dev/null 2>&1 || true' EXIT

rss() { awk '/VmRSS/ {print $2}' "/proc/$(cat "$state/pids/$1.pid")/status" 2>/dev/null || echo -; }
sample() { printf '%-8s ingress %7s KiB   ingestd %7s KiB   query %7s KiB\n' "$1" "$(rss ingress)" "$(rss ingestd)" "$(rss query)"; }

sample start | tee "$state/rss.txt"
"$build/tests/reliability/dapi-soak" "$state/stack.env" $((minutes * 60)) 4 > "$state/soak.log" 2>&1 &
soak=$!
while kill -0 "$soak" 2>/dev/null; do
  sleep 30
  sample "+$((SECONDS / 60))m$((SECONDS % 60))s" | tee -a "$state/rss.txt"
done
wait "$soak" && result=ok || result=FAILED
sample end | tee -a "$state/rss.txt"
tail -3 "$state/soak.log"
echo "batches: $(grep -c '^batch' "$state/soak.log"), model check: $result"
trap - EXIT
if "$here/stack.sh" down --state-dir "$state" >/dev/null 2>&1; then
  echo "sanitizer reports at exit: none"
else
  echo "sanitizer reports at exit: see $state/logs/asan.* / ubsan.*"; result=FAILED
fi
[ "$result" = ok ]
