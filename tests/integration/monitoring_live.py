#!/usr/bin/env python3
"""The operator's kit against the running test stack and a real Prometheus.

1. Traffic of every kind the dashboard shows: messages to new dialogs (new data keys),
   consents, revocations (erasure, key deletion), pages, exports, single reads, refused
   input, and one poison record produced straight to the topic (the DLQ).
2. Every metric name the rules and the dashboard use is exported by a program of the
   stack (read from the `# TYPE` lines of their /metrics; a histogram's name covers its
   _bucket, _sum and _count), and every recorded name is recorded by a rule: renaming a
   metric breaks this test, not the on-call night.
3. Prometheus (Debian's, on 127.0.0.1 and a free port, its data in a temporary directory,
   stopped at the end whatever happens) scrapes the three programs every second with the
   project's rules. Then every rule evaluates without error, every recording rule and
   every dashboard query ($__rate_interval as 1m) returns at least one finite value.

Usage: monitoring_live.py STACK_ENV   (bounded: about a minute)
"""
import glob
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from testlib import Checks, read_stack_env  # noqa: E402 (tests/ is not a package)

# deploy/install.sh unpacks it into the cache; deploy/test.sh exports its path.
PROMETHEUS = os.environ.get("DAPI_PROMETHEUS") or shutil.which("prometheus")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = sorted(glob.glob(os.path.join(ROOT, "deploy/prometheus/rules/*.yml")))
DASHBOARD = os.path.join(ROOT, "deploy/grafana/dashboards/dataapi.json")
JOBS = {"dataapi-ingress": "INGRESS_URL", "dataapi-query": "QUERY_URL",
        "dataapi-ingestd": "INGESTD_ADMIN_URL"}
check = Checks()


def http(method, url, token=None, body=None, timeout=10):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return 0, b""  # not listening (yet), reset, timed out


# ---- traffic ------------------------------------------------------------------------------

def one_round(env, n):
    w, r = env["WRITER_TOKEN"], env["READER_TOKEN"]
    ing, qry = env["INGRESS_URL"], env["QUERY_URL"]
    dialog, customer = f"mon-{uuid.uuid4().hex[:12]}", f"cust-{n % 7}"
    statuses = [
        http("POST", f"{ing}/data/{customer}/{dialog}", w, {"text": f"monitoring {n}", "language": "en"})[0],
        http("POST", f"{ing}/data/{customer}/{dialog}", w, {"text": "again", "language": "de"})[0],
        http("POST", f"{ing}/consents/{dialog}", w, {"consent": n % 3 != 0})[0],
    ]
    http("POST", f"{ing}/data/{customer}/{dialog}", w, {"text": 5})            # refused: 400
    http("GET", f"{qry}/data?limit=5", r)
    http("GET", f"{qry}/data/{customer}/{dialog}", r)
    http("GET", f"{qry}/data?limit=0", r)                                      # refused: 400
    if n % 5 == 0:
        http("GET", f"{qry}/data/export?language=EN", r, timeout=30)
    return statuses


def traffic(env, stop, counts):
    n = 0
    while not stop.is_set():
        for s in one_round(env, n):
            counts[s] = counts.get(s, 0) + 1
        n += 1
        time.sleep(0.05)


def poison(env):
    """One record ingestd cannot decode: it goes to the DLQ (reason invalid_json)."""
    r = subprocess.run(["kcat", "-P", "-b", env["KAFKA_BROKERS"], "-t", env["KAFKA_TOPIC"],
                        "-k", f"mon-poison-{uuid.uuid4().hex[:8]}"],
                       input=b"this is not an event", capture_output=True, timeout=30)
    check("poison record produced", r.returncode == 0, r.stderr.decode())


# ---- names --------------------------------------------------------------------------------

def exported_names(env):
    names = set()
    for job, var in JOBS.items():
        status, body = http("GET", env[var] + "/metrics")
        check(f"{job} /metrics", status == 200)
        for m in re.finditer(r"^# TYPE (\S+) (\S+)$", body.decode(), re.M):
            names.add(m.group(1))
            if m.group(2) == "histogram":
                names |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
    return names


