#!/usr/bin/env python3
"""Validates the deployment files: docker-compose.yml, the front proxy's nginx config, the
Dockerfile and deploy/k8s/*.yaml. Parses them and checks what a broken edit would break;
runs `docker compose config` too where the compose plugin is installed."""
import glob
import os
import re
import subprocess
import sys

import yaml

from testlib import Checks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARTITIONS = 6
check = Checks()


def interpolate(text, env):
    """Compose's ${VAR:-default} and ${VAR:?error} (what docker-compose.yml uses); raises
    ValueError with the message where Compose would refuse to start."""
    def one(m):
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        value = env.get(name, "")
        if op == ":?" and not value:
            raise ValueError(arg)
        return value or (arg if op == ":-" else "")
    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:[-?])((?:[^{}]|\{[^{}]*\})*))?\}", one, text)


# What the operator exports before `docker compose up`.
COMPOSE_ENV = {"DATAAPI_AUTH_TOKENS": "writer:w;reader:r", "DATAAPI_MASTER_KEY_FILE": "/keys/m"}


def compose_security():
    raw = open(os.path.join(ROOT, "docker-compose.yml")).read()
    try:
        interpolate(raw, {})
        check("compose refuses to start without tokens", False)
    except ValueError as e:
        check("compose refuses to start without tokens", "DATAAPI_AUTH_TOKENS" in str(e)
              and "openssl rand" in str(e) and "$" not in str(e), str(e))
    check("compose ships no token", "dev-writer-token" not in raw and "dev-reader-token" not in raw)
    try:
        interpolate(raw, {"DATAAPI_AUTH_TOKENS": "writer:w;reader:r"})
        check("compose refuses to start without a master key", False)
    except ValueError as e:
        check("compose refuses to start without a master key",
              "DATAAPI_MASTER_KEY_FILE" in str(e) and "openssl rand" in str(e)
              and "$" not in str(e), str(e))
    doc = yaml.safe_load(interpolate(raw, COMPOSE_ENV))
    for name in ("ingress", "ingestd"):
        s = doc["services"][name]
        check(f"compose {name} seals with the master key secret",
              s["environment"].get("DATAAPI_MASTER_KEY_FILE") == "/run/secrets/dataapi-master-keys"
              and "dataapi-master-keys" in s.get("secrets", [])
              and doc["secrets"]["dataapi-master-keys"]["file"] == "/keys/m")
    check("compose query has no master key", "secrets" not in doc["services"]["query"])
    for name, s in doc["services"].items():
        for port in s.get("ports", []):
            check(f"compose {name} publishes {port} on 127.0.0.1 only", port.startswith("127.0.0.1:"))
    for name in ("ingress", "query"):
        env = doc["services"][name]["environment"]
        check(f"compose {name} tokens from the environment", env["AUTH_TOKENS"] == "writer:w;reader:r")
        check(f"compose {name} per-client limit left to the proxy", env.get("MAX_CONNECTIONS_PER_IP") == "0")
    doc = yaml.safe_load(interpolate(raw, dict(COMPOSE_ENV, DATAAPI_AUTH_TOKENS="x",
                                               DATAAPI_PUBLISH_ADDR="0.0.0.0")))
    check("compose publishes on another address when told",
          doc["services"]["proxy"]["ports"][0].startswith("0.0.0.0:"))


def compose():
    doc = yaml.safe_load(interpolate(open(os.path.join(ROOT, "docker-compose.yml")).read(),
                                     COMPOSE_ENV))
    svc = doc["services"]
    for name in ("kafka", "kafka-topics", "mongo", "ingestd", "ingress", "query", "proxy"):
        check(f"compose has {name}", name in svc)
    for name in ("kafka", "mongo", "ingestd", "ingress", "query", "proxy"):
        check(f"compose {name} healthcheck", "healthcheck" in svc.get(name, {}))
    for name in ("ingestd", "ingress", "query"):
        s = svc[name]
        check(f"compose {name} built here", s.get("build") == ".")
        check(f"compose {name} command", s["command"][0] == f"dataapi-{name}")
        env = s.get("environment", {})
        check(f"compose {name} brokers", env.get("KAFKA_BROKERS") == "kafka:9092")
        check(f"compose {name} majority", "replicaSet=rs0" in env.get("MONGODB_URI", ""))
    for name in ("ingress", "query"):
        check(f"compose {name} tokens", "AUTH_TOKENS" in svc[name]["environment"])
    check("compose mongo replica set", "--replSet" in svc["mongo"]["command"])
    check("compose topics before programs",
          svc["ingress"]["depends_on"]["kafka-topics"]["condition"] == "service_completed_successfully")
    topics = svc["kafka-topics"]["command"][0]
    check("compose creates topic and dlq", "dataapi.events dataapi.events.dlq" in topics
          and f"--partitions {PARTITIONS}" in topics)
    for volume in svc["proxy"]["volumes"]:
        mount = volume.split(":")[0]
        check(f"compose proxy mount {mount} exists", os.path.exists(os.path.join(ROOT, mount)))
    check("compose proxy serves the whole API's document",
          "./docs/openapi.yaml:/etc/nginx/openapi.yaml:ro" in svc["proxy"]["volumes"])
    check("compose proxy port", "127.0.0.1:8000:8000" in svc["proxy"]["ports"])
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        r = subprocess.run(["docker", "compose", "-f", os.path.join(ROOT, "docker-compose.yml"),
                            "config", "-q"], capture_output=True, text=True,
                           env=dict(os.environ, **COMPOSE_ENV))
        check("docker compose config", r.returncode == 0, r.stderr)
    else:
        print("note: no docker compose plugin here; compose checked by parsing only")


