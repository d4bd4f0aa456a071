"""Messenger benchmark: how fast a real `parley run` acknowledges Slack's webhooks, and how long a
customer waits for the reply, with the platform's API a local fake.

    python benchmarks/channels.py [--messages 200] [--store memory|sqlite] [--json FILE]

Starts `parley run --stub-actions` on a copy of the retail pack with the `slack` connector on
(its API pointed at a fake Slack in this process that records when each chat.postMessage
arrives), then posts signed Events API deliveries of the pack's test conversations that stay with the
bot (those that escalate are left out: a conversation a person has gets no bot reply), one
after another, one conversation per test with a new user. For each message: the acknowledgement (the
request sent to Slack's 200 read: verification, recording in the inbox) and the reply (the
request sent to the fake Slack receiving the bot's first message: the turn and the API call).
Slack requires the acknowledgement within 3 s. Then every delivery is posted again, as Slack
retries, and the acknowledgement of a duplicate is timed (nothing may be processed twice: the
benchmark checks the fake received no second reply). Percentiles are nearest-rank.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import percentile, retail_workspace, start_parley, wait_until_healthy  # noqa: E402
from engine.actions.process import free_port  # noqa: E402
from engine.packs import check_pack  # noqa: E402
from engine.packs.testcases import EscalatedStep, UserStep  # noqa: E402

SIGNING_SECRET = "benchmark-signing-secret"
BOT_TOKEN = "xoxb-benchmark-token"


def scripts(pack_folder: Path) -> list[list[str]]:
    """The customer messages of the pack's conversation tests that stay with the bot (a
    conversation handed to a person gets no bot reply to time)."""
    result = check_pack(pack_folder, with_tests=True)
    if result.pack is None or not result.ok():
        raise SystemExit(f"{pack_folder}: the pack has errors")
    return [
        [step.user for step in test.steps if isinstance(step, UserStep)]
        for test in result.pack.tests
        if not any(isinstance(step, EscalatedStep) for step in test.steps)
        and any(isinstance(step, UserStep) for step in test.steps)
    ]


class FakeSlack:
    """Answers chat.postMessage with ok and records when each reply for a channel arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake.lock:
                    fake.arrivals.setdefault(str(body.get("channel")), []).append(time.perf_counter())
                payload = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def first_after(self, channel: str, since: float, timeout: float = 3.0) -> float | None:
        """When the first reply for `channel` after `since` arrived (None: none within `timeout`;
        with stubbed actions a few responses have no variation to say)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                later = [t for t in self.arrivals.get(channel, []) if t >= since]
            if later:
                return min(later)
            time.sleep(0.0005)
        return None

    def count(self) -> int:
        with self.lock:
            return sum(len(times) for times in self.arrivals.values())


def delivery(user: str, text: str, event_id: str) -> tuple[bytes, dict[str, str]]:
    """A direct message to the app as Slack's Events API posts it, signed."""
    now = int(time.time())
    event = {
        "type": "message",
        "channel": f"D{user}",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": f"{now}.{int(event_id[2:]):06d}",
        "event_ts": f"{now}.{int(event_id[2:]):06d}",
    }
    body = json.dumps(
        {
            "token": "unused",
            "team_id": "T0BENCH",
            "api_app_id": "A0BENCH",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": now,
        }
    ).encode()
    base = f"v0:{now}:".encode() + body
    signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(now),
        "X-Slack-Signature": signature,
    }
    return body, headers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--store", choices=("memory", "sqlite"), default="sqlite")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="parley-channels-bench-"))
    slack = FakeSlack()
    try:
        port = free_port()
        pack, config = retail_workspace(
            work, args.store, port, f"channels:\n  slack: {{api_url: '{slack.url}'}}\n"
        )
        secrets = {"PARLEY_SLACK_SIGNING_SECRET": SIGNING_SECRET, "PARLEY_SLACK_BOT_TOKEN": BOT_TOKEN}
        server = start_parley(config, work / "server.log", secrets)
        try:
            figures = run(f"http://127.0.0.1:{port}", server, slack, pack, args.messages)
        except SystemExit:
            server.terminate()
            server.wait(10)
            print(
                (work / "server.log").read_text(encoding="utf-8", errors="replace")[-3000:], file=sys.stderr
            )
            raise
        finally:
            server.terminate()
            server.wait(10)
        figures["store"] = args.store
        for key, value in figures.items():
            print(f"channels.{key}: {value}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    finally:
        slack.server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def run(
    url: str, server: subprocess.Popen[bytes], slack: FakeSlack, pack: Path, messages: int
) -> dict[str, Any]:
    session = requests.Session()
    wait_until_healthy(url, server)
    webhook = f"{url}/webhooks/slack/webhook"
    conversations = scripts(pack)
    sent: list[tuple[bytes, dict[str, str]]] = []
    acks: list[float] = []
    replies: list[float] = []
    counter = 0
    silent = 0

    def post(user: str, text: str, timed: bool) -> None:
        nonlocal counter, silent
        counter += 1
        body, headers = delivery(user, text, f"Ev{counter:08d}")
        begin = time.perf_counter()
        response = session.post(webhook, data=body, headers=headers)
        acked = time.perf_counter()
        if response.status_code != 200:
            raise SystemExit(f"{response.status_code}: {response.text}")
        answered = slack.first_after(f"D{user}", begin)
        if timed:
            acks.append(acked - begin)
            sent.append((body, headers))
            if answered is None:
                silent += 1
            else:
                replies.append(answered - begin)

    for index, script in enumerate(conversations):  # warm-up pass
        for text in script:
            post(f"UWARM{index}", text, timed=False)
    round_ = 0
    while len(acks) < messages:
        for index, script in enumerate(conversations):
            for text in script:
                if len(acks) < messages:
                    post(f"UB{round_}X{index}", text, timed=True)
        round_ += 1
    time.sleep(1.0)  # replies of the last messages
    before = slack.count()
    duplicates: list[float] = []
    for body, _signed in sent:  # Slack retrying every delivery (re-signed: a retry is signed anew)
        event = json.loads(body)
        again, fresh = delivery(event["event"]["user"], event["event"]["text"], event["event_id"])
        begin = time.perf_counter()
        response = session.post(webhook, data=again, headers={**fresh, "X-Slack-Retry-Num": "1"})
        duplicates.append(time.perf_counter() - begin)
        if response.status_code != 200:
            raise SystemExit(f"retry answered {response.status_code}: {response.text}")
    time.sleep(1.0)
    processed_twice = slack.count() - before

    def ms(values: list[float], p: float) -> float:
        return round(percentile(sorted(v * 1000 for v in values), p), 2)

    return {
        "messages": len(acks),
        "ack_p50_ms": ms(acks, 50),
        "ack_p99_ms": ms(acks, 99),
        "reply_p50_ms": ms(replies, 50),
        "reply_p99_ms": ms(replies, 99),
        "messages_without_a_reply (stubbed actions)": silent,
        "duplicate_ack_p50_ms": ms(duplicates, 50),
        "duplicate_ack_p99_ms": ms(duplicates, 99),
        "replies_sent_for_retried_deliveries": processed_twice,
        "slack_ack_limit_ms": 3000,
    }


if __name__ == "__main__":
    main()
