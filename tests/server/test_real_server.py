"""`parley run` as a real uvicorn server in a subprocess, used by a Rasa-style REST client
(plain `requests.post`): a retail conversation, JSON logs without PII, and hot reload while
requests flow.

The server serves the retail pack (its model copied from the session's trained one, so `parley
run` finds it up to date) and the tiny shop pack (which `parley run` trains), with stubbed
actions and the in-memory tracker store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from engine.actions.process import free_port
from engine.nlu import ModelStore
from engine.nlu.model import ARRAYS_FILE
from engine.nlu.store import CURRENT_FILE
from engine.packs import Pack
from engine.server.registry import load_served_pack
from tests.conftest import DOMAINS, ROOT, Trained
from tests.server.conftest import AUTH, TOKEN, write_shop

EMAIL = "jane@example.com"


@dataclass
class RunningServer:
    url: str
    folder: Path
    models: ModelStore
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def post(self, sender: str, message: str, *, pack: str | None = None) -> requests.Response:
        path = f"/packs/{pack}/webhooks/rest/webhook" if pack else "/webhooks/rest/webhook"
        return requests.post(f"{self.url}{path}", json={"sender": sender, "message": message}, timeout=10)

    def texts(self, sender: str, message: str, *, pack: str | None = None) -> list[str]:
        response = self.post(sender, message, pack=pack)
        assert response.status_code == 200, response.text
        return [m["text"] for m in response.json()]

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def server(retail: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("real-server")
    models = folder / "models"
    shutil.copytree(retail.outcome.folder, models / "retail" / retail.outcome.folder.name)
    (models / "retail" / CURRENT_FILE).write_text(retail.outcome.folder.name + "\n", encoding="utf-8")
    shop = write_shop(folder / "shop")
    port = free_port()
    config = folder / "config.yml"
    config.write_text(
        f"packs: ['{DOMAINS / 'retail'}', '{shop}']\n"
        f"models: '{models}'\n"
        "stores: {tracker: 'memory://'}\n"
        f"server: {{port: {port}}}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env["PARLEY_API_TOKEN"] = TOKEN
    stdout, stderr = folder / "stdout.txt", folder / "stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "--config", str(config), "run", "--stub-actions"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
    running = RunningServer(f"http://127.0.0.1:{port}", folder, ModelStore(models), process, stdout, stderr)
    try:
        _wait_until_up(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: RunningServer) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"parley run exited: {server.stdout.read_text()}\n{server.stderr.read_text()}")
        try:
            if requests.get(f"{server.url}/health", timeout=0.5).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    pytest.fail("parley run did not answer /health within 60 s")


def test_real_server_prints_where_to_chat(server: RunningServer) -> None:
    printed = server.stdout.read_text(encoding="utf-8")
    assert "✓ retail is up to date" in printed
    assert "✓ shop 1.0.0 trained" in printed
    assert f"web chat:      {server.url}/" in printed
    assert f"REST channel:  {server.url}/webhooks/rest/webhook" in printed


def _variations(pack: Pack, response: str) -> set[str | None]:
    return {variation.text for variation in pack.responses[response]}


def test_real_server_serves_a_retail_conversation_to_a_rasa_client(
    server: RunningServer, retail: Trained
) -> None:
    assert requests.get(f"{server.url}/webhooks/rest/", timeout=5).json() == {"status": "ok"}
    hello = server.post("jane", "hi")
    assert hello.headers["content-type"] == "application/json"
    [greeting] = hello.json()
    assert set(greeting) == {"recipient_id", "text"}
    assert greeting["recipient_id"] == "jane"
    assert greeting["text"] in _variations(retail.pack, "greet")
    [ask] = server.texts("jane", "where is my refund for order A12345?")
    assert ask in _variations(retail.pack, "ask_email")
    handed_over = server.texts("jane", EMAIL)  # the stubbed check does not confirm her: a person takes over
    assert handed_over[0] in _variations(retail.pack, "email_mismatch")
    # A person has the conversation now: the bot only says, once, that the team will see messages.
    [waiting] = server.texts("jane", "hello?")
    assert waiting.startswith("Thanks, I've added that to your request so our team will see it.")
    assert server.post("jane", "anyone there?").json() == []

    tracker = requests.get(
        f"{server.url}/api/packs/retail/conversations/jane/tracker", headers=AUTH, timeout=5
    )
    assert tracker.json()["paused"] is True
    assert EMAIL not in tracker.text
    metrics = requests.get(f"{server.url}/metrics", timeout=5).text
    assert 'parley_messages_total{channel="rest",pack="retail"} 5.0' in metrics
    assert (
        'parley_escalations_total{pack="retail",queue="general",reason="verification_failed"} 1.0' in metrics
    )

    logged = server.stderr.read_text(encoding="utf-8")
    assert EMAIL not in logged
    lines = server.log_lines()
    turns = [line for line in lines if line["logger"] == "engine.server.turns" and line["pack"] == "retail"]
    assert len(turns) == 5
    assert all(line["conversation_id"] == "jane" and len(line["request_id"]) == 32 for line in turns)
    assert turns[2]["turn"]["handoff"] == {"queue": "general", "reason": "verification_failed"}


def test_real_server_swaps_models_while_requests_flow(server: RunningServer) -> None:
    answers: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def chat() -> None:
        count = 0
        while not stop.is_set():
            count += 1
            response = server.post(f"flow-{count}", "hi", pack="shop")
            text = response.json()[0]["text"] if response.status_code == 200 else response.text
            answers.append((response.status_code, text))

    client = threading.Thread(target=chat)
    client.start()
    try:
        while len(answers) < 20:
            time.sleep(0.01)
        folder = server.folder / "shop"
        write_shop(folder, "Hello again!")
        new = server.models.train(load_served_pack(folder), folds=2).folder.name
        ready = requests.get(f"{server.url}/ready", timeout=10).json()
        assert ready["packs"]["shop"]["model_id"] == new
        seen = len(answers)
        while len(answers) < seen + 20:
            time.sleep(0.01)
    finally:
        stop.set()
        client.join(10)
    assert {status for status, _ in answers} == {200}
    texts = [text for _, text in answers]
    switch = texts.index("Hello again!")
    assert switch > 0
    assert set(texts[:switch]) == {"Hello!"}
    assert set(texts[switch:]) == {"Hello again!"}

    # A damaged model made current is rejected; the one serving stays.
    source = server.models.pack_folder("shop") / new
    damaged = source.with_name("99999-20240101-000000-deadbeef")
    shutil.copytree(source, damaged)
    (damaged / ARRAYS_FILE).write_bytes(b"not a numpy archive")
    (source.parent / CURRENT_FILE).write_text(damaged.name + "\n", encoding="utf-8")
    ready = requests.get(f"{server.url}/ready", timeout=10)
    assert (ready.status_code, ready.json()["packs"]["shop"]["model_id"]) == (200, new)
    assert server.texts("after", "hi", pack="shop") == ["Hello again!"]
    errors = [line for line in server.log_lines() if line["logger"] == "engine.server.registry"]
    assert errors[-1]["level"] == "error"
    assert errors[-1]["message"].startswith(
        f"model {damaged.name} of pack shop was not loaded; still serving {new}"
    )


def test_real_server_takes_the_load_test(server: RunningServer, tmp_path: Path) -> None:
    """`loadtests/run.py` against the running server, briefly: the customers' conversations
    succeed, the warm-up is counted apart from the measured run, and the figures the README
    quotes are all there."""
    result = tmp_path / "load.json"
    done = subprocess.run(
        [
            sys.executable, str(ROOT / "loadtests" / "run.py"),
            "--host", server.url,
            "--users", "4", "--seconds", "3", "--warmup", "2", "--think", "0.05,0.2",
            "--json", str(result),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(result.read_text(encoding="utf-8"))
    assert figures["users"] == 4
    assert figures["failures"] == figures["warmup_failures"] == 0
    assert figures["requests"] > 0 and figures["warmup_requests"] > 0
    assert figures["requests_per_s"] > 0
    assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"]
    assert "engine_peak_rss_mb" not in figures  # a server it did not start
    assert f"p99_ms {figures['p99_ms']}" in done.stdout


def test_real_server_stops_cleanly_on_sigterm(server: RunningServer) -> None:
    """Last in this file: SIGTERM ends the server through SystemExit (exit code 143, not death by
    the signal), so `parley run` unwinds and stops the action server it may have started."""
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(10) == 128 + signal.SIGTERM
    assert server.log_lines()[-1]["message"].startswith("Finished server process")
