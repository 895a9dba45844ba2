#!/usr/bin/env python3
"""bench/results.py: records as the suite writes them, the figures the table derives from
them (rates, ratios, medians), and the Prometheus sums it reads from a live /metrics."""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "bench", "results.py")
sys.path.insert(0, os.path.join(ROOT, "bench"))
import results  # noqa: E402


def run(*args, stdin=None):
    return subprocess.run([sys.executable, TOOL, *args], input=stdin, capture_output=True,
                          text=True, check=True).stdout


def wrk(rps, p50=1.0, p99=2.0, non2xx=0):
    return json.dumps({"rps": rps, "p50_ms": p50, "p99_ms": p99, "max_ms": p99,
                       "requests": int(rps * 15), "socket_errors": 0, "non2xx": non2xx})


class Records(unittest.TestCase):
    def setUp(self):
        fd, self.path = tempfile.mkstemp(suffix=".jsonl")
        os.close(fd)

    def tearDown(self):
        os.unlink(self.path)

    def test_add_merges_the_tools_line_fields_and_nested_json(self):
        run("add", self.path, "b3.page", "wrk noise\n" + wrk(2.5), '{"plan": "index: IXSCAN"}',
            "shape=first page", "seconds=60", 'ceiling:={"rate": 7.25, "p50_ms": 100.0}')
        (rec,) = results.load(self.path)
        self.assertEqual(rec["id"], "b3.page")
        self.assertEqual(rec["rps"], 2.5)
        self.assertEqual(rec["plan"], "index: IXSCAN")
        self.assertEqual(rec["shape"], "first page")
        self.assertEqual(rec["seconds"], 60)
        self.assertIsInstance(rec["seconds"], int)
        self.assertEqual(rec["ceiling"], {"rate": 7.25, "p50_ms": 100.0})

    def test_add_refuses_what_is_neither_json_nor_a_field(self):
        r = subprocess.run([sys.executable, TOOL, "add", self.path, "x", "loose prose"],
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(results.load(self.path), [])

    def test_get_reads_the_last_json_line(self):
        self.assertEqual(run("get", "rps", stdin="Running 5s test\n" + wrk(1234.5) + "\n"),
                         "1234.5\n")


class Table(unittest.TestCase):
    def table(self, recs):
        return results.table([dict(r, id=i) for i, r in recs])

    def row(self, text, start):
        for line in text.splitlines():
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0].startswith(start):
                return cells
        self.fail(f"no row {start!r} in\n{text}")

    def test_b1_ratio_is_the_ingress_over_the_ceiling(self):
        recs = []
        for who, rps in (("ceiling", 40000.0), ("durable", 20000.0), ("sealed", 10000.0)):
            recs += [(f"b1.{who}.max", json.loads(wrk(rps)) | {"conns": 64}),
                     (f"b1.{who}.half", json.loads(wrk(rps / 2)) | {"conns": 64}),
                     (f"b1.{who}.high", json.loads(wrk(rps * 1.5)) | {"conns": 256})]
        text = self.table(recs)
        self.assertEqual(self.row(text, "B1 ingress POST /data req/s")[1:4],
                         ["10,000", "40,000", "0.25"])
        self.assertEqual(self.row(text, "B1 ingress vs the durable")[3], "0.50")
        self.assertEqual(self.row(text, "B1 the same at 256 connections")[1:4],
                         ["15,000", "60,000", "0.25"])

    def test_medians_pick_the_middle_run_whatever_the_order(self):
        recs = [("b1b.single", json.loads(wrk(r)) | {"conns": 64}) for r in (900, 1000, 1100)]
        recs += [("b1b.batch", json.loads(wrk(r)) | {"conns": 16, "lines": 100})
                 for r in (300, 100, 200)]
        recs += [("b1b.lines_bad", {"lines": 3})]
        cells = self.row(self.table(recs), "B1 POST /batch events/s")
        self.assertEqual(cells[1:4], ["20,000", "1,000", "20.00"])
        self.assertIn("lines failed or rejected over the whole step: 3", cells[5])

    def test_the_writer_against_raw_batches_per_process_count(self):
        recs = []
        for procs, raws, eps in ((1, (50, 70, 60), (4000.0, 3000.0, 5000.0)),
                                 (4, (150, 200, 100), (9000.0, 12000.0, 6000.0))):
            recs += [("b1w.raw", json.loads(wrk(r)) | {"conns": procs, "lines": 100,
                                                       "procs": procs}) for r in raws]
            recs += [("b1w.writer", {"eps": e, "events": 20000, "rejected": 0, "retries": 1,
                                     "seconds": 2.0, "processes": procs, "lines": 100,
                                     "procs": procs}) for e in eps]
        text = self.table(recs)
        one = self.row(text, "B1 Python Writer events/s vs raw POST /batch (100-line batches, 1 ")
        self.assertEqual(one[1:4], ["4,000", "6,000", "0.67"])
        self.assertIn("retries 3, rejected 0", one[5])
        four = self.row(text, "B1 Python Writer events/s vs raw POST /batch (100-line batches, 4 ")
        self.assertEqual(four[1:4], ["9,000", "15,000", "0.60"])

    def test_b2_rate_from_the_drain_time_and_cpu_per_1000_events(self):
        drain = {"events": 22000, "dialogs": 2000, "ns": 11_000_000_000, "hz": 100,
                 "ingestd_ticks": 440, "db_ticks": 2200, "kafka_ticks": 22, "reads_cache": 20000,
                 "reads_store": 2000, "batch_s": 10.0, "load_s": 1.0, "write_s": 8.0}
        text = self.table([("b2.drain", drain), ("b2.fill", {"seconds": 3.5}),
                           ("b2.ceiling", {"rate": 4000.0})])
        self.assertEqual(self.row(text, "B2 ingest events/s")[1:4], ["2,000", "4,000", "0.50"])
        self.assertEqual(self.row(text, "B2 CPU seconds")[1:3], ["0.200", "1.000"])

    def test_a_page_that_never_completed_says_so(self):
        page = {"shape": "first page", "seconds": 60, "requests": 0, "plan": "scan",
                "ceiling": {"rate": 1.0, "p50_ms": 5.0, "p99_ms": 6.0}}
        cells = self.row(self.table([("b3.page", page)]), "B3 GET /data first page")
        self.assertEqual(cells[1], "none completed in 60s")

    def test_steps_not_run_leave_no_rows(self):
        text = self.table([("b5.ingress", {"kib": 20480})])
        self.assertEqual(self.row(text, "B5 peak RSS ingress")[1], "20 MB")
        self.assertNotIn("B1 ingress", text)
        self.assertNotIn("B2", text)


