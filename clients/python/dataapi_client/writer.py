"""The sending side: events queued, sent through POST /batch, retried until each one is
accepted or rejected, never dropped silently."""
from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple

from ._http import Connection, DataAPIError, Unavailable, error_of, retry_after


@dataclass
class Event:
    """One message or consent, as queued. ``idempotency_key`` is set for every event: a retry
    of it, by this Writer or after a restart with the same key, is stored once."""

    kind: str  # "message" or "consent"
    dialog_id: str
    idempotency_key: str
    customer_id: Optional[str] = None
    text: Optional[str] = None
    language: Optional[str] = None
    granted: Optional[bool] = None
    line: bytes = field(default=b"", repr=False)

    def encode(self) -> bytes:
        if self.kind == "message":
            obj: Dict[str, Any] = {"customerId": self.customer_id, "dialogId": self.dialog_id,
                                   "text": self.text, "language": self.language}
        else:
            obj = {"dialogId": self.dialog_id, "consent": self.granted}
        obj["idempotencyKey"] = self.idempotency_key
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


@dataclass
class Outcome:
    """What became of an event: ``accepted`` with its ``event_id``, or rejected with the
    ingress's ``error`` (the event is wrong as it is: it is not retried)."""

    event: Event
    accepted: bool
    event_id: Optional[str] = None
    error: Optional[DataAPIError] = None


class QueueFull(Exception):
    """The Writer's queue stayed full for the whole timeout."""


class WriterClosed(Exception):
    """The Writer is closed: no more events."""


Callback = Callable[[Outcome], None]


