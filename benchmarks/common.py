"""Helpers shared by the benchmarks: where the public datasets are, and timing statistics."""

from __future__ import annotations

import math
import os
import statistics
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
