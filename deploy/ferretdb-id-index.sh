#!/usr/bin/env bash
# Makes FerretDB 1.24's SQLite backend use its own unique _id index. The index is created on
# _ferretdb_sjson->"_id" (internal/backends/sqlite/metadata/registry.go) while lookups by _id
# are written _ferretdb_sjson->'$._id' (metadata.go, IDColumn); SQLite only uses an index on
# an expression written the same way, so without this every find, update and delete by _id
# scans the collection. The two expressions select the same value: documents and results
# are unchanged, only the query plan is. Usage: ferretdb-id-index.sh <FerretDB source dir>
set -euo pipefail
file="$1/internal/backends/sqlite/metadata/metadata.go"
old="IDColumn = DefaultColumn + \"->'\$._id'\""
new='IDColumn = DefaultColumn + `->"_id"`'
grep -qF "$old" "$file" || { echo "ferretdb-id-index: '$old' not found in $file" >&2; exit 1; }
python3 - "$file" "$old" "$new" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
open(path, "w").write(text.replace(old, new, 1))
PY
grep -qF "$new" "$file"