class Writer:
    """Sends events to the ingress (or the proxy) at ``url`` with a writer token.

    Events wait in a queue of at most ``max_queue`` (counting those being sent); a background thread sends them in
    POST /batch requests of up to ``batch_lines`` lines and ``batch_bytes`` bytes, at
    least every ``linger`` seconds. Every event has an idempotency key, so every retry is
    safe: a line that failed (503, 429, no answer) is sent again, after a pause that
    follows Retry-After (else an exponential backoff up to ``max_backoff``), before any
    later event of its dialog, so one dialog's events keep their order. ``on_outcome`` is
    called (on the sending thread) with each event's outcome; a rejected event (4xx) is
    never retried and is also kept in ``rejected``. ``flush()`` and ``close()`` wait for
    every queued event. A full queue blocks ``message()``/``consent()`` for up to
    ``put_timeout`` seconds (``None``: as long as it takes), then raises QueueFull.
    """

    def __init__(self, url: str, token: str, *, batch_lines: int = 500,
                 batch_bytes: int = 512 * 1024, linger: float = 0.05, max_queue: int = 10000,
                 put_timeout: Optional[float] = None, max_backoff: float = 10.0,
                 on_outcome: Optional[Callback] = None, timeout: float = 30.0):
        if batch_lines < 1 or batch_lines > 1000:
            raise ValueError("batch_lines must be 1 to 1000 (the ingress's limit)")
        self._conn = Connection(url, token, timeout)
        self._batch_lines = batch_lines
        self._batch_bytes = batch_bytes
        self._linger = linger
        self._max_queue = max_queue
        self._put_timeout = put_timeout
        self._max_backoff = max_backoff
        self._on_outcome = on_outcome
        self._queue: Deque[Event] = deque()
        self._lock = threading.Condition()
        self._unsettled = 0  # queued or being sent
        self._closing = False
        self.accepted = 0
        self.rejected: List[Outcome] = []
        self.retries = 0
        self._thread = threading.Thread(target=self._run, name="dataapi-writer", daemon=True)
        self._thread.start()

    # ---- the caller's side -------------------------------------------------------------

    def message(self, customer_id: str, dialog_id: str, text: str, language: str, *,
                idempotency_key: Optional[str] = None) -> Event:
        """Queues a message; returns it (its idempotency key, made when not given)."""
        return self._put(Event("message", dialog_id, idempotency_key or uuid.uuid4().hex,
                               customer_id=customer_id, text=text, language=language))

    def consent(self, dialog_id: str, granted: bool, *,
                idempotency_key: Optional[str] = None) -> Event:
        """Queues a consent (false erases the dialog)."""
        return self._put(Event("consent", dialog_id, idempotency_key or uuid.uuid4().hex,
                               granted=granted))

    def _put(self, ev: Event) -> Event:
        ev.line = ev.encode()
        deadline = None if self._put_timeout is None else time.monotonic() + self._put_timeout
        with self._lock:
            # queued and in flight both count: the Writer holds at most max_queue events
            while self._unsettled >= self._max_queue and not self._closing:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise QueueFull(f"{self._max_queue} events waiting for the ingress")
                self._lock.wait(left)
            if self._closing:
                raise WriterClosed("the Writer is closed")
            self._queue.append(ev)
            self._unsettled += 1
            self._lock.notify_all()
        return ev

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Waits until every event queued so far is accepted or rejected; False when the
        timeout passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._unsettled:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def close(self, timeout: Optional[float] = None) -> bool:
        """Flushes, then stops the sending thread. False when events were still unsettled at
        the timeout (they stay in ``pending()``)."""
        done = self.flush(timeout)
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        if done:
            self._thread.join()
            self._conn.close()
        return done

    def pending(self) -> int:
        with self._lock:
            return self._unsettled

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the sending thread ------------------------------------------------------------

    def _take(self) -> List[Event]:
        """The next batch: waits for an event, then up to linger for more."""
        with self._lock:
            while not self._queue and not self._closing:
                self._lock.wait()
            if not self._queue:
                return []
            start = time.monotonic()
            while (len(self._queue) < self._batch_lines and not self._closing and
                   time.monotonic() - start < self._linger):
                self._lock.wait(self._linger - (time.monotonic() - start))
            batch: List[Event] = []
            size = 0
            while self._queue and len(batch) < self._batch_lines:
                ev = self._queue[0]
                if batch and size + len(ev.line) > self._batch_bytes:
                    break
                batch.append(self._queue.popleft())
                size += len(ev.line)
            self._lock.notify_all()  # room in the queue
            return batch

    def _settle(self, outcomes: List[Outcome], retry: List[Event]) -> None:
        with self._lock:
            # failed lines go back first, in their order: before any later event of theirs
            self._queue.extendleft(reversed(retry))
            self._unsettled -= len(outcomes)
            self._lock.notify_all()
        for out in outcomes:
            if out.accepted:
                self.accepted += 1
            else:
                self.rejected.append(out)
            if self._on_outcome:
                self._on_outcome(out)

    def _run(self) -> None:
        backoff = 0.1
        while True:
            batch = self._take()
            if not batch:
                return
            try:
                outcomes, retry, wait = self._send(batch)
            except Unavailable as exc:
                outcomes, retry, wait = [], batch, exc.retry_after
            self._settle(outcomes, retry)
            if retry:
                self.retries += 1
                pause = wait if wait is not None else backoff
                backoff = min(self._max_backoff, backoff * 2)
                time.sleep(pause * random.uniform(0.8, 1.2))
            else:
                backoff = 0.1

    def _send(self, batch: List[Event]) -> Tuple[List[Outcome], List[Event], Optional[float]]:
        """One POST /batch: the settled outcomes, the events to send again, the pause the
        ingress asked for. A line of a dialog after one that failed is sent again too (it
        may have been stored: its idempotency key makes that safe), so order holds."""
        body = b"".join(ev.line for ev in batch)
        resp = self._conn.request("POST", "/batch", body, "application/x-ndjson")
        wait = retry_after(resp.headers)
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        results = doc.get("results") if isinstance(doc, dict) else None
        if not isinstance(results, list) or len(results) != len(batch):
            if resp.status in (429, 503) or resp.status >= 500:
                return [], batch, wait
            err = error_of(resp.status, resp.body)
            return [Outcome(ev, False, error=err) for ev in batch], [], None
        outcomes: List[Outcome] = []
        retry: List[Event] = []
        held: Set[str] = set()  # dialogs with a line to send again
        for ev, res in zip(batch, results):
            status = res.get("status")
            if status == "failed" or ev.dialog_id in held:
                held.add(ev.dialog_id)
                retry.append(ev)
            elif status == "accepted":
                outcomes.append(Outcome(ev, True, event_id=res.get("eventId")))
            else:
                e = res.get("error") or {}
                outcomes.append(Outcome(ev, False, error=DataAPIError(
                    400, str(e.get("code", "rejected")), str(e.get("message", "")),
                    e.get("field"))))
        return outcomes, retry, wait
