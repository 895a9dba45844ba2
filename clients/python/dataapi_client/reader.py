"""The reading side: every consented dialog that matches, through cursor pages or the
export stream, as typed records or as a pandas / Arrow table."""
from __future__ import annotations

import json
import random
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, Iterator, List, Optional, TypeVar

from ._http import Connection, DataAPIError, Response, Unavailable, error_of, retry_after

T = TypeVar("T")


def _time(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Message:
    text: str
    language: str
    received_at: datetime


@dataclass(frozen=True)
class Dialog:
    """One stored dialog. ``consented_at`` is None only for a pending dialog (a person's
    data, read with the privacy role)."""

    dialog_id: str
    customer_id: str
    languages: List[str]
    messages: List[Message]
    consented_at: Optional[datetime]
    last_message_at: Optional[datetime]

    @staticmethod
    def from_json(obj: Dict[str, Any]) -> "Dialog":
        return Dialog(
            dialog_id=obj["dialogId"], customer_id=obj["customerId"],
            languages=list(obj.get("languages") or []),
            messages=[Message(m["text"], m["language"], _time(m["receivedAt"]))  # type: ignore[arg-type]
                      for m in obj.get("messages") or []],
            consented_at=_time(obj.get("consentedAt")),
            last_message_at=_time(obj.get("lastMessageAt")))


def _query(**params: Optional[object]) -> str:
    kept = {k: str(v) for k, v in params.items() if v is not None}
    return ("?" + urllib.parse.urlencode(kept)) if kept else ""


class Reader:
    """Reads the query service (or the proxy) at ``url`` with a reader token. A 503 or 429
    is retried after its Retry-After (at most ``retries`` times in a row); other errors
    raise DataAPIError."""

    def __init__(self, url: str, token: str, *, retries: int = 10, timeout: float = 60.0):
        self._conn = Connection(url, token, timeout)
        self._retries = retries

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _retrying(self, call: Callable[[], T]) -> T:
        backoff = 0.2
        for attempt in range(self._retries + 1):
            try:
                return call()
            except Unavailable as exc:
                if attempt == self._retries:
                    raise
                pause = exc.retry_after if exc.retry_after is not None else backoff
                backoff = min(10.0, backoff * 2)
                time.sleep(pause * random.uniform(0.8, 1.2))
        raise AssertionError("unreachable")

    def _get_json(self, path: str) -> Any:
        def once() -> Any:
            resp: Response = self._conn.request("GET", path)
            if resp.status in (429, 503):
                raise Unavailable(str(resp.status), retry_after(resp.headers))
            if resp.status != 200:
                raise error_of(resp.status, resp.body)
            return resp.json()
        return self._retrying(once)

    def dialogs(self, language: Optional[str] = None, customer_id: Optional[str] = None,
                page_size: int = 100) -> Iterator[Dialog]:
        """Every consented dialog that matches, newest first, page by page through
        ``nextCursor`` (never offsets: a page costs the same at any depth). A dialog erased
        while the walk runs is left out; one consented meanwhile may or may not appear."""
        path = "/data" + _query(limit=page_size, language=language, customerId=customer_id)
        while True:
            page = self._get_json(path)
            for item in page["items"]:
                yield Dialog.from_json(item)
            cursor = page.get("nextCursor")
            if not cursor:
                return
            path = "/data" + _query(limit=page_size, language=language,
                                    customerId=customer_id, cursor=cursor)

    def dialog(self, customer_id: str, dialog_id: str) -> Optional[Dialog]:
        """One consented dialog, or None."""
        try:
            return Dialog.from_json(self._get_json(
                f"/data/{urllib.parse.quote(customer_id)}/{urllib.parse.quote(dialog_id)}"))
        except DataAPIError as exc:
            if exc.status == 404:
                return None
            raise

    def export(self, language: Optional[str] = None,
               customer_id: Optional[str] = None) -> Iterator[Dialog]:
        """Every match streamed from GET /data/export, in page order. A stream cut midway
        raises Unavailable (start again: exports are not resumable)."""
        lines = self._retrying(lambda: self._conn.stream_lines(
            "/data/export" + _query(language=language, customerId=customer_id)))
        for line in lines:
            yield Dialog.from_json(json.loads(line))

    def _rows(self, language: Optional[str], customer_id: Optional[str]) -> List[Dict[str, Any]]:
        rows = []
        for d in self.export(language=language, customer_id=customer_id):
            for i, m in enumerate(d.messages):
                rows.append({"dialog_id": d.dialog_id, "customer_id": d.customer_id,
                             "position": i, "text": m.text, "language": m.language,
                             "received_at": m.received_at, "consented_at": d.consented_at})
        return rows

    def to_pandas(self, language: Optional[str] = None,
                  customer_id: Optional[str] = None) -> Any:
        """The matching dialogs as a pandas DataFrame, one row a message (the `pandas`
        extra)."""
        try:
            import pandas
        except ImportError as exc:
            raise ImportError("to_pandas needs pandas: pip install 'dataapi-client[pandas]'") from exc
        return pandas.DataFrame(self._rows(language, customer_id),
                                columns=["dialog_id", "customer_id", "position", "text",
                                         "language", "received_at", "consented_at"])

    def to_arrow(self, language: Optional[str] = None,
                 customer_id: Optional[str] = None) -> Any:
        """The matching dialogs as a pyarrow Table, one row a message (the `arrow` extra)."""
        try:
            import pyarrow
        except ImportError as exc:
            raise ImportError("to_arrow needs pyarrow: pip install 'dataapi-client[arrow]'") from exc
        return pyarrow.Table.from_pylist(self._rows(language, customer_id))


@dataclass(frozen=True)
class Erasure:
    """An erasure request's receipt: no personal data."""

    erasure_id: str
    status: str  # "pending", "running" or "completed"
    requested_at: Optional[datetime] = None
    completed_at: Optional[datetime] = None
    dialogs: int = 0
    keys_deleted: int = 0

    @staticmethod
    def from_json(obj: Dict[str, Any]) -> "Erasure":
        return Erasure(obj["erasureId"], obj["status"], _time(obj.get("requestedAt")),
                       _time(obj.get("completedAt")), int(obj.get("dialogs") or 0),
                       int(obj.get("keysDeleted") or 0))


class Privacy:
    """A person's requests, with a token of role ``privacy``: ``erase()`` on the ingress
    (``ingress_url``), ``erasure()`` and ``person_data()`` on the query service
    (``query_url``); behind the proxy both are its URL."""

    def __init__(self, ingress_url: str, query_url: str, token: str, *, retries: int = 10):
        self._ingress = Connection(ingress_url, token)
        self._reader = Reader(query_url, token, retries=retries)

    def close(self) -> None:
        self._ingress.close()
        self._reader.close()

    def __enter__(self) -> "Privacy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def erase(self, customer_id: str, request_id: Optional[str] = None) -> Erasure:
        """Requests the erasure of every dialog of the customer begun before now; the same
        request_id (your ticket) again answers the same request, so a retry is safe."""
        body: Dict[str, Any] = {"customerId": customer_id}
        if request_id is not None:
            body["requestId"] = request_id
        data = json.dumps(body).encode("utf-8")

        def once() -> Erasure:
            resp = self._ingress.request("POST", "/privacy/erasures", data, "application/json")
            if resp.status in (429, 503):
                raise Unavailable(str(resp.status), retry_after(resp.headers))
            if resp.status != 202:
                raise error_of(resp.status, resp.body)
            return Erasure.from_json(resp.json())
        return self._reader._retrying(once)

    def erasure(self, erasure_id: str) -> Erasure:
        """The request's status and receipt."""
        return Erasure.from_json(self._reader._get_json(
            f"/privacy/erasures/{urllib.parse.quote(erasure_id)}"))

    def wait(self, erasure_id: str, timeout: float = 900.0, poll: float = 0.5) -> Erasure:
        """Polls until the request completes; raises TimeoutError past timeout."""
        end = time.monotonic() + timeout
        while True:
            e = self.erasure(erasure_id)
            if e.status == "completed":
                return e
            if time.monotonic() >= end:
                raise TimeoutError(f"erasure {erasure_id} still {e.status}")
            time.sleep(poll)

    def person_data(self, customer_id: str) -> Iterator[Dialog]:
        """Every dialog stored for the customer, consented or pending (access, portability)."""
        conn = self._reader._conn
        lines = self._reader._retrying(lambda: conn.stream_lines(
            f"/privacy/customers/{urllib.parse.quote(customer_id)}/data"))
        for line in lines:
            yield Dialog.from_json(json.loads(line))
