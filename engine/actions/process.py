"""Running an action server as a child process (rasa_sdk's server, in one process), for
`parley shell`, `make run` and the contract tests: started on a loopback port, ready when its
`/health` answers, always stopped on exit."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import requests


class ActionServerFailed(Exception):
    """The action server process did not start or did not become healthy in time."""


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, ask for SIGKILL when the parent dies, so an action
    server started by `parley run` or a test never outlives it (even after a SIGKILL)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


#: prctl option: the signal a process gets when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ActionServerProcess:
    """`with ActionServerProcess("actions") as server: server.webhook_url`"""

    def __init__(
        self,
        package: str = "actions",
        *,
        port: int | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 30.0,
        log_file: Path | None = None,
    ) -> None:
        self.package = package
        self.port = port or free_port()
        self.cwd = cwd
        self.env = env or {}
        self.startup_timeout = startup_timeout
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/webhook"

    def start(self) -> None:
        server = "engine.actions.sdk_server"  # rasa_sdk's app in one process (see that module)
        command = [sys.executable, "-m", server, "--actions", self.package, "--port", str(self.port)]
        output = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        # Its own process group: stopping reaches whatever the actions' code started too. Loopback
        # only, unless the caller says otherwise (rasa_sdk listens on every interface by default).
        self.process = subprocess.Popen(
            command,
            cwd=self.cwd,
            env={**os.environ, "SANIC_HOST": "127.0.0.1", **self.env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        if not isinstance(output, int):
            output.close()  # the child has its own copy
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                where = f"; see {self.log_file}" if self.log_file else ""
                code = self.process.returncode
                raise ActionServerFailed(
                    f"the action server ({' '.join(command)}) exited with code {code}{where}"
                )
            try:
                if requests.get(f"{self.base_url}/health", timeout=0.5).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise ActionServerFailed(
            f"the action server on port {self.port} did not answer /health within {self.startup_timeout:g} s"
        )

    def stop(self) -> None:
        """SIGTERM to the server's process group; SIGKILL to the group after 5 s."""
        if self.process is None or self.process.poll() is not None:
            return
        group = self.process.pid  # its own session: the group id is its pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # a worker that outlived its parent

    def __enter__(self) -> ActionServerProcess:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def beside_webhook(webhook_url: str, path: str) -> str:
    """Another endpoint of the action server of `webhook_url`, under the same path prefix:
    `https://gw/actions-prefix/webhook` and `/health` give `https://gw/actions-prefix/health`."""
    base = webhook_url.rsplit("/webhook", 1)[0]
    return f"{base}{path}"


def server_is_up(webhook_url: str) -> bool:
    """Whether an action server answers `/health` next to this webhook URL."""
    try:
        return requests.get(beside_webhook(webhook_url, "/health"), timeout=1).ok
    except requests.RequestException:
        return False


def port_of(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)
