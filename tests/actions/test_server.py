"""The action server over real HTTP: `python -m rasa_sdk --actions actions` in a child process on
a loopback port, with its demo database in tmp_path."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from actions.backend import DATABASE_ENV, Order, open_backend
from tests.actions.conftest import pack_contract, request
from tests.conftest import ROOT

#: Seconds the server may take to answer /health (it takes about one).
STARTUP_TIMEOUT = 20.0


@dataclass(frozen=True)
class Server:
    url: str
    database: Path
    http: requests.Session

    def post(self, action: str, slots: dict[str, Any], **changes: Any) -> requests.Response:
        return self.http.post(f"{self.url}/webhook", json={**request(action, slots), **changes}, timeout=10)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _log_tail(log: Path) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            code = process.returncode
            pytest.fail(f"the action server exited with code {code} before answering; log:\n{_log_tail(log)}")
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(
        f"the action server did not answer {url}/health within {STARTUP_TIMEOUT:g} s; log:\n{_log_tail(log)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # Sanic stops its worker processes on SIGTERM
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # a worker left behind, in the server's process group
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("action-server")
    database, log = folder / "demo.sqlite", folder / "server.log"
    port = _free_port()
    env = {**os.environ, DATABASE_ENV: str(database), "SANIC_HOST": "127.0.0.1"}
    command = [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(process, url, log)
        with requests.Session() as http:
            yield Server(url, database, http)
    finally:
        _stop(process)


def test_server_health(server: Server) -> None:
    response = server.http.get(f"{server.url}/health", timeout=5)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_server_lists_every_action_of_the_packs(server: Server) -> None:
    response = server.http.get(f"{server.url}/actions", timeout=5)
    assert response.status_code == 200
    names = [item["name"] for item in response.json()]
    assert len(names) == 17
    assert set(names) == set(pack_contract().action_slots)


def test_server_lookup_order_returns_slot_events(server: Server) -> None:
    response = server.post("action_lookup_order", {"order_id": "B20417"})
    assert response.status_code == 200, response.text
    backend = open_backend(server.database)  # the server created it: opening it changes nothing
    try:
        with backend.transaction() as session:
            eta = session.get_one(Order, "B20417").delivery_eta
    finally:
        backend.close()
    assert eta is not None
    assert response.json() == {
        "events": [
            {"event": "slot", "timestamp": None, "name": "order_state", "value": "dispatched"},
            {"event": "slot", "timestamp": None, "name": "order_total", "value": 59.99},
            {"event": "slot", "timestamp": None, "name": "carrier", "value": "DPD"},
            {"event": "slot", "timestamp": None, "name": "delivery_eta", "value": eta.isoformat()},
        ],
        "responses": [],
    }


def test_server_validation_accepts_a_real_order(server: Server) -> None:
    response = server.post("validate_order_id", {"order_id": "c48213"})
    assert response.status_code == 200
    assert response.json()["events"] == [
        {"event": "slot", "timestamp": None, "name": "order_id", "value": "C48213"}
    ]


def test_server_validation_rejection_is_400(server: Server) -> None:
    response = server.post("validate_order_id", {"order_id": "A99999"})
    assert response.status_code == 400
    assert response.json() == {"error": "there is no order A99999", "action_name": "validate_order_id"}


def test_server_unknown_action_is_404(server: Server) -> None:
    response = server.post("action_does_not_exist", {})
    assert response.status_code == 404
    assert response.json() == {
        "error": "No registered action found for name 'action_does_not_exist'.",
        "action_name": "action_does_not_exist",
    }


def test_server_request_without_domain_is_449(server: Server) -> None:
    body = request("action_lookup_order", {"order_id": "B20417"})
    del body["domain"]
    response = server.http.post(f"{server.url}/webhook", json=body, timeout=10)
    assert response.status_code == 449
    assert response.json()["action_name"] == "action_lookup_order"


def test_server_database_error_is_500_and_the_server_keeps_serving(server: Server) -> None:
    with sqlite3.connect(server.database) as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute("DROP TABLE refunds")  # only this test looks at refunds
    connection.close()
    response = server.post("action_lookup_refund", {"order_id": "A12345"})
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "demo database error: OperationalError: no such table: refunds"
    assert body["request_body"]["next_action"] == "action_lookup_refund"
    assert server.post("action_lookup_order", {"order_id": "B20417"}).status_code == 200
