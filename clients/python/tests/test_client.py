"""The Python client against the real local stack (deploy/test.sh starts it): the Writer's
batches, order per dialog, idempotent retries through an ingress restart and a broker
outage, a rejected event, a full queue; the Reader's cursor walk, export and single reads, while writing; a person's
data and erasure through Privacy.

Needs DAPI_STACK_ENV (the stack's stack.env) and DAPI_STACK_SCRIPT (deploy/stack.sh)."""
import os
import subprocess
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dataapi_client import DataAPIError, Privacy, QueueFull, Reader, Writer  # noqa: E402
from dataapi_client.generate import main as generate_main  # noqa: E402


def load_env():
    env = {}
    with open(os.environ["DAPI_STACK_ENV"], encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.strip().partition("=")
            if sep:
                env[key] = value
    return env


ENV = load_env()
RUN = uuid.uuid4().hex[:8]


def stack(cmd, target):
    subprocess.run([os.environ["DAPI_STACK_SCRIPT"], cmd, target, "--state-dir",
                    ENV["STATE_DIR"]], check=True, stdout=subprocess.DEVNULL)


def wait_until(pred, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.2)
    return pred()


class Client(unittest.TestCase):
    def writer(self, **kw):
        return Writer(ENV["INGRESS_URL"], ENV["WRITER_TOKEN"], **kw)

    def reader(self):
        return Reader(ENV["QUERY_URL"], ENV["READER_TOKEN"])

    def test_batches_in_order_read_back_through_cursor_pages_and_export(self):
        customer = f"{RUN}-walk"
        seen = []
        with self.writer(batch_lines=37, on_outcome=seen.append) as w:
            for d in range(60):
                for m in range(3):
                    w.message(customer, f"{customer}-d{d:02d}", f"message {m}", "en")
                w.consent(f"{customer}-d{d:02d}", True)
        self.assertEqual(len(seen), 240)
        self.assertTrue(all(o.accepted and o.event_id for o in seen))
        with self.reader() as r:
            self.assertTrue(wait_until(lambda: len(list(r.dialogs(customer_id=customer))) == 60))
            walked = list(r.dialogs(customer_id=customer, page_size=7))  # 9 cursor pages
            self.assertEqual(sorted(d.dialog_id for d in walked),
                             [f"{customer}-d{d:02d}" for d in range(60)])
            for d in walked:
                self.assertEqual([m.text for m in d.messages],
                                 ["message 0", "message 1", "message 2"])
                self.assertEqual(d.languages, ["EN"])
                self.assertIsNotNone(d.consented_at)
            exported = list(r.export(customer_id=customer))
            self.assertEqual([d.dialog_id for d in exported], [d.dialog_id for d in walked])
            one = r.dialog(customer, f"{customer}-d07")
            self.assertIsNotNone(one)
            self.assertIsNone(r.dialog(customer, f"{customer}-nothing"))

    def test_a_rejected_event_reaches_the_callback_and_the_others_are_stored(self):
        customer = f"{RUN}-bad"
        outcomes = []
        with self.writer(on_outcome=outcomes.append) as w:
            w.message(customer, f"{customer}-ok", "fine", "EN")
            bad = w.message(customer, f"{customer}-bad", "fine", "not a language!")
            w.consent(f"{customer}-ok", True)
        rejected = [o for o in outcomes if not o.accepted]
        self.assertEqual(len(rejected), 1)
        self.assertIs(rejected[0].event, bad)
        self.assertEqual(rejected[0].error.field, "language")
        self.assertEqual(len(w.rejected), 1)
        self.assertEqual(w.accepted, 2)

    def test_a_full_queue_blocks_then_raises_and_drops_nothing(self):
        # an ingress that is not there: nothing leaves the queue
        w = Writer("http://127.0.0.1:9", "t", max_queue=5, put_timeout=0.3, linger=0.01)
        for i in range(5):  # queued or being sent, they fill it
            w.message("c", f"d{i}", "x", "EN")
        t0 = time.monotonic()
        with self.assertRaises(QueueFull):
            w.message("c", "one more", "x", "EN")
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)  # it waited put_timeout
        self.assertEqual(w.pending(), 5)  # still there, never dropped
        self.assertFalse(w.close(timeout=0.5))
        self.assertEqual(w.pending(), 5)

    def through_a_fault(self, name, target, down_s, dialogs, per, pace, **writer):
        """Streams `per` rounds of a message to each of `dialogs` dialogs (`pace` seconds
        apart), then their consents, while `target` is stopped for `down_s` seconds: every
        event accepted once, every dialog exactly its messages in order."""
        customer = f"{RUN}-{name}"
        w = self.writer(**writer)

        def feed():
            for m in range(per):
                for d in range(dialogs):
                    w.message(customer, f"{customer}-d{d:02d}", f"m{m:02d}", "EN")
                time.sleep(pace)
            for d in range(dialogs):
                w.consent(f"{customer}-d{d:02d}", True)

        t = threading.Thread(target=feed)
        t.start()
        time.sleep(0.3)
        stack("stop", target)
        time.sleep(down_s)
        stack("start", target)
        t.join()
        self.assertTrue(w.close(timeout=240))
        self.assertEqual(w.accepted, dialogs * (per + 1))
        self.assertEqual(w.rejected, [])
        print(f"{name}: {w.retries} retried batches", file=sys.stderr)
        self.assertGreater(w.retries, 0)  # the fault was seen
        want = [f"m{m:02d}" for m in range(per)]
        with self.reader() as r:
            self.assertTrue(wait_until(
                lambda: len(list(r.dialogs(customer_id=customer))) == dialogs and all(
                    len(d.messages) >= per for d in r.dialogs(customer_id=customer)),
                timeout=120))
            for d in r.dialogs(customer_id=customer):
                self.assertEqual([m.text for m in d.messages], want, d.dialog_id)

    def test_exactly_once_and_in_order_through_an_ingress_restart(self):
        # SIGTERM: the ingress answers what it took and refuses the rest
        self.through_a_fault("restart", "ingress", 1.0, 40, 25, 0.05, batch_lines=50,
                             max_backoff=1.0)

    def test_exactly_once_and_in_order_through_a_broker_outage(self):
        # in-flight events: 503 outcome_unknown or unavailable
        self.through_a_fault("outage", "kafka", 2.0, 20, 12, 0.1, batch_lines=40,
                             max_backoff=2.0)

    def test_reading_while_writing(self):
        customer = f"{RUN}-rw"
        errors = []
        done = threading.Event()

        def read():
            with self.reader() as r:
                while not done.is_set():
                    try:
                        for d in r.dialogs(customer_id=customer, page_size=5):
                            self.assertEqual(d.customer_id, customer)
                    except Exception as exc:  # noqa: BLE001
                        errors.append(exc)
                        return

        t = threading.Thread(target=read)
        t.start()
        with self.writer() as w:
            for d in range(30):
                w.message(customer, f"{customer}-d{d}", "hello", "EN")
                w.consent(f"{customer}-d{d}", True)
        done.set()
        t.join()
        self.assertEqual(errors, [])
        with self.reader() as r:
            self.assertTrue(wait_until(lambda: len(list(r.dialogs(customer_id=customer))) == 30))

    def test_a_filtered_set_as_pandas_and_arrow(self):
        # Needs pandas and pyarrow: deploy/test.sh runs this file on the Python it installs them in.
        customer = f"{RUN}-frames"
        with self.writer() as w:
            for d in range(4):
                dialog = f"{customer}-d{d}"
                for m in range(3):
                    w.message(customer, dialog, f"text {d}.{m}", "de" if d % 2 else "en")
                w.consent(dialog, True)
            w.message(customer, f"{customer}-pending", "never read", "en")
        with self.reader() as r:
            self.assertTrue(wait_until(lambda: len(list(r.dialogs(customer_id=customer))) == 4))
            df = r.to_pandas(customer_id=customer)
            self.assertEqual(list(df.columns), ["dialog_id", "customer_id", "position", "text",
                                                "language", "received_at", "consented_at"])
            self.assertEqual(len(df), 12)
            self.assertEqual(set(df["customer_id"]), {customer})
            self.assertNotIn("never read", set(df["text"]))
            one = df[df["dialog_id"] == f"{customer}-d2"].sort_values("position")
            self.assertEqual(list(one["text"]), ["text 2.0", "text 2.1", "text 2.2"])
            self.assertEqual(str(df["received_at"].dtype), "datetime64[ns, UTC]")
            table = r.to_arrow(language="DE", customer_id=customer)
            self.assertEqual(table.num_rows, 6)
            self.assertEqual(set(table.column("language").to_pylist()), {"DE"})
            self.assertEqual(sorted(set(table.column("dialog_id").to_pylist())),
                             [f"{customer}-d1", f"{customer}-d3"])
            self.assertEqual(str(table.schema.field("received_at").type), "timestamp[us, tz=UTC]")

    def test_a_persons_data_and_erasure(self):
        customer = f"{RUN}-person"
        with self.writer() as w:
            w.message(customer, f"{customer}-kept", "consented words", "EN")
            w.consent(f"{customer}-kept", True)
            w.message(customer, f"{customer}-waiting", "pending words", "EN")
        with Privacy(ENV["INGRESS_URL"], ENV["QUERY_URL"], ENV["PRIVACY_TOKEN"]) as p:
            self.assertTrue(wait_until(lambda: len(list(p.person_data(customer))) == 2))
            pending = [d for d in p.person_data(customer) if d.consented_at is None]
            self.assertEqual([d.dialog_id for d in pending], [f"{customer}-waiting"])
            e = p.erase(customer, request_id=f"{RUN}-ticket")
            self.assertEqual(p.erase(customer, request_id=f"{RUN}-ticket").erasure_id,
                             e.erasure_id)
            done = p.wait(e.erasure_id, timeout=120)
            self.assertEqual((done.status, done.dialogs, done.keys_deleted), ("completed", 2, 2))
            self.assertIsNotNone(done.completed_at)
            self.assertEqual(list(p.person_data(customer)), [])
        with Privacy(ENV["INGRESS_URL"], ENV["QUERY_URL"], ENV["READER_TOKEN"]) as p:
            with self.assertRaises(DataAPIError) as ctx:
                p.erase(customer)
            self.assertEqual(ctx.exception.status, 403)

    def test_the_sample_loader(self):
        prefix = f"{RUN}-gen-"
        rc = generate_main(["--customers", "5", "--dialogs", "40", "--consented", "15",
                            "--prefix", prefix, "--quiet", f"--url={ENV['INGRESS_URL']}",
                            f"--token={ENV['WRITER_TOKEN']}"])  # a token may begin with "-"
        self.assertEqual(rc, 0)
        with self.reader() as r:
            def consented():
                return sum(len(list(r.dialogs(customer_id=f"{prefix}c{c:04d}")))
                           for c in range(5))
            self.assertTrue(wait_until(lambda: consented() == 15))


if __name__ == "__main__":
    unittest.main()
