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
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, datasets_dir, median, time_runs
from engine.packs import check_pack

TARGET_CLINC_SECONDS = 2.0
TARGET_RETAIL_SECONDS = 0.5


def _escape(text: str) -> str:
    """Brackets are annotation markup in examples; literal ones are escaped."""
    return text.replace("[", "\\[").replace("]", "\\]")


def build_clinc_pack(folder: Path) -> tuple[int, int]:
    """Write CLINC150's training data as a pack; returns (intents, examples)."""
    data = json.loads((datasets_dir() / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in data["train"]:
        by_intent[intent].append(text)
    lines = ["pack: clinc150", "version: 1.0.0", "language: en", "settings:", "  repair:"]
    lines += [f"    {key}: false" for key in ("cancel", "restart", "repeat", "help", "human")]
    lines += ["    digression: false", "    clarification: false", "intents:"]
    for intent, examples in sorted(by_intent.items()):
        lines.append(f"  {intent}:")
        lines.append("    examples:")
        lines += [f"      - {json.dumps(_escape(text))}" for text in examples]
    lines.append("out_of_scope:")
    lines.append("  examples:")
    lines += [f"    - {json.dumps(text)}" for text, _ in data["oos_train"]]
    lines.append("responses:")
    lines.append('  ask_rephrase: "Sorry, could you rephrase that?"')
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(by_intent), sum(len(v) for v in by_intent.values())


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
