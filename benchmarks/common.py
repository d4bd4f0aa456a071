"""Helpers shared by the benchmarks: where the public datasets are, and timing statistics."""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"


def datasets_dir() -> Path:
    """The public benchmark data: $PARLEY_DATASETS, or ../shared/datasets beside the repository."""
    return Path(os.environ.get("PARLEY_DATASETS", DEFAULT_DATASETS))


def time_runs(function: Callable[[], object], runs: int) -> list[float]:
    """Wall-clock seconds of each of `runs` calls, after one warm-up call."""
    function()
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return timings


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted samples: the ceil(q/100 * n)-th smallest."""
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def peak_rss_mb(pid: int) -> float | None:
    """The most memory process `pid` has held resident so far (Linux's VmHWM), in MB; None where
    /proc does not say (another system, or the process has ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)  # reported in kB
    return None


def retail_workspace(work: Path, store: str, port: int, extra_config: str = "") -> tuple[Path, Path]:
    """Copy the retail pack (and the common pack it imports) into `work` and write a config.yml
    serving it on `port` with the tracker store in memory or in a SQLite file there; returns the
    pack's folder and the config file. `extra_config` is appended (YAML)."""
    import shutil

    for name in ("retail", "common"):
        shutil.copytree(ROOT / "domains" / name, work / "domains" / name)
    pack = work / "domains" / "retail"
    tracker = "memory://" if store == "memory" else f"sqlite:///{work / 'parley.sqlite'}"
    config = work / "config.yml"
    config.write_text(
        f"packs: ['{pack}']\nmodels: '{work / 'models'}'\nstores: {{tracker: '{tracker}'}}\n"
        f"server: {{port: {port}}}\n{extra_config}",
        encoding="utf-8",
    )
    return pack, config


def start_parley(config: Path, log: Path, environ: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`parley run --stub-actions` on `config` in a subprocess, its output in `log`, with the
    PARLEY_ variables of this environment left out (and `environ` added)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(environ or {})
    command = [sys.executable, "-m", "engine.cli", "--config", str(config), "run", "--stub-actions"]
    return subprocess.Popen(
        [*command, "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait_until_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    """Return once `url`/health answers; exit when the server died or stayed silent."""
    import requests

    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        while True:
            if server.poll() is not None:
                raise SystemExit("parley run exited; see its log")
            if time.monotonic() > deadline:
                raise SystemExit(f"parley run did not answer /health within {timeout:g} s")
            try:
                if session.get(f"{url}/health", timeout=0.5).ok:
                    return
            except requests.RequestException:
                time.sleep(0.05)
