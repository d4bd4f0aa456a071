"""A local fake of a messenger platform's API: an HTTP server on 127.0.0.1 that records every
request the connectors send and answers what the test scripted (200 with a JSON body by default;
a 429 with Retry-After, a 500 ...). Nothing leaves the machine.

`Delivery` is a platform's webhook request to the engine, as the `<name>_platform.py` modules of
this folder build them (signed like the platform signs them).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest


@dataclass(frozen=True)
class Delivery:
    """A webhook request from the platform: POST (or GET) `path_and_query` with `body` and `headers`."""

    body: bytes
    headers: Mapping[str, str]
    method: str = "POST"
    path_and_query: str = ""


@dataclass(frozen=True)
class Captured:
    """A request the fake platform received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


@dataclass
class Scripted:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)


class FakePlatform:
    """`url` is its base URL. `script(status, body, headers, path=...)` queues answers for the
    next requests (to a path ending in `path`, or any); unscripted requests get `default`."""

    def __init__(self) -> None:
        self.calls: list[Captured] = []
        self.default = Scripted()
        self._scripts: deque[tuple[str, Scripted]] = deque()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                captured = Captured(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                answer = platform._answer(captured)
                payload = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                content_type = "application/json" if not isinstance(answer.body, bytes) else "text/plain"
                self.send_header("Content-Type", content_type)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-platform", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(
        self, status: int = 200, body: Any = None, headers: Mapping[str, str] | None = None, *, path: str = ""
    ) -> None:
        with self._lock:
            self._scripts.append(
                (path, Scripted(status, {"ok": True} if body is None else body, dict(headers or {})))
            )

    def _answer(self, captured: Captured) -> Scripted:
        with self._changed:
            self.calls.append(captured)
            chosen = self.default
            for index, (path, scripted) in enumerate(self._scripts):
                if captured.path.endswith(path):
                    chosen = scripted
                    del self._scripts[index]
                    break
            self._changed.notify_all()
            return chosen

    def wait_for(self, count: int, timeout: float = 10.0, *, path: str = "") -> list[Captured]:
        """The calls (to paths ending in `path`) once there are at least `count` of them; fails
        the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self.calls if c.path.endswith(path)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"the fake platform got {len(found)} calls to '*{path}', expected {count}: "
                        f"{[c.path for c in self.calls]}"
                    )
                self._changed.wait(left)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    fake = FakePlatform()
    yield fake
    fake.close()
