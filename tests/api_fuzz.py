#!/usr/bin/env python3
"""OpenAPI-driven fuzzing of both services with schemathesis, every check on.

Each service is its own origin and serves, at GET /openapi.yaml, the document of what it
serves (docs/openapi-<service>.yaml, made from docs/openapi.yaml by tests/openapi_split.py
and compiled in): each service is fuzzed against the document it serves, as any OpenAPI
client would find it. That is also what makes `405 + Allow` comparable: /data/{c}/{d} is
POST on the ingress and GET on the query service.

The cursor is opaque: its valid values are the ones the service issued. The query
service's document therefore lists real cursors (from pages of dialogs this script
stores first) as the cursor parameter's values; anything else is invalid input.

Usage: api_fuzz.py STACK_ENV [SECONDS_PER_SERVICE]
The schemathesis program: $DAPI_SCHEMATHESIS (deploy/install.sh installs it), else PATH's.
Bounded in time (--max-time) and in examples; only talks to the stack's 127.0.0.1 ports.
Exit status: schemathesis's (0 when every check passed for both services).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

from testlib import read_stack_env

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def served_document(url):
    """The document the service at url serves, with url as its only server."""
    with urllib.request.urlopen(f"{url}/openapi.yaml", timeout=10) as r:
        if r.status != 200 or not r.headers.get("Content-Type", "").startswith(
                "application/yaml"):
            sys.exit(f"api-fuzz: {url}/openapi.yaml answered {r.status} "
                     f"{r.headers.get('Content-Type')}")
        doc = yaml.safe_load(r.read())
    doc["servers"] = [{"url": url}]
    return doc


def call(method, url, token, body=None):
    req = urllib.request.Request(url, method=method, data=body,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


def issued_cursors(env):
    """Stores three consented dialogs, then returns the nextCursor values of pages over
    them (their own customer's, and the whole store's)."""
    customer = f"fuzz-{os.getpid()}-{int(time.time())}"
    for i in range(3):
        d = f"{customer}-d{i}"
        call("POST", f"{env['INGRESS_URL']}/data/{customer}/{d}", env["WRITER_TOKEN"],
             b'{"text":"fuzz","language":"EN"}')
        call("POST", f"{env['INGRESS_URL']}/consents/{d}", env["WRITER_TOKEN"], b"true")
    cursors = []
    deadline = time.time() + 60
    while time.time() < deadline and len(cursors) < 2:
        cursors = []
        for qs in (f"customerId={customer}&limit=1", f"customerId={customer}&limit=2", "limit=1"):
            status, page = call("GET", f"{env['QUERY_URL']}/data?{qs}", env["READER_TOKEN"])
            if status == 200 and page.get("nextCursor"):
                cursors.append(page["nextCursor"])
        time.sleep(0.5)
    if len(cursors) < 2:
        sys.exit("api-fuzz: the stored dialogs never became readable")
    return sorted(set(cursors))


def with_issued_cursors(doc, cursors):
    for item in doc["paths"].values():
        for method in [m for m in item if m in METHODS]:
            for p in item[method].get("parameters", []):
                if p.get("name") == "cursor":
                    p["schema"] = {"type": "string", "enum": cursors}
    return doc


def main():
    env_file = sys.argv[1]
    seconds = sys.argv[2] if len(sys.argv) > 2 else "60"
    schemathesis = os.environ.get("DAPI_SCHEMATHESIS") or shutil.which("schemathesis")
    if not schemathesis or not os.access(schemathesis, os.X_OK):
        sys.exit("api-fuzz: schemathesis not found: run deploy/install.sh (or set "
                 "DAPI_SCHEMATHESIS)")
    env = read_stack_env(env_file)
    cursors = issued_cursors(env)
    failed = 0
    for service, url, token in (("ingress", env["INGRESS_URL"], env["WRITER_TOKEN"]),
                                ("query", env["QUERY_URL"], env["READER_TOKEN"])):
        with tempfile.NamedTemporaryFile("w", suffix=f"-{service}.yaml", delete=False) as f:
            doc = with_issued_cursors(served_document(url), cursors)
            yaml.safe_dump(doc, f, sort_keys=False)
            spec = f.name
        cmd = [schemathesis, "run", spec, "--url", url, "--checks", "all",
               "--header", f"Authorization: Bearer {token}", "--max-time", seconds,
               "--max-examples", "40", "--workers", "1", "--request-timeout", "30",
               "--max-response-time", "20", "--generation-deterministic",
               "--suppress-health-check", "all", "--no-color"]
        print(f"api-fuzz: {service} at {url}", flush=True)
        rc = subprocess.run(cmd, cwd=tempfile.gettempdir(),
                            env=dict(os.environ, SCHEMATHESIS_TELEMETRY="false")).returncode
        print(f"api-fuzz: {service}: schemathesis exit {rc}", flush=True)
        failed += rc != 0
        os.unlink(spec)
    print(f"api-fuzz: {2 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
