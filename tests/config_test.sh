#!/usr/bin/env bash
# Configuration: every program documents each flag with its environment variable, and a bad
# value is a clear error at start (exit 2, a message naming the flag), never a crash later.
# Usage: tests/config_test.sh BUILD_DIR
set -u
build=$1
pass=0 fail=0
ingress="$build/ingest/dataapi-ingress" ingestd="$build/ingest/dataapi-ingestd" query="$build/query/dataapi-query"

check() { # name, expected exit, expected text, command...
  local name=$1 code=$2 text=$3 out rc
  shift 3
  out=$("$@" 2>&1 </dev/null); rc=$?
  if [ "$rc" = "$code" ] && grep -qF -- "$text" <<<"$out"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1)); echo "FAIL $name: exit $rc, output: ${out:0:300}"
  fi
}

# Sealing needs a master key: one for the checks below that start a program.
keys=$(mktemp) bad=$(mktemp)
trap 'rm -f "$keys" "$bad"' EXIT
printf 'k1 %s\n' "$(printf '0%.0s' $(seq 64))" > "$keys"
printf 'k1 not-hex\n' > "$bad"
for p in "$ingress" "$ingestd"; do
  n=$(basename "$p")
  noauth=--no-auth
  [ "$p" = "$ingestd" ] && noauth=--log-level=info
  check "$n no master key" 2 "no master key: set --master-key-file" env -u DATAAPI_MASTER_KEY_FILE "$p" $noauth
  check "$n bad master key file" 1 "master key file line 1" env DATAAPI_MASTER_KEY_FILE=/dev/null "$p" $noauth --master-key-file "$bad"
done
export DATAAPI_MASTER_KEY_FILE=$keys

for p in "$ingress" "$ingestd" "$query"; do
  n=$(basename "$p")
  noauth=--no-auth
  [ "$p" = "$ingestd" ] && noauth=--log-level=info  # ingestd serves no data: no auth flags
  check "$n --help" 0 "--log-level" "$p" --help
  check "$n env in help" 0 "env LOG_LEVEL, default info" "$p" --help
  check "$n unknown flag" 2 'unknown argument "--colour"' "$p" --colour red
  check "$n missing value" 2 "--log-level needs a value" "$p" $noauth --log-level
  check "$n bad level" 2 "--log-level must be" "$p" $noauth --log-level loud
done
for p in "$ingress" "$query"; do
  n=$(basename "$p")
  check "$n no tokens" 2 "no tokens configured" "$p"
  check "$n tokens and no-auth" 2 "--no-auth contradicts" "$p" --no-auth --tokens writer:x
  check "$n bad tokens file" 2 "cannot read tokens file" "$p" --tokens-file /nonexistent
  check "$n bad token spec" 2 "each entry is role:token" "$p" --tokens admin
  check "$n port range" 2 "--port must be between 0 and 65535" "$p" --no-auth --port 70000
  check "$n port text" 2 "--port expects a whole number" "$p" --no-auth --port http
  check "$n bind" 1 "is not an IPv4 address" "$p" --no-auth --port 0 --bind localhost
  check "$n env override" 2 "PORT: --port must be between" env PORT=99999 "$p" --no-auth
  check "$n flag beats env" 2 "command line: --port" env PORT=1 "$p" --no-auth --port -5
done
check "ingress produce timeout" 2 "--produce-timeout expects a duration" "$ingress" --no-auth --produce-timeout soon
check "ingress kafka property" 1 "kafka property no.such.property" "$ingress" --no-auth --port 0 -X no.such.property=1
check "ingress kafka property form" 2 "expects key=value" "$ingress" --no-auth -X acks
check "ingestd replay" 2 "--replay-from takes earliest or an RFC 3339 time" "$ingestd" --replay-from yesterday
check "ingestd ttl" 2 "--pending-ttl expects a duration" "$ingestd" --pending-ttl 3x
check "ingestd mongodb uri" 1 "MongoDB URI" "$ingestd" --mongodb-uri 'notmongo://x'
check "query mongodb uri" 1 "MongoDB URI" "$query" --no-auth --mongodb-uri 'notmongo://x'
check "query timeout bounds" 2 "--query-timeout must be between" "$query" --no-auth --query-timeout 20m

echo "config: $pass passed, $fail failed"
[ "$fail" = 0 ]
