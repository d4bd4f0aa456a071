"""Serving benchmark: REST latency through a real `parley run` server, and model (re)load times.

    python benchmarks/server.py [--messages 200] [--store memory|sqlite] [--json FILE]

Copies the retail pack (and the common pack it imports) into a temporary folder and starts
`parley run --stub-actions` on it in a subprocess (one uvicorn worker, free port, models
trained into the temporary folder, tracker store in memory or in a temporary SQLite file).
A Rasa-style client (`requests`, one keep-alive session) then sends the user messages of the
pack's conversation tests one after another, one conversation per test with a new sender,
cycling until `--messages` messages are timed after one warm-up pass. Latency is the client's:
request sent to the full JSON answer read (HTTP, JSON validation, lock, tracker load and
append, NLU, policies, rendering; custom actions stubbed). Percentiles are nearest-rank.

Then hot reload: the pack is retrained with `--force` (same sources: only the model is
swapped) and, after a response is edited, trained again (the pack is read again too); each
time `/ready` makes the server pick it up at once and reports its `load_seconds` (model load
and assistant build, plus reading the pack in the second case). Last, the server process's peak
resident memory (Linux's VmHWM: the engine with its models, no action server).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    peak_rss_mb,
    percentile,
    retail_workspace,
    start_parley,
    wait_until_healthy,
)
from engine.actions.process import free_port  # noqa: E402
from engine.nlu import ModelStore  # noqa: E402
from engine.packs import check_pack  # noqa: E402
from engine.packs.testcases import UserStep  # noqa: E402
from engine.server.registry import load_served_pack  # noqa: E402


def scripts(pack_folder: Path) -> list[list[str]]:
    result = check_pack(pack_folder, with_tests=True)
    if result.pack is None or not result.ok():
        raise SystemExit(f"{pack_folder}: the pack has errors")
    found = [[s.user for s in test.steps if isinstance(s, UserStep)] for test in result.pack.tests]
    return [script for script in found if script]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--store", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="parley-server-bench-"))
    try:
        port = free_port()
        pack, config = retail_workspace(work, args.store, port)
        started = time.perf_counter()
        server = start_parley(config, work / "server.log")
        url = f"http://127.0.0.1:{port}"
        try:
            figures = run(url, server, started, pack, work / "models", args.messages, log=work / "server.log")
        finally:
            server.terminate()
            server.wait(10)
        figures["store"] = args.store
        for key, value in figures.items():
            print(f"server.{key}: {value}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(
    url: str,
    server: subprocess.Popen[bytes],
    started: float,
    pack: Path,
    models: Path,
    messages: int,
    *,
    log: Path,
) -> dict[str, object]:
    session = requests.Session()
    wait_until_healthy(url, server, log=log)
    startup = time.perf_counter() - started
    ready = session.get(f"{url}/ready", timeout=10).json()["packs"]["retail"]
    conversations = scripts(pack)

    def send(sender: str, text: str) -> float:
        begin = time.perf_counter()
        response = session.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text})
        response.json()
        elapsed = time.perf_counter() - begin
        if response.status_code != 200:
            raise SystemExit(f"{response.status_code}: {response.text}")
        return elapsed

    for index, script in enumerate(conversations):  # warm-up pass
        for text in script:
            send(f"warm-{index}", text)
    samples: list[float] = []
    round_ = 0
    while len(samples) < messages:
        for index, script in enumerate(conversations):
            for text in script:
                if len(samples) < messages:
                    samples.append(send(f"bench-{round_}-{index}", text))
        round_ += 1

    store = ModelStore(models)
    store.train(load_served_pack(pack), force=True)
    model_only = session.get(f"{url}/ready", timeout=30).json()["packs"]["retail"]
    responses = pack / "responses.yml"
    responses.write_text(responses.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    store.train(load_served_pack(pack))
    with_pack = session.get(f"{url}/ready", timeout=30).json()["packs"]["retail"]
    ms = [s * 1000 for s in samples]
    return {
        "messages": len(samples),
        "conversations": len(conversations),
        "rest_p50_ms": round(percentile(sorted(ms), 50), 2),
        "rest_p90_ms": round(percentile(sorted(ms), 90), 2),
        "rest_p99_ms": round(percentile(sorted(ms), 99), 2),
        "rest_mean_ms": round(sum(ms) / len(ms), 2),
        "startup_to_health_s (validate, train, load, bind)": round(startup, 2),
        "model_load_at_start_ms": round(ready["load_seconds"] * 1000, 1),
        "reload_model_only_ms": round(model_only["load_seconds"] * 1000, 1),
        "reload_model_and_pack_ms": round(with_pack["load_seconds"] * 1000, 1),
        "server_peak_rss_mb": peak_rss_mb(server.pid),
    }


if __name__ == "__main__":
    main()