def compose_observability():
    """The observability profile: Prometheus with the project's config and rules, Grafana
    with the dashboard provisioned; neither starts without the profile."""
    doc = yaml.safe_load(interpolate(open(os.path.join(ROOT, "docker-compose.yml")).read(),
                                     COMPOSE_ENV))
    svc = doc["services"]
    for name in ("prometheus", "grafana"):
        check(f"compose {name} only in the observability profile",
              svc.get(name, {}).get("profiles") == ["observability"])
        for v in svc.get(name, {}).get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("./"):
                check(f"compose {name} mounts {src}", os.path.exists(os.path.join(ROOT, src)))
        check(f"compose {name} on 127.0.0.1 by default",
              all(p.startswith("127.0.0.1:") for p in svc.get(name, {}).get("ports", [])))
    prom = yaml.safe_load(open(os.path.join(ROOT, "deploy/prometheus/prometheus.yml")))
    targets = {c["job_name"]: c["static_configs"][0]["targets"][0] for c in prom["scrape_configs"]}
    ports = {"ingress": "8080", "query": "8081", "ingestd": "8082"}
    for name, port in ports.items():
        check(f"prometheus scrapes compose {name}", targets.get(f"dataapi-{name}") == f"{name}:{port}")
    check("ingestd admin reachable by prometheus", "0.0.0.0" in svc["ingestd"]["command"])
    mounts = dict(v.split(":")[:2] for v in svc["prometheus"]["volumes"] if v.startswith("./"))
    check("prometheus loads the rules",
          mounts.get("./deploy/prometheus/rules") == os.path.dirname(prom["rule_files"][0]))
    provider = yaml.safe_load(open(os.path.join(ROOT, "deploy/grafana/provisioning/dashboards/dataapi.yml")))
    gmounts = dict(v.split(":")[:2] for v in svc["grafana"]["volumes"] if v.startswith("./"))
    check("grafana provisions the dashboard",
          gmounts.get("./deploy/grafana/dashboards") == provider["providers"][0]["options"]["path"])
    check("grafana reports nothing out", svc["grafana"]["environment"].get("GF_ANALYTICS_REPORTING_ENABLED") == "false")


def nginx():
    conf = open(os.path.join(ROOT, "deploy/nginx/dataapi.conf")).read()
    check("proxy POST /data -> ingress", re.search(r"POST\s+dataapi_ingress;", conf) is not None)
    check("proxy GET /data -> query", re.search(r"default\s+dataapi_query;", conf) is not None)
    check("proxy /consents -> ingress",
          re.search(r"location /consents/ \{\s*proxy_pass http://dataapi_ingress;", conf) is not None)
    check("proxy /batch -> ingress",
          re.search(r"location = /batch \{[^}]*proxy_pass http://dataapi_ingress;", conf) is not None)
    check("proxy /openapi.yaml is the whole document",
          re.search(r"location = /openapi.yaml \{\s*alias /etc/nginx/openapi.yaml;", conf) is not None)
    check("proxy streams export", "proxy_buffering off" in conf)
    check("proxy upstreams", "server ingress:8080" in conf and "server query:8081" in conf)
    check("proxy limits connections per client",
          re.search(r"limit_conn dataapi_per_client \d+;", conf) is not None)


