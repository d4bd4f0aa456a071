"""Frustration benchmark: how well `assess_frustration` flags frustrated customers.

    python benchmarks/frustration.py [--data FILE ...] [--runs 200] [--json FILE]

Reads labelled conversation snippets (`benchmarks/data/frustration.yml`, the set the formula was
tuned on, and `benchmarks/data/frustration_holdout.yml`, written after the formula was fixed),
predicts "frustrated" when the score reaches the common pack's escalation threshold (0.8), and
prints accuracy, precision, recall and F1 (frustrated is the positive class), the number of
items, the median latency of one call in microseconds, and the items it got wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, median, time_runs
from engine.dialogue.frustration import assess_frustration

THRESHOLD = 0.8  # domains/common/escalation.yml: conversation.frustration >= 0.8
DATA = ROOT / "benchmarks" / "data"
DEFAULT_SETS = (DATA / "frustration.yml", DATA / "frustration_holdout.yml")
KEYS = {"messages", "fallbacks", "frustrated"}


class DataError(ValueError):
    """A labelled set that cannot be read: wrong shape, missing or unknown keys."""


@dataclass(frozen=True)
class Item:
    messages: tuple[str, ...]
    fallbacks: int
    frustrated: bool


def load_items(path: Path) -> list[Item]:
    """The items of a labelled set; raises DataError naming every malformed item."""
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of items, each {{messages, fallbacks, frustrated}}")
    items, problems = [], []
    for number, raw in enumerate(data, start=1):
        keys = set(raw) if isinstance(raw, dict) else set()
        if keys != KEYS:
            problems.append(
                f"item {number}: keys {sorted(keys)}, expected exactly {sorted(KEYS)} "
                f"(missing {sorted(KEYS - keys)}, unknown {sorted(keys - KEYS)})"
            )
            continue
        messages, fallbacks, frustrated = raw["messages"], raw["fallbacks"], raw["frustrated"]
        if not (isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages)):
            problems.append(f"item {number}: `messages` must be a non-empty list of strings")
        elif not (isinstance(fallbacks, int) and 0 <= fallbacks <= len(messages)):
            problems.append(f"item {number}: `fallbacks` must be an integer from 0 to the number of messages")
        elif not isinstance(frustrated, bool):
            problems.append(f"item {number}: `frustrated` must be true or false")
        else:
            items.append(Item(tuple(messages), fallbacks, frustrated))
    if problems:
        raise DataError(f"{path}: {len(problems)} malformed items:\n  " + "\n  ".join(problems))
    return items


def classify(items: list[Item]) -> tuple[dict[str, float], list[tuple[Item, float]]]:
    """Accuracy, precision, recall and F1 of one set, and the misclassified items with their scores."""
    tp = fp = fn = tn = 0
    wrong = []
    for item in items:
        value = assess_frustration(item.messages, fallbacks=item.fallbacks).score
        predicted = value >= THRESHOLD
        tp += predicted and item.frustrated
        fp += predicted and not item.frustrated
        fn += not predicted and item.frustrated
        tn += not predicted and not item.frustrated
        if predicted != item.frustrated:
            wrong.append((item, value))
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    figures = {
        "items": len(items),
        "frustrated": tp + fn,
        "accuracy": (tp + tn) / len(items),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
    }
    return figures, wrong


def latency_us(items: list[Item], runs: int) -> float:
    """Microseconds per call: the median over items of each item's median of `runs` calls."""
    per_item = [
        median(time_runs(lambda item=item: assess_frustration(item.messages, fallbacks=item.fallbacks), runs))  # type: ignore[misc]
        for item in items
    ]
    return median(per_item) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, nargs="+", default=list(DEFAULT_SETS), help="labelled sets")
    parser.add_argument("--runs", type=int, default=200, help="timed calls per item (median is reported)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    results: dict[str, float] = {}
    for path in args.data:
        items = load_items(path)
        figures, wrong = classify(items)
        figures["latency_median_us"] = latency_us(items, args.runs)
        name = path.stem
        print(
            f"{name}: {figures['items']} items ({figures['frustrated']} frustrated), "
            f"threshold {THRESHOLD}: accuracy {figures['accuracy']:.3f}, "
            f"precision {figures['precision']:.3f}, recall {figures['recall']:.3f}, "
            f"F1 {figures['f1']:.3f}; latency median {figures['latency_median_us']:.0f} µs per call"
        )
        for item, score in wrong:
            label = "missed frustrated" if item.frustrated else "false alarm"
            print(f"  {label} (score {score:.3f}, fallbacks {item.fallbacks}): {list(item.messages)}")
        results.update({f"{name}.{key}": value for key, value in figures.items()})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