def rules():
    out = []
    for path in RULES:
        for group in yaml.safe_load(open(path))["groups"]:
            out += group["rules"]
    return out


def dashboard_queries():
    dash = json.load(open(DASHBOARD))
    return [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]


PROMQL_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "max", "min", "avg",
                "or", "and", "unless", "on", "deriv", "time", "le", "without", "ignoring",
                "group_left", "group_right", "bool", "count", "offset"}


def names_in(expr):
    """Metric names an expression reads: identifiers outside label matchers and strings."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    bare = re.sub(r"\{[^}]*\}", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare))
    return {w for w in words if w not in PROMQL_WORDS and not w.startswith("$")}


def check_names(env):
    exported = exported_names(env)
    recorded = {r["record"] for r in rules() if "record" in r}
    used = [(r.get("alert") or r.get("record"), r["expr"]) for r in rules()]
    used += dashboard_queries()
    checked = set()
    for where, expr in used:
        for name in names_in(expr):
            checked.add(name)
            known = name in exported or name in recorded or name == "up"
            check(f"metric {name} (in {where}) exists", known)
    check("names found in the rules and dashboard", len(checked) >= 20, str(len(checked)))
    print(f"names: {len(checked)} used, all checked against {len(exported)} exported")


# ---- Prometheus ---------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_prometheus(env, tmp):
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": RULES,
        "scrape_configs": [{"job_name": job,
                            "static_configs": [{"targets": [urllib.parse.urlparse(env[var]).netloc]}]}
                           for job, var in JOBS.items()],
    }
    path = os.path.join(tmp, "prometheus.yml")
    yaml.safe_dump(config, open(path, "w"))
    log = open(os.path.join(tmp, "prometheus.log"), "w")
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={path}",
                             f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def api(base, path, **params):
    status, body = http("GET", f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}")
    doc = json.loads(body or b"{}")
    return doc.get("data") if status == 200 and doc.get("status") == "success" else None


def wait_targets_up(base, deadline):
    while time.time() < deadline:
        data = api(base, "targets")
        if data and len(data["activeTargets"]) == 3 and \
                all(t["health"] == "up" for t in data["activeTargets"]):
            return True
        time.sleep(0.5)
    return False


def finite(result):
    return any(math.isfinite(float(s["value"][1])) for s in result)


def check_queries(base):
    groups = api(base, "rules")["groups"]
    for g in groups:
        for r in g["rules"]:
            check(f"rule {r['name']} evaluates", r.get("health") == "ok", r.get("lastError", ""))
    for r in rules():
        if "record" in r:
            res = api(base, "query", query=r["record"])
            check(f"recorded {r['record']} has data", res is not None and finite(res["result"]),
                  str(res))
    for title, expr in dashboard_queries():
        q = expr.replace("$__rate_interval", "1m")
        res = api(base, "query", query=q)
        check(f"panel {title}: {expr}", res is not None and finite(res["result"]), str(res))


def main():
    env = read_stack_env(sys.argv[1])
    if not PROMETHEUS:
        print("FAIL prometheus not found: run deploy/install.sh, or set DAPI_PROMETHEUS")
        return 1
    stop, counts = threading.Event(), {}
    with tempfile.TemporaryDirectory() as tmp:
        prom, base = start_prometheus(env, tmp)
        worker = threading.Thread(target=traffic, args=(env, stop, counts))
        worker.start()
        try:
            check("prometheus scrapes the three programs", wait_targets_up(base, time.time() + 60))
            poison(env)
            time.sleep(25)  # scrapes every second; the stack's stats come every 5 s
            check_names(env)
            time.sleep(5)
            check_queries(base)
        finally:
            stop.set()
            worker.join()
            prom.terminate()
            try:
                prom.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prom.kill()
            if check.failed:
                print(open(os.path.join(tmp, "prometheus.log")).read()[-3000:])
    check("traffic was accepted", counts.get(202, 0) >= 30, str(counts))
    print(f"traffic: {counts}")
    return check.summary("monitoring_live")


if __name__ == "__main__":
    sys.exit(main())
