"""`parley evaluate`: how well a pack's model would do on messages it has not seen.

Stratified k-fold cross-validation over the pack's examples: for each fold, the intent model and
the entity CRF are trained on the other folds and asked about this fold's examples. The
temperature and the recommended threshold are fitted on all out-of-fold scores, exactly as
`parley train` does, and each held-out example is then decided as the served model would decide
it (out-of-scope examples win, then the threshold). The result is the metrics dict that
`report.write_report` renders.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from engine import __version__
from engine.nlu.calibration import expected_calibration_error, reliability_bins
from engine.nlu.training import (
    DEFAULT_FOLDS,
    Progress,
    TrainingData,
    build_extractors,
    calibrate,
    cross_validate_scores,
    quiet_progress,
    train_entity_tagger,
    trainability_problems,
)
from engine.nlu.types import OUT_OF_SCOPE
from engine.packs import Pack, PackInvalid
from engine.packs import errors as problems

#: Confused pairs and example utterances shown per pair.
TOP_CONFUSIONS, EXAMPLES_PER_PAIR = 10, 3

Span = tuple[int, int, str]  # start, end, entity or entity:role


def evaluate(
    pack: Pack, *, folds: int = DEFAULT_FOLDS, progress: Progress = quiet_progress
) -> dict[str, Any]:
    """Cross-validate the pack's NLU; the metrics dict described in engine.nlu.report."""
    found = trainability_problems(pack)
    data = TrainingData.from_pack(pack)
    if not found and all(count < 2 for count in Counter(data.labels).values()):
        found = [problems.NOTHING_TO_EVALUATE(pack.start())]
    if found:
        raise PackInvalid(pack.name, found)
    seed = pack.settings.nlu.seed
    predicted_spans: dict[int, set[Span]] = {}

    def entities_of_fold(fold: int, train: TrainingData, test: npt.NDArray[np.int_]) -> None:
        with tempfile.TemporaryDirectory() as work:
            tagger = train_entity_tagger(train, Path(work), seed)
            extractors = build_extractors(pack, tagger)
            for i in test:
                found = extractors.extract(data.examples[i].text)
                predicted_spans[int(i)] = {(m.start, m.end, _label(m.entity, m.role)) for m in found}

    started = time.perf_counter()
    cv = cross_validate_scores(data, folds=folds, seed=seed, progress=progress, on_fold=entities_of_fold)
    labels = [data.labels[i] for i in cv.held_out]
    calibration = calibrate(cv, data.labels, pack)
    probabilities, result, thresholds = calibration.probabilities, calibration.answers, calibration.thresholds
    decided = [
        p if p != OUT_OF_SCOPE and c >= thresholds.for_intent(p) else OUT_OF_SCOPE
        for p, c in zip(result.predicted, result.confidence, strict=True)
    ]
    truth = np.asarray(labels)
    right = np.asarray(decided) == truth
    answered = np.asarray(decided) != OUT_OF_SCOPE
    texts = [data.examples[i].text for i in cv.held_out]
    names = sorted(set(labels) | set(decided))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, decided, labels=names, zero_division=0
    )
    in_scope_names = [n for n in names if n != OUT_OF_SCOPE]
    class_index = np.array([cv.classes.index(label) for label in labels])
    class_correct = probabilities.argmax(axis=1) == class_index
    return {
        "pack": {"name": pack.name, "version": pack.version},
        "engine_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.perf_counter() - started, 2),
        "folds": folds,
        "seed": seed,
        "examples": len(labels),
        "intents": len(in_scope_names),
        "accuracy": _round(right.mean()),
        "macro_f1": _round(np.mean([f for n, f in zip(names, f1, strict=True) if n != OUT_OF_SCOPE])),
        "ece": _round(expected_calibration_error(result.top_probability, class_correct)),
        "per_intent": {
            name: {"precision": _round(p), "recall": _round(r), "f1": _round(f), "support": int(s)}
            for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
        },
        "entities": _entity_metrics(
            [data.examples[i].spans for i in cv.held_out], cv.held_out, predicted_spans
        ),
        "confused_pairs": _confused_pairs(labels, decided, texts),
        "threshold": {
            **calibration.choice.to_json(),
            # What the threshold in use (the pack's, or the auto choice) gives on the same messages.
            "used": round(thresholds.default, 4),
            "used_precision": _round(right[answered].mean()) if answered.any() else 0.0,
            "used_coverage": _round(answered[result.in_scope].mean()) if result.in_scope.any() else 0.0,
        },
        "out_of_scope": _out_of_scope(truth, np.asarray(decided)),
        "confusion": {
            "labels": names,
            "matrix": confusion_matrix(labels, decided, labels=names).tolist(),
        },
        "reliability": {
            "bins": [b.to_json() for b in reliability_bins(result.top_probability, class_correct)],
        },
        # Right and wrong by the best intent, before the threshold: the histogram shows what the
        # threshold line keeps and drops.
        "confidences": {
            "correct": _rounded(result.confidence[result.in_scope & result.correct]),
            "incorrect": _rounded(result.confidence[result.in_scope & ~result.correct]),
            "out_of_scope": _rounded(result.confidence[~result.in_scope]),
        },
        "fail_under": None,
    }


