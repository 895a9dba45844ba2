#!/usr/bin/env bash
# Each program links only the libraries of what it does (common/ is split by concern):
# the query service no Kafka, the DLQ tool
# neither MongoDB nor libmicrohttpd (it never opens a sealed event). The ingress links
# MongoDB for the data-key store only. Usage: links_test.sh BUILD_DIR
set -u
build=$1
passed=0 failed=0
check() { # check PROGRAM LIBRARY-PATTERN...: PROGRAM must not load any of them
  local prog=$build/$1 lib
  shift
  for lib in "$@"; do
    if ldd "$prog" | grep -q "$lib"; then
      echo "FAIL $(basename "$prog") links $lib"
      failed=$((failed + 1))
    else
      passed=$((passed + 1))
    fi
  done
}
check query/dataapi-query librdkafka
check ingest/dataapi-dlq libmongoc libbson libmicrohttpd
# and each does load what it needs (the check above would pass on a missing binary)
for p in query/dataapi-query:libmongoc ingest/dataapi-ingestd:librdkafka \
         ingest/dataapi-ingestd:libmongoc ingest/dataapi-ingress:librdkafka \
         ingest/dataapi-ingress:libmongoc ingest/dataapi-ingress:libcrypto \
         ingest/dataapi-dlq:librdkafka; do
  if ldd "$build/${p%%:*}" 2>/dev/null | grep -q "${p#*:}"; then
    passed=$((passed + 1))
  else
    echo "FAIL ${p%%:*} does not link ${p#*:}"
    failed=$((failed + 1))
  fi
done
echo "links: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
