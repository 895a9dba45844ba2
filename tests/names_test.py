#!/usr/bin/env python3
"""Names say where code lives.

common/ is the one place of `dapi_` / `DAPI_` names; a program's own code is named by its
program: `ingress_`, `ingestd_`, `query_`, `dlq_` (then the module: ingress_keycache_get,
ingestd_store_load, query_page_begin, dlq_reader_next). This test reads every header's
declarations (functions, struct and enum tags, typedefs, macros, extern objects) and fails
on a name outside its place. A module's *_internal.h, shared by that module's files only,
may use the module's own short names (store_get beside store.c).
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLACES = {"common": "dapi", "ingest/ingress": "ingress", "ingest/ingestd": "ingestd",
          "ingest/dlq": "dlq", "query": "query"}


def declared(path):
    text = re.sub(r"/\*.*?\*/", "", open(path, encoding="utf-8").read(), flags=re.S)
    names = re.findall(r"^#define ([A-Za-z_]\w*)", text, re.M)
    names += re.findall(r"^(?:struct|enum) ([a-z_]\w*) \{", text, re.M)
    names += re.findall(r"^typedef .*?\(?\*?([a-z_]\w*)\)?(?:\(.*)?;", text, re.M)
    names += re.findall(r"^[a-z][^;(#]*?\b\*?([a-z_]\w*)\(", text, re.M)
    names += re.findall(r"^extern [^(]*?\b([a-z_]\w*)(?:\[\])?;", text, re.M)
    return names


def main():
    failures, checked = [], 0
    for folder, prefix in PLACES.items():
        for path in sorted(glob.glob(os.path.join(ROOT, folder, "**", "*.h"), recursive=True)):
            if path.endswith("_internal.h"):
                continue
            for name in declared(path):
                checked += 1
                if name.lower() != prefix and not name.lower().startswith(prefix + "_"):
                    failures.append(f"{os.path.relpath(path, ROOT)}: {name} is not {prefix}_*")
    for f in failures:
        print("FAIL", f)
    print(f"names: {checked} declarations checked, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
