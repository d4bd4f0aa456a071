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


def without_parley_variables(environ: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its PARLEY_ variables, plus `environ`: a server started
    for a measurement runs the setup it is given, not one a shell happened to export (a lock store
    URL, channel credentials ...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(environ or {})
    return env


def start_parley(config: Path, log: Path, environ: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`parley run --stub-actions` on `config` in a subprocess, its output in `log`, with the
    PARLEY_ variables of this environment left out (and `environ` added)."""
    command = [sys.executable, "-m", "engine.cli", "--config", str(config), "run", "--stub-actions"]
    with log.open("wb") as output:  # the child has its own copy of the file
        return subprocess.Popen(
            [*command, "--log-level", "warning"],
            cwd=ROOT,
            env=without_parley_variables(environ),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def log_tail(log: Path, lines: int = 20) -> str:
    """The end of a server's log, for an error message (the folder holding it may be removed)."""
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def wait_until_healthy(
    url: str,
    server: subprocess.Popen[bytes],
    timeout: float = 120.0,
    *,
    path: str = "/health",
    log: Path | None = None,
) -> None:
    """Return once `url` + `path` answers 2xx; exit, with the end of `log`, when the server died
    or did not answer in time."""
    import requests

    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        while True:
            if server.poll() is not None:
                problem = f"parley run exited with {server.returncode}"
                break
            if time.monotonic() > deadline:
                problem = f"parley run did not answer {path} within {timeout:g} s"
                break
            try:
                if session.get(f"{url}{path}", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
    raise SystemExit(f"{problem}:\n{log_tail(log)}" if log is not None else f"{problem}; see its log")
