#!/usr/bin/env bash
# Installs what DataAPI needs on a Debian 12 machine and fetches the real servers:
#   - Debian packages: compilers' -dev libraries, kcat, Maven (when missing)
#   - Apache Kafka jars from Maven Central (into the cache)
#   - FerretDB built from the Go module proxy (into the cache), unless a mongod is on PATH
#   - schemathesis (API fuzzing), lizard (function size check) and mypy (the Python
#     client's types) from PyPI, pinned, each in a virtual environment in the cache
#   - prometheus and promtool (alert rule tests) unpacked from Debian's package into the
#     cache (not installed: the package would start a system service)
# Everything downloaded is cached in $DATAAPI_CACHE (default ~/.cache/dataapi); a second
# run only checks. Usage: deploy/install.sh [--run] [--no-servers]
#   --run         only what building and running the system needs (deploy/stack.sh up):
#                 no test compilers, test tools, Prometheus
#   --no-servers  no Kafka jars, no FerretDB
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

servers=1 tests=1
for arg in "$@"; do
  case "$arg" in
    --run) tests=0 ;;
    --no-servers) servers=0 ;;
    *) dapi_die "install.sh: unknown argument $arg (--run, --no-servers)" ;;
  esac
done

if [ "$tests" = 1 ]; then
  dapi_install_packages
else
  dapi_install_packages "${DAPI_RUN_PACKAGES[@]}"
fi
dapi_check_toolchains
if [ "$tests" = 1 ]; then
  dapi_check_python_yaml
  dapi_install_pytools
  dapi_install_prometheus
fi
if [ "$servers" = 1 ]; then
  dapi_fetch_kafka
  dapi_build_ferretdb
fi
dapi_log "install complete (cache: $DAPI_CACHE)"
