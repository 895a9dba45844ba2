#!/usr/bin/env bash
# The Python client's type hints hold (mypy --strict, from pyproject.toml), with the mypy
# that deploy/install.sh pins into the cache ($DAPI_MYPY, else PATH's).
# Usage: typecheck.sh CLIENT_DIR
set -u
cd "$1" || exit 1
mypy=${DAPI_MYPY:-$(command -v mypy)}
[ -x "$mypy" ] || { echo "FAIL mypy not found (deploy/install.sh installs it)"; exit 1; }
"$mypy" --no-incremental dataapi_client
