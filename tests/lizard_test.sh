#!/usr/bin/env bash
# No function in common/, ingest/ or query/ is longer than 80 lines or has a cyclomatic
# complexity over 15, as lizard (from PyPI, installed by deploy/install.sh into the cache)
# measures them. Usage: lizard_test.sh SOURCE_DIR; $DAPI_LIZARD names the program (else PATH's).
set -u
cd "$1" || exit 1
lizard=${DAPI_LIZARD:-$(command -v lizard)}
[ -x "$lizard" ] || { echo "FAIL lizard not found (deploy/install.sh installs it)"; exit 1; }
out=$("$lizard" --length 80 --CCN 15 --warnings_only common ingest query 2>&1)
status=$?
counted=$("$lizard" common ingest query 2>/dev/null | tail -1 | awk '{print $5}')
if [ -n "$out" ]; then
  echo "$out" | sed 's/^/FAIL /'
  echo "lizard: $(echo "$out" | grep -c warning) functions over 80 lines or CCN 15"
  exit 1
fi
echo "lizard: ${counted:-?} functions, none over 80 lines or CCN 15"
[ "$status" -eq 0 ] && [ "${counted:-0}" -gt 0 ]
