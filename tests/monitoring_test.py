#!/usr/bin/env python3
"""The operator's kit as files: Prometheus rules, their unit tests, the scrape config and
the Grafana dashboard (deploy/prometheus, deploy/grafana).

- promtool check rules / check config (the config with its rule_files pointed here) /
  test rules;
- every alert has a `for:`, a severity, a summary and a runbook link to a heading that
  exists in docs/operations.md; every alert has, in the promtool tests, a case where it
  fires and one where it is asserted quiet;
- the dashboard is valid JSON for Grafana's provisioning: every panel on the datasource
  variable, with queries, inside the 24-column grid and not on top of another.
Whether the metrics named exist, and whether the queries return data, is
tests/integration/monitoring_live.py's job (it needs the running stack).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

from testlib import Checks

# deploy/install.sh unpacks it into the cache; deploy/test.sh exports its path.
PROMTOOL = os.environ.get("DAPI_PROMTOOL") or shutil.which("promtool")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROM = os.path.join(ROOT, "deploy/prometheus")
GRAFANA = os.path.join(ROOT, "deploy/grafana")
check = Checks()


def promtool(*args, cwd=None):
    r = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=cwd)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def rule_files():
    return sorted(glob.glob(os.path.join(PROM, "rules/*.yml")))


def alerts():
    out = []
    for path in rule_files():
        for group in yaml.safe_load(open(path))["groups"]:
            out += [r for r in group["rules"] if "alert" in r]
    return out


def github_anchors(markdown):
    """The anchors GitHub makes of a document's headings."""
    anchors = set()
    for m in re.finditer(r"^#+\s+(.*)$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def check_promtool():
    ok, out = promtool("check", "rules", *rule_files())
    check("promtool check rules", ok, out)
    config = yaml.safe_load(open(os.path.join(PROM, "prometheus.yml")))
    check("scrape jobs", {j["job_name"] for j in config["scrape_configs"]} ==
          {"dataapi-ingress", "dataapi-ingestd", "dataapi-query"})
    with tempfile.TemporaryDirectory() as tmp:
        config["rule_files"] = [os.path.join(PROM, "rules/*.yml")]
        path = os.path.join(tmp, "prometheus.yml")
        yaml.safe_dump(config, open(path, "w"))
        ok, out = promtool("check", "config", path)
        check("promtool check config", ok and "SUCCESS" in out, out)
    for path in sorted(glob.glob(os.path.join(PROM, "tests/*.test.yml"))):
        ok, out = promtool("test", "rules", os.path.basename(path), cwd=os.path.dirname(path))
        check(f"promtool test rules {os.path.basename(path)}", ok, out)


def check_alerts():
    anchors = github_anchors(open(os.path.join(ROOT, "docs/operations.md")).read())
    tests = []
    for path in glob.glob(os.path.join(PROM, "tests/*.test.yml")):
        for t in yaml.safe_load(open(path))["tests"]:
            tests += t.get("alert_rule_test", [])
    names = set()
    for a in alerts():
        name = a["alert"]
        names.add(name)
        check(f"{name} has for:", "for" in a)
        check(f"{name} severity", a.get("labels", {}).get("severity") in ("critical", "warning", "info"))
        ann = a.get("annotations", {})
        check(f"{name} summary", bool(ann.get("summary")))
        url = ann.get("runbook_url", "")
        check(f"{name} runbook in operations.md",
              url.startswith("docs/operations.md#") and url.split("#", 1)[1] in anchors, url)
        cases = [t for t in tests if t["alertname"] == name]
        check(f"{name} fires in a test", any(t.get("exp_alerts") for t in cases))
        check(f"{name} asserted quiet in a test", any(t.get("exp_alerts") == [] for t in cases))
    check("alerts named once", len(names) == len(alerts()))
    check("alerts cover the kit", {"DataAPIConsumerLagGrowing", "DataAPIStoreRetrying",
                                   "DataAPIDeadLetters", "DataAPIWritesFailing",
                                   "DataAPIQueryErrors", "DataAPIQuerySlow",
                                   "DataAPISweeperNotRunning", "DataAPIReadinessFlapping",
                                   "DataAPIEventsShredded"} <= names, str(names))


def overlaps(a, b):
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and
            a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


def check_dashboard():
    path = os.path.join(GRAFANA, "dashboards/dataapi.json")
    dash = json.load(open(path))
    check("dashboard uid", dash.get("uid") == "dataapi-pipeline")
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    check("dashboard datasource variable", variables.get("datasource", {}).get("type") == "datasource")
    panels = dash["panels"]
    ids = [p["id"] for p in panels]
    check("panel ids unique", len(ids) == len(set(ids)))
    for p in panels:
        g = p["gridPos"]
        check(f"panel {p['title']} inside the grid", g["x"] >= 0 and g["x"] + g["w"] <= 24)
        if p["type"] == "row":
            continue
        check(f"panel {p['title']} on the datasource variable",
              p.get("datasource", {}).get("uid") == "${datasource}")
        check(f"panel {p['title']} described", bool(p.get("description")))
        targets = p.get("targets", [])
        check(f"panel {p['title']} has queries", targets and all(t.get("expr") for t in targets))
        check(f"panel {p['title']} refIds", len({t["refId"] for t in targets}) == len(targets))
    boxes = [(p["title"], p["gridPos"]) for p in panels]
    for i, (ta, a) in enumerate(boxes):
        for tb, b in boxes[i + 1:]:
            check(f"panels {ta} / {tb} apart", not overlaps(a, b))
    titles = " ".join(p["title"].lower() for p in panels)
    for word in ("writes", "produce", "lag", "applied", "dead letters", "store", "reads",
                 "latency", "page sizes", "erasures", "memory"):
        check(f"dashboard shows {word}", word in titles)
    prov = yaml.safe_load(open(os.path.join(GRAFANA, "provisioning/dashboards/dataapi.yml")))
    check("dashboard provider", prov["providers"][0]["options"]["path"] == "/etc/grafana/dashboards")
    ds = yaml.safe_load(open(os.path.join(GRAFANA, "provisioning/datasources/prometheus.yml")))
    check("datasource is prometheus", ds["datasources"][0]["type"] == "prometheus")


if not PROMTOOL or not os.access(PROMTOOL, os.X_OK):
    print("FAIL promtool not found: run deploy/install.sh, or set DAPI_PROMTOOL")
    sys.exit(1)
check_promtool()
check_alerts()
check_dashboard()
sys.exit(check.summary("monitoring"))
