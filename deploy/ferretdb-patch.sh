#!/usr/bin/env bash
# Two changes to FerretDB 1.24's SQLite backend so that it answers an _id lookup from its
# unique _id index. Documents, results and the wire protocol are unchanged; only the query
# plan is. Usage: ferretdb-patch.sh <FerretDB source dir>
#
# 1. The index is created on _ferretdb_sjson->"_id" (internal/backends/sqlite/metadata/
#    registry.go) while lookups by _id are written _ferretdb_sjson->'$._id' (metadata.go,
#    IDColumn); SQLite only uses an index on an expression written the same way, so without
#    this every find, update and delete by _id scans the collection.
# 2. The backend pushes an _id equality down to SQL only when it is the whole filter
#    (collection.go, Query and Explain: `params.Filter.Len() == 1`); {_id: x, other: y}
#    scanned the collection. FerretDB's handlers always evaluate the whole filter again on
#    the rows the backend returns (common.FilterIterator / FilterDocument), so narrowing the
#    rows to that _id first is exact. This is what lets ingestd guard its writes with the
#    state they were computed from ({_id, appliedThrough...}) on the local stack as it does
#    on MongoDB, at the cost of an _id lookup.
set -euo pipefail
src="$1/internal/backends/sqlite"

# replace FILE OLD NEW COUNT: exactly COUNT occurrences of OLD must be there.
replace() {
  python3 - "$@" <<'PY'
import sys
path, old, new, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
text = open(path).read()
if text.count(old) != count:
    sys.exit(f"ferretdb-patch: expected {count} of {old!r} in {path}, found {text.count(old)}")
open(path, "w").write(text.replace(old, new))
PY
}

replace "$src/metadata/metadata.go" "IDColumn = DefaultColumn + \"->'\$._id'\"" \
  'IDColumn = DefaultColumn + `->"_id"`' 1
replace "$src/collection.go" 'if params.Filter.Len() == 1 {' 'if params.Filter.Len() >= 1 {' 2
