"""B1w: events a second through the Python client's Writer (clients/python), as a
background job uses it: message() for every event, then close(), which returns once each
one is accepted or rejected. PROCESSES processes run one Writer each (the Writer sends on
one thread, so one process is one connection's worth); the rate is every event over the
wall time from the first message() to the last close(). Texts and dialog ids are those of
bench/batch.lua, so that the row beside B1b's raw POST /batch compares like with like
(except that every Writer line carries an idempotency key, as the client always sends).
Prints one JSON line (bench/results.py).

Usage: writer.py URL --token=TOKEN --events N [--processes K] [--lines L] [--dialogs D] [--prefix P]
"""
import argparse
import json
import multiprocessing
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients",
                                "python"))
from dataapi_client import Writer  # noqa: E402


def one_writer(args, index, out):
    rnd = random.Random(index)
    w = Writer(args.url, args.token, batch_lines=args.lines)
    start = time.monotonic()
    for _ in range(args.events // args.processes):
        n = rnd.randint(1, args.dialogs)
        w.message(f"{args.prefix}-c{n % 1000}", f"{args.prefix}-d{n}",
                  "hello, where is my parcel?", "EN")
    w.close()
    out.put((start, time.monotonic(), w.accepted, len(w.rejected), w.retries))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--token", required=True)  # --token=VALUE: a token may begin with "-"
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--lines", type=int, default=100)
    p.add_argument("--dialogs", type=int, default=100000)
    p.add_argument("--prefix", default="b1w")
    args = p.parse_args()
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=one_writer, args=(args, i, out))
             for i in range(args.processes)]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    seconds = max(r[1] for r in results) - min(r[0] for r in results)
    accepted = sum(r[2] for r in results)
    print(json.dumps({"eps": round(accepted / seconds, 1), "events": accepted,
                      "rejected": sum(r[3] for r in results),
                      "retries": sum(r[4] for r in results), "seconds": round(seconds, 3),
                      "processes": args.processes, "lines": args.lines}))
    return 0 if all(r[3] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
