"""Run the load test headless and print its figures.

    python loadtests/run.py                      # start `parley run` on a scratch database, 50 users, 60 s
    python loadtests/run.py --users 50 --seconds 60 --json results.json
    python loadtests/run.py --host http://127.0.0.1:5005   # a server that is already running
    python loadtests/run.py --workers 2 --tracker-store postgresql+psycopg://... --lock-store redis://...

Without `--host` the script starts `parley run` on a free port with a fresh SQLite tracker store
in a temporary folder (and the example action server, which `parley run` starts), waits until
`/ready` answers and runs locust headless: the customers arrive over the first seconds and run
`--warmup` seconds unmeasured (a fresh server compiles templates, opens connections and fills
caches on its first turns), then the statistics are reset and the measured `--seconds` run in the
same locust process, with the same customers. It stops the server and prints one line per figure:
users, requests, requests_per_s, failures, p50_ms, p95_ms, p99_ms, warmup_requests,
warmup_failures and, for a one-worker server it started, engine_peak_rss_mb (the engine
process's peak resident memory, without the action server); with --json FILE, one JSON object.
It exits 1 when any request failed, in the warm-up too.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from engine.actions.process import free_port

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import log_tail, peak_rss_mb, wait_until_healthy, without_parley_variables  # noqa: E402

BIN = Path(sys.executable).parent


def start_server(
    folder: Path, *, workers: int = 1, tracker_store: str | None = None, lock_store: str | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`parley run` on a free port: conversations in a fresh SQLite file in `folder` unless
    `tracker_store` names a database, the in-process lock unless `lock_store` names a Redis. The
    PARLEY_ variables of this shell are left out: the server runs what the options say."""
    port, actions_port = free_port(), free_port()
    settings = {
        "PARLEY_TRACKER_STORE_URL": tracker_store or f"sqlite:///{folder / 'load.sqlite'}",
        "PARLEY_ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook",
        "PARLEY_DEMO_DB": str(folder / "demo.sqlite"),
    }
    if lock_store:
        settings["PARLEY_LOCK_STORE_URL"] = lock_store
    log = folder / "server.log"
    with open(log, "wb") as output:  # the child has its own copy of the file
        server = subprocess.Popen(
            [str(BIN / "parley"), "run", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=without_parley_variables(settings),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    host = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(host, server, path="/ready", log=log)
    except SystemExit:
        stop(server)
        raise
    return server, host


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(os.getpgid(server.pid), signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(os.getpgid(server.pid), signal.SIGKILL)


def run_locust(host: str, users: int, seconds: int, warmup: int, folder: Path) -> dict[str, float | None]:
    """One locust run of `warmup + seconds`: the customers arrive and warm the server up, then the
    statistics are reset and the measured `seconds` begin (see the locustfile's WARMUP)."""
    prefix = folder / "locust"
    warmup_report = folder / "warmup.json"
    command = [
        str(BIN / "locust"),
        "-f", str(ROOT / "loadtests" / "locustfile.py"),
        "--headless",
        "--host", host,
        "--users", str(users),
        "--spawn-rate", str(max(1, users // 5)),
        "--run-time", f"{warmup + seconds}s",
        "--csv", str(prefix),
        "--only-summary",
    ]  # fmt: skip
    env = {**os.environ, "PARLEY_LOAD_WARMUP": str(warmup), "PARLEY_LOAD_WARMUP_REPORT": str(warmup_report)}
    log = folder / "locust.log"
    with open(log, "wb") as output:
        done = subprocess.run(
            command, check=False, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    stats_file = Path(f"{prefix}_stats.csv")
    if not stats_file.exists():
        raise SystemExit(f"locust exited with {done.returncode} and wrote no statistics:\n{log_tail(log)}")
    if warmup and not warmup_report.exists():
        raise SystemExit(f"locust ended before its {warmup} s warm-up did:\n{log_tail(log)}")
    warm = json.loads(warmup_report.read_text(encoding="utf-8")) if warmup else {}
    with open(stats_file, encoding="utf-8") as stats:
        total = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    return {
        "users": users,
        "requests": int(total["Request Count"]),
        "requests_per_s": round(float(total["Requests/s"]), 1),
        "failures": int(total["Failure Count"]),
        "p50_ms": float(total["50%"]),
        "p95_ms": float(total["95%"]),
        "p99_ms": float(total["99%"]),
        "warmup_requests": int(warm.get("requests", 0)),
        "warmup_failures": int(warm.get("failures", 0)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", help="a running server (default: start one)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--json", type=Path, metavar="FILE")
    parser.add_argument(
        "--warmup",
        type=int,
        default=15,
        metavar="SECONDS",
        help="run the customers this long first, unmeasured (default 15; 0 measures from a cold start)",
    )
    parser.add_argument(
        "--think",
        default="1,3",
        metavar="MIN,MAX",
        help="seconds a customer takes between messages (default 1,3; 0,0 for a saturation test)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument(
        "--tracker-store",
        metavar="URL",
        help="the server's tracker store (default: a fresh SQLite file), e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument(
        "--lock-store",
        metavar="URL",
        help="the server's lock store (default: in-process), e.g. redis://127.0.0.1:6379/0; "
        "several workers need one",
    )
    parser.add_argument(
        "--arrive",
        choices=("spread", "together"),
        default="spread",
        help="spread (default): each customer opens the chat after a pause of its own; together: "
        "the customers locust starts in one tick send their first messages at the same instant",
    )
    args = parser.parse_args()
    if args.host and (args.workers != 1 or args.tracker_store or args.lock_store):
        parser.error("--workers, --tracker-store and --lock-store set up a server run.py starts, not --host")
    with tempfile.TemporaryDirectory(prefix="parley-load-") as scratch:
        folder = Path(scratch)
        if args.host:
            server, host = None, args.host
        else:
            server, host = start_server(
                folder, workers=args.workers, tracker_store=args.tracker_store, lock_store=args.lock_store
            )
        try:
            os.environ["PARLEY_LOAD_THINK"] = args.think
            os.environ["PARLEY_LOAD_ARRIVE"] = args.arrive
            figures = run_locust(host, args.users, args.seconds, args.warmup, folder)
            if server is not None and args.workers == 1:  # else server.pid is uvicorn's supervisor
                figures["engine_peak_rss_mb"] = peak_rss_mb(server.pid)
        finally:
            if server is not None:
                stop(server)
    print(
        f"load test: {figures['users']} users arriving {args.arrive}, {args.think} s between messages, "
        f"for {args.seconds} s "
        f"after {args.warmup} s unmeasured "
        f"against {host} ({os.cpu_count()} cores, locust and the action server on the same machine)"
    )
    for key, value in figures.items():
        print(f"{key} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if figures["failures"] == 0 and figures["warmup_failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