class Metrics(unittest.TestCase):
    BODY = (
        "# HELP dataapi_batch_lines_total lines\n"
        "# TYPE dataapi_batch_lines_total counter\n"
        'dataapi_batch_lines_total{result="accepted"} 100\n'
        'dataapi_batch_lines_total{result="failed"} 2\n'
        'dataapi_batch_lines_total{result="rejected"} 3\n'
        'dataapi_http_requests_total{route="/data/*/*",method="POST",status="202"} 7\n'
        'dataapi_http_requests_total{route="/data/*/*",method="GET",status="200"} 5\n'
        "dataapi_batch_duration_seconds_sum 1.5\n")

    def setUp(self):
        body = self.BODY.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200 if self.path == "/metrics" else 404)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def test_sums_the_series_whose_labels_match(self):
        self.assertEqual(run("metric", self.url, "dataapi_batch_lines_total",
                             "result=failed|rejected"), "5\n")
        self.assertEqual(run("metric", self.url, "dataapi_http_requests_total",
                             r"route=/data/\*/\*", "method=POST"), "7\n")
        self.assertEqual(run("metric", self.url, "dataapi_batch_duration_seconds_sum"), "1.5\n")
        self.assertEqual(run("metric", self.url, "dataapi_absent_total"), "0\n")


if __name__ == "__main__":
    unittest.main()