def _label(entity: str, role: str | None) -> str:
    return f"{entity}:{role}" if role else entity


def _round(value: float | np.floating[Any]) -> float:
    return round(float(value), 4)


def _rounded(values: npt.NDArray[np.float64]) -> list[float]:
    return [round(float(v), 3) for v in values]


def _entity_metrics(
    gold_spans: Sequence[Sequence[Any]], held_out: npt.NDArray[np.int_], predicted: dict[int, set[Span]]
) -> dict[str, Any]:
    """Exact-span precision/recall/F1 over all entities (entity, role and boundaries must match)."""
    true_positive: Counter[str] = Counter()
    gold_count: Counter[str] = Counter()
    predicted_count: Counter[str] = Counter()
    for spans, index in zip(gold_spans, held_out, strict=True):
        gold = {(s.start, s.end, s.label) for s in spans}
        found = predicted.get(int(index), set())
        for _, _, label in gold:
            gold_count[label] += 1
        for _, _, label in found:
            predicted_count[label] += 1
        for _, _, label in gold & found:
            true_positive[label] += 1
    per_entity = {
        label: _prf(true_positive[label], predicted_count[label], gold_count[label])
        for label in sorted(gold_count | predicted_count)
    }
    total = _prf(sum(true_positive.values()), sum(predicted_count.values()), sum(gold_count.values()))
    return {**total, "per_entity": per_entity}


def _prf(true_positive: int, predicted: int, gold: int) -> dict[str, Any]:
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": _round(precision), "recall": _round(recall), "f1": _round(f1), "support": gold}


def _confused_pairs(
    labels: Sequence[str], decided: Sequence[str], texts: Sequence[str]
) -> list[dict[str, Any]]:
    examples: dict[tuple[str, str], list[str]] = {}
    for truth, guess, text in zip(labels, decided, texts, strict=True):
        if truth != guess:
            examples.setdefault((truth, guess), []).append(text)
    ranked = sorted(examples.items(), key=lambda item: (-len(item[1]), item[0]))[:TOP_CONFUSIONS]
    return [
        {"true": truth, "predicted": guess, "count": len(found), "examples": found[:EXAMPLES_PER_PAIR]}
        for (truth, guess), found in ranked
    ]


def _out_of_scope(truth: npt.NDArray[np.str_], decided: npt.NDArray[np.str_]) -> dict[str, Any] | None:
    is_oos = truth == OUT_OF_SCOPE
    if not is_oos.any():
        return None
    flagged = decided == OUT_OF_SCOPE
    return {
        "examples": int(is_oos.sum()),
        "recall": _round((flagged & is_oos).sum() / is_oos.sum()),
        "precision": _round((flagged & is_oos).sum() / flagged.sum()) if flagged.any() else 0.0,
    }


def metric_value(metrics: dict[str, Any], name: str) -> float | None:
    """A metric by dotted name, such as 'accuracy' or 'entities.f1'; None when the pack has no
    data for it (out_of_scope.* without out-of-scope examples)."""
    value: Any = metrics
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return float(value) if isinstance(value, int | float) else None
