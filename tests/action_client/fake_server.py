"""A misbehaving action server for the client's fault tests: a real HTTP server on a loopback
port whose every answer the test scripts (status, body, delay), and which records the requests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    """One scripted answer: `body` is JSON-encoded unless it is bytes."""

    status: int = 200
    body: Any = field(default_factory=lambda: {"events": [], "responses": []})
    delay: float = 0.0


@dataclass
class Script:
    """Answers in order; the last one repeats."""

    answers: list[Answer] = field(default_factory=lambda: [Answer()])
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: The paths GET requests asked for.
    got: list[str] = field(default_factory=list)

    def next(self) -> Answer:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            script.requests.append(json.loads(self.rfile.read(length) or b"null"))
            self._answer(script.next())

        def do_GET(self) -> None:
            script.got.append(self.path)
            self._answer(script.next())

        def _answer(self, answer: Answer) -> None:
            if answer.delay:
                time.sleep(answer.delay)
            body = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def fake_action_server(script: Script) -> Iterator[str]:
    """Serve `script` on a free loopback port; yields the webhook URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhook"
    finally:
        server.shutdown()
        server.server_close()
