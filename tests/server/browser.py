"""What the browser tests share: a real uvicorn server in a thread, and Debian's headless Chromium
driven by Playwright (which downloads nothing).

Without /usr/bin/chromium the `chromium` fixture skips, saying why; with PARLEY_REQUIRE_SERVICES=1
it fails instead. `make browsers` installs it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, sync_playwright

#: The browser Playwright drives (`make test CHROMIUM=...` passes another one on).
CHROMIUM = Path(os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium"))


class UvicornThread:
    """uvicorn serving `app` on 127.0.0.1 in a thread; `stop` and `start` keep the port.
    `lifespan="on"` runs the app's startup and shutdown (background tasks, closing stores)."""

    def __init__(self, app: FastAPI, *, lifespan: Literal["on", "off"] = "off") -> None:
        self.app = app
        self.lifespan = lifespan
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        # log_config=None: leave the test run's logging as it is.
        config = uvicorn.Config(self.app, log_config=None, log_level="warning", lifespan=self.lifespan)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [listener]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
            time.sleep(0.02)

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "uvicorn did not stop within 10 s"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: run `make browsers` to install Debian's chromium"
        if os.environ.get("PARLEY_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}. PARLEY_REQUIRE_SERVICES=1: these tests must run here.", pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()
