"""NLU benchmark: CLINC150 and SNIPS, trained through the same code path as `parley train`.

    python benchmarks/nlu.py [--only clinc150|snips] [--json FILE]

CLINC150 (data_full): the pack is the 15,000 training queries plus the 100 out-of-scope training
queries. The fallback threshold is chosen on val + oos_val only (the lowest threshold whose
answers reach the pack's target precision, the same rule as `threshold: auto`), then:
- in-scope accuracy on the 4,500 test queries (a fallback counts as wrong);
- out-of-scope recall and precision on oos_test (1,000 queries) against the in-scope test;
- AUROC of "out of scope" against "in scope" by the answer's confidence;
- ECE of the top probability (out-of-scope class included) over test + oos_test;
- the same at a second threshold, the lowest that flags 65% of oos_val (the published
  comparison's operating point): `recall65_*`;
- training time, model load time (a fresh tokenizer included), single-message parse latency
  p50/p99 over the test queries, peak memory of the process.
SNIPS: trained on the seven train_*_full files; intent accuracy (top intent) on the 700 validate
queries and entity span F1 (exact entity and boundaries, micro-averaged).
Retail (domains/retail): training time, and model load time with a fresh tokenizer.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT
from benchmarks.datasets import build_clinc_pack, build_snips_pack, clinc_data, snips_queries
from engine.nlu import text as nlu_text
from engine.nlu.calibration import choose_threshold, expected_calibration_error
from engine.nlu.model import NluModel
from engine.nlu.store import ModelStore
from engine.nlu.training import answers
from engine.nlu.types import OUT_OF_SCOPE
from engine.packs import load_pack

TARGETS = {
    "clinc150.in_scope_accuracy": ">= 0.93",
    "clinc150.oos_recall": ">= 0.65",
    "clinc150.train_seconds": "<= 60",
    "clinc150.parse_p99_ms": "<= 5",
    "snips.intent_accuracy": ">= 0.98",
    "snips.entity_f1": ">= 0.90",
    "retail.load_seconds": "< 0.3",
}


def _train(folder: Path, models: Path) -> tuple[NluModel, float, dict[str, object]]:
    pack = load_pack(folder)
    started = time.perf_counter()
    outcome = ModelStore(models).train(pack, force=True)
    seconds = time.perf_counter() - started
    nlu_text._blank.cache_clear()  # load as a fresh process would: build the tokenizer again
    started = time.perf_counter()
    model = NluModel.load(outcome.folder)
    load_seconds = time.perf_counter() - started
    return model, seconds, {"load_seconds": load_seconds, "settings": pack.settings}


def _auroc(scores_positive: np.ndarray, scores_negative: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([scores_positive, scores_negative]))
    n_pos, n_neg = len(scores_positive), len(scores_negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def clinc150(work: Path) -> dict[str, float]:
    data = clinc_data()
    build_clinc_pack(work / "clinc150")
    model, train_seconds, info = _train(work / "clinc150", work / "models")
    settings = info["settings"]
    classes = model.classifier.classes

    def decide(texts: list[str], labels: list[str]):  # type: ignore[no-untyped-def]
        return answers(model.probabilities(texts), classes, labels)

    val = data["val"] + [[t, OUT_OF_SCOPE] for t, _ in data["oos_val"]]
    val_answers = decide([t for t, _ in val], [label for _, label in val])
    target = settings.fallback.target_precision  # type: ignore[attr-defined]
    choice = choose_threshold(val_answers.confidence, val_answers.correct, val_answers.in_scope, target)
    threshold = choice.threshold

    test = data["test"] + [[t, OUT_OF_SCOPE] for t, _ in data["oos_test"]]
    labels = [label for _, label in test]
    result = decide([t for t, _ in test], labels)
    accepted = result.confidence >= threshold
    in_scope = result.in_scope
    flagged = ~accepted
    in_scope_accuracy = float((result.correct & accepted)[in_scope].mean())
    oos_recall = float(flagged[~in_scope].mean())
    oos_precision = float((~in_scope & flagged).sum() / max(flagged.sum(), 1))
    auroc = _auroc(1 - result.confidence[~in_scope], 1 - result.confidence[in_scope])
    truth_index = np.array([classes.index(label) for label in labels])
    probabilities = model.probabilities([t for t, _ in test])
    ece = expected_calibration_error(probabilities.max(axis=1), probabilities.argmax(axis=1) == truth_index)

    # The operating point of the published comparison: the lowest threshold whose out-of-scope
    # recall on oos_val reaches 65% (chosen on validation data only), applied to test.
    oos_val_confidence = np.sort(val_answers.confidence[~val_answers.in_scope])
    at_65 = float(oos_val_confidence[int(np.ceil(0.65 * len(oos_val_confidence)))])
    accepted_65 = result.confidence >= at_65
    latencies = []
    for text, _ in data["test"][:2000]:
        started = time.perf_counter()
        model.parse(text)
        latencies.append((time.perf_counter() - started) * 1000)
    return {
        "clinc150.in_scope_accuracy": in_scope_accuracy,
        "clinc150.oos_recall": oos_recall,
        "clinc150.oos_precision": oos_precision,
        "clinc150.auroc": auroc,
        "clinc150.ece": ece,
        "clinc150.threshold": threshold,
        "clinc150.top1_accuracy": float(
            (np.asarray(result.predicted) == np.asarray(labels))[in_scope].mean()
        ),
        "clinc150.recall65_threshold": at_65,
        "clinc150.recall65_in_scope_accuracy": float((result.correct & accepted_65)[in_scope].mean()),
        "clinc150.recall65_oos_recall": float((~accepted_65)[~in_scope].mean()),
        "clinc150.train_seconds": train_seconds,
        "clinc150.load_seconds": float(info["load_seconds"]),  # type: ignore[arg-type]
        "clinc150.parse_p50_ms": float(np.percentile(latencies, 50)),
        "clinc150.parse_p99_ms": float(np.percentile(latencies, 99)),
        "clinc150.peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def snips(work: Path) -> dict[str, float]:
    build_snips_pack(work / "snips")
    model, train_seconds, _ = _train(work / "snips", work / "models")
    queries = snips_queries("validate")
    correct_intents = 0
    true_positive = predicted_total = gold_total = 0
    for query in queries:
        result = model.parse(query.text)
        top = result.ranking[0].name if result.ranking else OUT_OF_SCOPE
        correct_intents += top == query.intent
        gold = {(s.entity, s.start, s.end) for s in query.spans}
        found = {(e.entity, e.start, e.end) for e in result.entities}
        true_positive += len(gold & found)
        predicted_total += len(found)
        gold_total += len(gold)
    precision = true_positive / max(predicted_total, 1)
    recall = true_positive / max(gold_total, 1)
    return {
        "snips.intent_accuracy": correct_intents / len(queries),
        "snips.entity_precision": precision,
        "snips.entity_recall": recall,
        "snips.entity_f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "snips.train_seconds": train_seconds,
    }


def retail(work: Path) -> dict[str, float]:
    """The example retail pack: training time and load time (median of 5, fresh tokenizer each)."""
    pack = load_pack(ROOT / "domains" / "retail")
    started = time.perf_counter()
    outcome = ModelStore(work / "models").train(pack, force=True)
    train_seconds = time.perf_counter() - started
    loads = []
    for _ in range(5):
        nlu_text._blank.cache_clear()
        started = time.perf_counter()
        NluModel.load(outcome.folder)
        loads.append(time.perf_counter() - started)
    return {"retail.train_seconds": train_seconds, "retail.load_seconds": float(np.median(loads))}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=("clinc150", "snips", "retail"), help="run one benchmark")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, run in (("clinc150", clinc150), ("snips", snips), ("retail", retail)):
            if args.only in (None, name):
                figures.update(run(work))
    for key, value in figures.items():
        target = f"  (target {TARGETS[key]})" if key in TARGETS else ""
        print(f"{key} {value:.4f}{target}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