def dockerfile():
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    check("dockerfile multi-stage bookworm", len(stages) == 2 and all("bookworm" in s for s in stages))
    runtime = text.split("FROM ", 2)[2]
    check("dockerfile runtime has no -dev", "-dev" not in runtime)
    check("dockerfile non-root", re.search(r"^USER 10001", runtime, re.M) is not None)


def k8s():
    docs = []
    for path in sorted(glob.glob(os.path.join(ROOT, "deploy/k8s/*.yaml"))):
        docs += [d for d in yaml.safe_load_all(open(path)) if d]
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], []).append(d)
    deployments = {d["metadata"]["name"]: d for d in kinds.get("Deployment", [])}
    check("k8s deployments", set(deployments) == {"dataapi-ingress", "dataapi-query", "dataapi-ingestd"},
          str(set(deployments)))
    for name, d in deployments.items():
        spec = d["spec"]["template"]["spec"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        check(f"{name} selector matches", all(labels.get(k) == v for k, v in
                                               d["spec"]["selector"]["matchLabels"].items()))
        check(f"{name} non-root", spec.get("securityContext", {}).get("runAsNonRoot") is True)
        c = spec["containers"][0]
        ports = {p["name"] for p in c.get("ports", [])}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = c.get(probe, {}).get("httpGet", {})
            check(f"{name} {probe}", get.get("path") == path and get.get("port") in ports)
        req = c.get("resources", {}).get("requests", {})
        check(f"{name} requests", "cpu" in req and "memory" in req)
        check(f"{name} grace period", spec.get("terminationGracePeriodSeconds", 0) >= 20)
        pdbs = [p for p in kinds.get("PodDisruptionBudget", [])
                if all(labels.get(k) == v for k, v in p["spec"]["selector"]["matchLabels"].items())]
        check(f"{name} has a PDB", len(pdbs) == 1)
    scraped = {}
    for pm in kinds.get("PodMonitor", []):
        sel = pm["spec"]["selector"]["matchLabels"]
        ports = {e["port"] for e in pm["spec"]["podMetricsEndpoints"]}
        check("podmonitor names jobs by app.kubernetes.io/name",
              pm["spec"].get("jobLabel") == "app.kubernetes.io/name")
        for name, d in deployments.items():
            labels = d["spec"]["template"]["metadata"]["labels"]
            if all(labels.get(k) == v for k, v in sel.items()):
                cports = {p["name"] for p in d["spec"]["template"]["spec"]["containers"][0]["ports"]}
                scraped[name] = bool(ports & cports)
    for name, d in deployments.items():
        check(f"{name} scraped by the PodMonitor", scraped.get(name) is True)
        ann = d["spec"]["template"]["metadata"].get("annotations", {})
        cports = {str(p["containerPort"]) for p in d["spec"]["template"]["spec"]["containers"][0]["ports"]}
        check(f"{name} scrape annotations", ann.get("prometheus.io/scrape") == "true"
              and ann.get("prometheus.io/port") in cports and ann.get("prometheus.io/path") == "/metrics")
    check("k8s ships no Secret (tokens and master keys are the operator's)", "Secret" not in kinds)
    for name in ("dataapi-ingress", "dataapi-ingestd"):
        spec = deployments[name]["spec"]["template"]["spec"]
        vols = spec.get("volumes", [])
        cmd = spec["containers"][0]["command"]
        check(f"{name} seals with the master keys Secret",
              any(v.get("secret", {}).get("secretName") == "dataapi-master-keys" for v in vols)
              and "--master-key-file" in cmd and "--no-seal" not in cmd)
    for name in ("dataapi-ingress", "dataapi-query"):
        vols = deployments[name]["spec"]["template"]["spec"].get("volumes", [])
        check(f"{name} reads tokens from the Secret",
              any(v.get("secret", {}).get("secretName") == "dataapi-tokens" for v in vols))
    check("ingestd replicas <= partitions",
          deployments["dataapi-ingestd"]["spec"]["replicas"] <= PARTITIONS)
    for s in kinds.get("Service", []):
        targets = [d for d in deployments.values()
                   if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v
                          for k, v in s["spec"]["selector"].items())]
        check(f"service {s['metadata']['name']} selects a deployment", len(targets) == 1)
        if targets:
            names = {p["name"] for p in targets[0]["spec"]["template"]["spec"]["containers"][0]["ports"]}
            check(f"service {s['metadata']['name']} port", all(p["targetPort"] in names
                                                              for p in s["spec"]["ports"]))


compose_security()
compose()
compose_observability()
nginx()
dockerfile()
k8s()
sys.exit(check.summary("deploy"))
