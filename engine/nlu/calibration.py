"""Confidences that mean what they say, and thresholds chosen to reach a target precision.

- `softmax(scores * temperature)` turns classifier scores into probabilities; the temperature is
  fitted on out-of-fold scores by minimizing the negative log-likelihood (temperature scaling,
  Guo et al. 2017), which keeps the ranking and fixes over- or under-confidence.
- `expected_calibration_error` (ECE) measures how far confidence is from accuracy, over equal-width
  confidence bins, weighted by how many messages fall in each bin.
- `choose_threshold` picks the lowest confidence threshold at which the answers the assistant
  gives (confidence at or above the threshold, not out of scope) are right at least
  `target_precision` of the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar

Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def softmax(scores: npt.NDArray[Any], temperature: float) -> Array:
    z = np.asarray(scores, dtype=np.float64) * temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    result: Array = e / e.sum(axis=-1, keepdims=True)
    return result


def fit_temperature(scores: npt.NDArray[Any], labels: npt.NDArray[np.int_]) -> float:
    """The multiplier of the scores that makes softmax probabilities best fit the true labels.

    The fit is against labels smoothed by 1/(n+2) (Laplace's rule of succession): out-of-fold
    scores without a single mistake (a small, clean pack) do not prove that the model is never
    wrong, and without smoothing they would push the temperature to its bound and every
    confidence to exactly 1.0 or 0.0. With thousands of examples the smoothing vanishes."""
    rows = np.arange(len(labels))
    smoothing = 1.0 / (len(labels) + 2)

    def negative_log_likelihood(log_t: float) -> float:
        log_p = np.log(np.clip(softmax(scores, float(np.exp(log_t))), 1e-12, None))
        true_class = log_p[rows, labels].mean()
        all_classes = log_p.mean()  # the mean over every class of every row
        return float(-((1 - smoothing) * true_class + smoothing * all_classes))

    best = minimize_scalar(negative_log_likelihood, bounds=(np.log(0.05), np.log(200.0)), method="bounded")
    return float(np.exp(best.x))


@dataclass(frozen=True)
class ReliabilityBin:
    lower: float
    upper: float
    count: int
    accuracy: float
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return {
            "lower": self.lower,
            "upper": self.upper,
            "count": self.count,
            "accuracy": round(self.accuracy, 4),
            "confidence": round(self.confidence, 4),
        }


def reliability_bins(confidence: Array, correct: BoolArray, bins: int = 10) -> list[ReliabilityBin]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    result = []
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        result.append(
            ReliabilityBin(
                lower=round(float(edges[b]), 2),
                upper=round(float(edges[b + 1]), 2),
                count=count,
                accuracy=float(correct[inside].mean()) if count else 0.0,
                confidence=float(confidence[inside].mean()) if count else 0.0,
            )
        )
    return result


def expected_calibration_error(confidence: Array, correct: BoolArray, bins: int = 10) -> float:
    total = len(confidence)
    if total == 0:
        return 0.0
    return float(
        sum(
            b.count / total * abs(b.accuracy - b.confidence)
            for b in reliability_bins(confidence, correct, bins)
        )
    )


@dataclass(frozen=True)
class ThresholdChoice:
    """A threshold and what it gives on the messages it was chosen on."""

    threshold: float
    target_precision: float
    precision: float
    coverage: float
    reached: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "recommended": round(self.threshold, 4),
            "target_precision": self.target_precision,
            "precision": round(self.precision, 4),
            "coverage": round(self.coverage, 4),
            "reached": self.reached,
        }


def choose_threshold(
    confidence: Array, correct: BoolArray, in_scope: BoolArray, target_precision: float
) -> ThresholdChoice:
    """The lowest threshold whose accepted answers reach `target_precision`.

    `confidence[i]` is the confidence of the answer the model would give to message i (zero when
    it already says out of scope), `correct[i]` whether that answer is right (never for an
    out-of-scope message), `in_scope[i]` whether message i has an intent. Precision counts the
    accepted answers that are right; coverage is the share of in-scope messages answered.
    When no threshold reaches the target, the one with the best precision is returned
    (`reached` is False).
    """
    order = np.argsort(-confidence, kind="stable")
    sorted_conf = confidence[order]
    right = np.cumsum(correct[order])
    accepted = np.arange(1, len(order) + 1)
    precision = right / accepted
    # Only cut between different confidences: everything at or above a threshold is accepted.
    last_of_value = np.append(sorted_conf[1:] != sorted_conf[:-1], True) & (sorted_conf > 0)
    candidates = np.flatnonzero(last_of_value)
    in_scope_total = max(int(in_scope.sum()), 1)
    if len(candidates) == 0:
        return ThresholdChoice(1.0, target_precision, 0.0, 0.0, False)
    reaching = candidates[precision[candidates] >= target_precision]
    reached = len(reaching) > 0
    cut = int(reaching[-1]) if reached else int(candidates[np.argmax(precision[candidates])])
    threshold = float(sorted_conf[cut])
    answered = int((in_scope[order][: cut + 1]).sum())
    return ThresholdChoice(
        threshold=threshold,
        target_precision=target_precision,
        precision=float(precision[cut]),
        coverage=answered / in_scope_total,
        reached=reached,
    )
