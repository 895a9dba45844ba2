#!/usr/bin/env python3
"""deploy/bench.sh's results: what each step measured, as records, and the table.

Every tool the suite runs prints its result as one JSON object on a line of its own (wrk
through bench/result.lua, the C tools in bench/); the script adds each to a file of records
(one JSON object a line, with the step's `id` and whatever it knows beside: connections,
sizes), and this program makes the table from that file. No figure is read from prose.

  results.py add FILE ID [JSON] [KEY=VALUE ...]   append a record (a JSON line merged in;
                                                  VALUE a number when it reads as one;
                                                  KEY:=JSON a JSON line under KEY)
  results.py get KEY [JSON]                       a field of a JSON line (stdin if absent)
  results.py metric URL NAME [LABEL=REGEX ...]    a Prometheus sum over matching series
  results.py table FILE [HEADER]                  the Markdown table of every row measured
"""
import json
import re
import sys
import urllib.request

# ---- records --------------------------------------------------------------------------


def parse_value(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def result_line(text):
    """The last line of text that is a JSON object (a tool's result), as a dict."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON result line")


def add(path, rid, args):
    rec = {"id": rid}
    for arg in args:
        if arg.lstrip().startswith("{") or "\n{" in arg:
            rec.update(result_line(arg))
        elif ":=" in arg and "=" not in arg.split(":=", 1)[0]:
            key, value = arg.split(":=", 1)
            rec[key] = result_line(value)
        elif "=" in arg:
            key, value = arg.split("=", 1)
            rec[key] = parse_value(value)
        else:
            raise SystemExit(f"results.py add: neither JSON nor KEY=VALUE: {arg!r}")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def metric(url, name, selectors):
    """Sum of the samples of `name` at url/metrics whose labels match every selector."""
    want = [(k, re.compile(v)) for k, v in (s.split("=", 1) for s in selectors)]
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    total = 0.0
    sample = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)")
    for line in text.splitlines():
        m = sample.match(line)
        if not m or m.group(1) != name:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(k in labels and rx.fullmatch(labels[k]) for k, rx in want):
            total += float(m.group(3))
    return total


# ---- the table ------------------------------------------------------------------------


def num(x, fmt="{:,.0f}"):
    if x is None or x == "":
        return "-"
    return fmt.format(x) if isinstance(x, (int, float)) else str(x)


def ratio(a, b):
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or b <= 0:
        return "-"
    return f"{a / b:.2f}"


def lat(r):
    return f"{r.get('p50_ms', 0):.2f} / {r.get('p99_ms', 0):.2f}"


class Results:
    def __init__(self, records):
        self.records = records

    def all(self, rid):
        return [r for r in self.records if r["id"] == rid]

    def one(self, rid):
        found = self.all(rid)
        return found[-1] if found else None

    def median(self, rid, key="rps", **where):
        """The run of median `key` (a rate) among the records of rid whose fields equal
        `where` (the lower middle of an even count)."""
        runs = sorted((r for r in self.all(rid) if all(r.get(k) == v for k, v in where.items())),
                      key=lambda r: r.get(key, 0))
        return runs[(len(runs) - 1) // 2] if runs else None


def rows_b1(res):
    ceil, ing = res.one("b1.ceiling.max"), res.one("b1.sealed.max")
    if not ceil or not ing:
        return
    dur, ceil_half, ceil_high = res.one("b1.durable.max"), res.one("b1.ceiling.half"), res.one(
        "b1.ceiling.high")
    ing_half, ing_high = res.one("b1.sealed.half"), res.one("b1.sealed.high")
    dur_half, dur_high = res.one("b1.durable.half"), res.one("b1.durable.high")
    conns, high = ing.get("conns"), ing_high.get("conns")
    yield ("B1 ingress POST /data req/s", num(ing["rps"]), num(ceil["rps"]),
           ratio(ing["rps"], ceil["rps"]), ">= 0.5 of ceiling",
           f"sealed; non-2xx {ing['non2xx']}, socket errors {ing['socket_errors']}")
    yield ("B1 ingress vs the durable ceiling req/s", num(ing["rps"]), num(dur["rps"]),
           ratio(ing["rps"], dur["rps"]), ">= 0.8 of durable ceiling",
           "the ceiling: libmicrohttpd + the ingress's producer (acks=all, idempotent), "
           f"suspend until the report, fixed body; at {high}: {num(dur_high['rps'])} req/s; "
           f"at half load p50 / p99 {lat(dur_half)} ms")
    yield (f"B1 the same at {high} connections", num(ing_high["rps"]), num(ceil_high["rps"]),
           ratio(ing_high["rps"], ceil_high["rps"]), ">= 0.5 of ceiling",
           f"p50 / p99 {lat(ing_high)} ms (ceiling {lat(ceil_high)}), "
           f"non-2xx {ing_high['non2xx']}")
    yield ("B1 p50 / p99 at half load (ms)",
           f"{lat(ing_half)} at {num(ing_half['rps'])} req/s",
           f"{lat(ceil_half)} at {num(ceil_half['rps'])} req/s", "-", "p99 <= 10 ms",
           f"non-2xx {ing_half['non2xx']}; {conns} connections")
    yield from rows_b1_sealing(res)


def rows_b1_sealing(res):
    sealed, clear = res.all("b1.turn.sealed"), res.all("b1.turn.clear")
    if sealed and clear:
        s_med, c_med = res.median("b1.turn.sealed"), res.median("b1.turn.clear")
        runs = " ".join(num(r["rps"]) for r in sealed) + " / " + " ".join(
            num(r["rps"]) for r in clear)
        yield (f"B1 sealed vs --no-seal req/s (in turn, median of {len(sealed)})",
               num(s_med["rps"]), num(c_med["rps"]), ratio(s_med["rps"], c_med["rps"]),
               ">= 0.9 of unsealed",
               f"messages to known dialogs (after the first-message pass); runs {runs}")
    first, clear_first = res.one("b1.sealed.first"), res.one("b1.clear.first")
    if first and clear_first:
        yield ("B1 first messages a second, sealed vs --no-seal", num(first["rps"]),
               num(clear_first["rps"]), ratio(first["rps"], clear_first["rps"]), "-",
               f"each of {num(first.get('dialogs'))} dialogs once: sealed creates every "
               f"data key; p50 / p99 sealed {lat(first)} ms, unsealed {lat(clear_first)} ms")
    ms = res.one("b1.first_ms")
    if ms:
        yield ("B1 a dialog's first message vs a known one (ms, mean of 200 sequential)",
               num(ms["new_ms"], "{:.2f}"), num(ms["known_ms"], "{:.2f}"), "-", "-",
               "the difference is the data key's creation on the key store")


def rows_b1b(res):
    single, batch = res.all("b1b.single"), res.all("b1b.batch")
    if not single or not batch:
        return
    s_med, b_med, half = res.median("b1b.single"), res.median("b1b.batch"), res.one("b1b.half")
    lines = b_med["lines"]
    events = b_med["rps"] * lines
    yield (f"B1 POST /batch events/s ({lines}-line batches) vs single POSTs "
           f"(in turn, median of {len(batch)})", num(events), num(s_med["rps"]),
           ratio(events, s_med["rps"]), ">= 5x single",
           "sealed, known dialogs; the ceiling column is the single-request rate; batches/s "
           + " ".join(num(r["rps"]) for r in batch)
           + f" (p50 / p99 {lat(b_med)} ms, {b_med['conns']} connections), single req/s "
           + " ".join(num(r["rps"]) for r in single)
           + f"; non-2xx {b_med['non2xx']}, lines failed or rejected over the whole step: "
           f"{num(res.one('b1b.lines_bad')['lines'])}")
    if half:
        yield (f"B1 POST /batch p50 / p99 of a {lines}-line batch at half load (ms)",
               f"{lat(half)} at {num(half['rps'])} batches/s", "-", "-", "p99 <= 20 ms",
               f"{num(half['rps'] * lines)} events/s; non-2xx {half['non2xx']}")


def rows_b1w(res):
    for procs in sorted({r["procs"] for r in res.all("b1w.writer")}):
        raw = res.median("b1w.raw", procs=procs)
        writer = res.median("b1w.writer", key="eps", procs=procs)
        if not raw or not writer:
            continue
        raw_eps = raw["rps"] * raw["lines"]
        runs = [r for r in res.all("b1w.writer") if r["procs"] == procs]
        yield (f"B1 Python Writer events/s vs raw POST /batch ({writer['lines']}-line batches, "
               f"{procs} Writer process{'es' if procs > 1 else ''} vs {raw['conns']} "
               f"connection{'s' if raw['conns'] > 1 else ''}, in turn, median of {len(runs)})",
               num(writer["eps"]), num(raw_eps), ratio(writer["eps"], raw_eps), "-",
               "the ceiling column is raw POST /batch from wrk; Writer runs "
               + " ".join(num(r["eps"]) for r in runs)
               + f" events/s ({num(writer['events'])} events each, message() to close(), "
               f"retries {sum(r['retries'] for r in runs)}, rejected "
               f"{sum(r['rejected'] for r in runs)}); raw non-2xx {raw['non2xx']}")


def rows_b1i(res):
    r = res.one("b1i")
    if not r:
        return
    if "ingress" not in r:
        yield ("B1 instructions a request (callgrind)", r.get("skipped", "-"), "-", "-", "-",
               "")
        return
    yield ("B1 instructions a request (callgrind)", num(r["ingress"]), num(r["ceiling"]),
           ratio(r["ceiling"], r["ingress"]), "-",
           f"user space, all threads; {num(r['posts'])} POSTs over 4 connections; the ratio "
           "is ceiling / ingress")


def rows_b2(res):
    drain, fill, ceil = res.one("b2.drain"), res.one("b2.fill"), res.one("b2.ceiling")
    if not drain:
        return
    rate = drain["events"] / (drain["ns"] / 1e9)
    ceil_rate = ceil.get("rate") if ceil else None
    yield (f"B2 ingest events/s ({num(drain['events'])} events, {num(drain['dialogs'])} "
           "dialogs)", num(rate), num(ceil_rate) if ceil_rate else "not run",
           ratio(rate, ceil_rate), ">= 0.7 of ceiling",
           f"fill took {fill['seconds']:.1f} s; dialog reads: {num(drain['reads_cache'])} from "
           f"the cache, {num(drain['reads_store'])} from the store; "
           f"{drain['batch_s']:.0f} s in batches (database: {drain['load_s']:.0f} s reading, "
           f"{drain['write_s']:.0f} s writing)")
    per_k = lambda ticks: f"{ticks / drain['hz'] / drain['events'] * 1000:.3f}"  # noqa: E731
    yield ("B2 CPU seconds a 1,000 events: ingestd vs the database server",
           per_k(drain["ingestd_ticks"]), per_k(drain["db_ticks"]), "-", "-",
           f"the same drain; the Kafka broker {per_k(drain['kafka_ticks'])} (it also serves "
           "the other steps' idle clients); what DataAPI itself costs apart from the database")


def rows_b3(res):
    first = None
    for page in res.all("b3.page"):
        ceil = page.get("ceiling") or {}
        cell = f"{num(ceil.get('rate'), '{:.2f}')}, {num(ceil.get('p50_ms'), '{:.1f}')} / " \
               f"{num(ceil.get('p99_ms'), '{:.1f}')}"
        name = f"B3 GET /data {page['shape']}: req/s, p50 / p99 ms"
        if not page.get("requests"):
            yield (name, f"none completed in {page['seconds']}s", cell, "-",
                   "cursor page <= 2x first page", f"0 requests; plan: {page['plan']}")
            continue
        if first is None:
            first = page["p99_ms"]
        yield (name, f"{page['rps']:.2f}, {lat(page)}", cell,
               f"{ratio(ceil.get('p50_ms'), page['p50_ms'])} of the ceiling's speed (p50 "
               f"time ceiling / page); p99 {ratio(page['p99_ms'], first)}x the first page's",
               "cursor page <= 2x first page",
               f"{page['requests']} requests, non-2xx {page['non2xx']}; the ceiling: the "
               f"page's own find through the driver, one connection; plan: {page['plan']}")
    yield from rows_b3_export(res)


def rows_b3_export(res):
    exp = res.one("b3.export")
    if not exp:
        return
    ceil = exp.get("ceiling") or {}
    rate = exp["dialogs"] / (exp["ns"] / 1e9)
    yield ("B3 GET /data/export: dialogs a second", num(rate), num(ceil.get("rate")),
           ratio(rate, ceil.get("rate")), ">= 0.8 of ceiling",
           f"{num(exp['dialogs'])} dialogs; the ceiling: the same query through the driver, "
           f"read and counted, not rendered; query RSS before {exp['rss_kib'] // 1024} MB, "
           f"peak {exp['hwm_kib'] // 1024} MB ({exp['scope']})")


def rows_b3r(res):
    runs = {(r["total"], r["conns"]): r for r in res.all("b3r.page")}
    ceil = (res.one("b3r.ceiling") or {})
    a1, a4 = runs.get(("auto", 1)), runs.get(("auto", 4))
    c1, c4 = runs.get(("count", 1)), runs.get(("count", 4))
    if not a1:
        return
    yield (f"B3r first page, {num(a1['dialogs'])} one-message dialogs: pages/s at 1 connection",
           f"{a1['rps']:.2f} (p50 {a1['p50_ms']:.1f} ms)",
           f"{num(ceil.get('rate'), '{:.2f}')} (p50 {num(ceil.get('p50_ms'), '{:.1f}')} ms)",
           ratio(ceil.get("p50_ms"), a1["p50_ms"]) + " (p50 time ceiling / page)",
           ">= the reference's 3.5-3.7",
           f"--total auto (here: {a1.get('by') or '?'}); --total count: "
           f"{c1['rps']:.2f} pages/s (p50 {c1['p50_ms']:.1f} ms)")
    yield ("B3r the same at 4 connections: pages/s, scan vs count",
           f"{a4['rps']:.2f} (p50 {a4['p50_ms']:.1f} ms)",
           f"{c4['rps']:.2f} (p50 {c4['p50_ms']:.1f} ms)",
           ratio(c4["p50_ms"], a4["p50_ms"]) + " (p50 time count / scan)", "-",
           "the ceiling column here is --total count: a count beside the find")


def rows_b4(res):
    r = res.one("b4")
    if not r:
        return
    if not r.get("probes"):
        yield ("B4 freshness p50 / p99 (ms)", "no probe completed", "-", "-", "p99 <= 1000 ms",
               f"{r.get('errors', 0)} errors")
        return
    yield ("B4 freshness p50 / p99 (ms)", f"{r['p50_ms']:.0f} / {r['p99_ms']:.0f}", "-", "-",
           "p99 <= 1000 ms",
           f"{r['probes']} probes at {r['rate']:.1f}/s, {r['errors']} errors, max "
           f"{r['max_ms']:.0f} ms; background POSTs at {num(r['background'])}/s")


def rows_b5(res):
    for rid, what, target in (("b5.ingress", "ingress (B1)", 64), ("b5.ingestd", "ingestd (B2)",
                                                                    256),
                              ("b5.query", "query (B3)", 128)):
        r = res.one(rid)
        if r:
            yield (f"B5 peak RSS {what}", f"{r['kib'] // 1024} MB", "-", "-",
                   f"<= {target} MB", "")


STEPS = (rows_b1, rows_b1b, rows_b1w, rows_b1i, rows_b2, rows_b3, rows_b3r, rows_b4, rows_b5)


def table(records, header=""):
    res = Results(records)
    out = []
    if header:
        out += ["", header, ""]
    out += ["| figure | measured | ceiling | ratio | target | notes |", "|---|---|---|---|---|---|"]
    for step in STEPS:
        for row in step(res):
            out.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) >= 3 and argv[1] == "add":
        add(argv[2], argv[3], argv[4:])
    elif len(argv) in (3, 4) and argv[1] == "get":
        line = argv[3] if len(argv) == 4 else sys.stdin.read()
        print(result_line(line)[argv[2]])
    elif len(argv) >= 4 and argv[1] == "metric":
        total = metric(argv[2], argv[3], argv[4:])
        print(int(total) if total.is_integer() else total)
    elif len(argv) in (3, 4) and argv[1] == "table":
        sys.stdout.write(table(load(argv[2]), argv[3] if len(argv) == 4 else ""))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
