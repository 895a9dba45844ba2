"""One keep-alive HTTP connection to a DataAPI service, standard library only."""
from __future__ import annotations

import http.client
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional


class DataAPIError(Exception):
    """An answer the client will not retry: 4xx (the request is wrong) or an unexpected status.

    ``status`` is the HTTP status, ``code``, ``message`` and ``field`` the JSON error's.
    """

    def __init__(self, status: int, code: str, message: str, field: Optional[str] = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field


class Unavailable(Exception):
    """The service answered 503 or 429, or did not answer at all; retry after ``retry_after``
    seconds (from Retry-After when the service sent one)."""

    def __init__(self, reason: str, retry_after: Optional[float] = None):
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass
class Response:
    status: int
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def error_of(status: int, body: bytes) -> DataAPIError:
    """The JSON error of an answer, or a stand-in when its body is not one."""
    try:
        err = json.loads(body.decode("utf-8"))["error"]
        return DataAPIError(status, str(err.get("code", "")), str(err.get("message", "")),
                            err.get("field"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return DataAPIError(status, "unexpected", body[:200].decode("utf-8", "replace"))


def retry_after(headers: Dict[str, str]) -> Optional[float]:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class Connection:
    """Requests to one base URL over a connection kept open between them (reopened after an
    error). Not thread-safe: one per thread."""

    def __init__(self, url: str, token: str, timeout: float = 30.0):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port
        self._prefix = parsed.path.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._conn: Optional[http.client.HTTPConnection] = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _headers(self, content_type: Optional[str]) -> Dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def request(self, method: str, path: str, body: Optional[bytes] = None,
                content_type: Optional[str] = None) -> Response:
        """One request. Raises Unavailable when no answer came (the connection is dropped)."""
        conn = self._connect()
        try:
            conn.request(method, self._prefix + path, body=body, headers=self._headers(content_type))
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise Unavailable(f"no answer from {self._host}: {exc}") from exc
        headers = {k.lower(): v for k, v in resp.getheaders()}
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(resp.status, headers, data)

    def stream_lines(self, path: str) -> Iterator[bytes]:
        """GET path, its body line by line as it arrives (NDJSON). Raises DataAPIError or
        Unavailable before the first line."""
        conn = self._connect()
        try:
            conn.request("GET", self._prefix + path, headers=self._headers(None))
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise Unavailable(f"no answer from {self._host}: {exc}") from exc
        headers = {k.lower(): v for k, v in resp.getheaders()}
        if resp.status != 200:
            data = resp.read()
            if resp.status in (429, 503):
                raise Unavailable(f"{resp.status}", retry_after(headers))
            raise error_of(resp.status, data)
        try:
            for line in resp:
                if line.strip():
                    yield line
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise Unavailable(f"stream cut: {exc}") from exc
        finally:
            resp.close()
            self.close()  # a stream is not reused: the next request opens anew
