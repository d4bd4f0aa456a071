"""Loader benchmark: how long validating a pack takes.

Builds a pack of 150 intents x 100 examples from CLINC150 (`data_full.json`, train split, plus
its out-of-scope training queries) in a temporary folder, then times `check_pack` on it and on
the example packs. Prints one line per figure; `--json FILE` also writes them as JSON.

    python benchmarks/loader.py [--runs 5] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, median, time_runs
from benchmarks.datasets import build_clinc_pack
from engine.packs import check_pack

TARGET_CLINC_SECONDS = 2.0
TARGET_RETAIL_SECONDS = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per pack (median is reported)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clinc150"
        intents, examples = build_clinc_pack(folder)
        result = check_pack(folder)
        timings = time_runs(lambda: check_pack(folder), args.runs)
        figures["clinc150.validate_seconds"] = median(timings)
        figures["clinc150.intents"] = intents
        figures["clinc150.examples"] = examples
        figures["clinc150.diagnostics"] = len(result.diagnostics)
        print(
            f"clinc150 ({intents} intents x {examples // intents} examples = {examples}): "
            f"validate median {median(timings):.3f} s over {args.runs} runs "
            f"(target < {TARGET_CLINC_SECONDS} s), {len(result.errors)} errors, "
            f"{len(result.warnings)} warnings"
        )
    for name in ("retail", "it_helpdesk"):
        pack = ROOT / "domains" / name
        if not pack.is_dir():
            print(f"{name}: pack not found at {pack}, skipped")
            continue
        pack_only = median(time_runs(lambda pack=pack: check_pack(pack, with_tests=False), args.runs))  # type: ignore[misc]
        with_tests = median(time_runs(lambda pack=pack: check_pack(pack), args.runs))  # type: ignore[misc]
        figures[f"{name}.validate_seconds"] = pack_only
        figures[f"{name}.validate_with_tests_seconds"] = with_tests
        print(
            f"{name} (with its imports): validate median {pack_only * 1000:.1f} ms, with its "
            f"conversation tests {with_tests * 1000:.1f} ms, over {args.runs} runs "
            f"(target < {TARGET_RETAIL_SECONDS * 1000:.0f} ms)"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
