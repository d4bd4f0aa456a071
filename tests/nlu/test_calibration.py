"""Calibrated confidences and automatic thresholds (engine/nlu/calibration.py), on hand-made numbers."""

from __future__ import annotations

import numpy as np
import pytest

from engine.nlu.calibration import (
    ThresholdChoice,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
    softmax,
)


# -- softmax -----------------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", [0.05, 1.0, 7.5, 200.0])
def test_calibration_softmax_rows_are_probabilities_in_score_order(temperature: float) -> None:
    scores = np.random.default_rng(3).normal(scale=3.0, size=(50, 6))
    probabilities = softmax(scores, temperature)
    assert probabilities.shape == scores.shape
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert (probabilities.argmax(axis=1) == scores.argmax(axis=1)).all()


def test_calibration_softmax_of_one_row_and_known_values() -> None:
    np.testing.assert_allclose(softmax(np.array([0.0, 0.0]), 3.0), [0.5, 0.5])
    expected = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(softmax(np.array([0.5, 1.0, 1.5]), 2.0), expected, rtol=1e-12)


def test_calibration_softmax_is_stable_for_huge_scores() -> None:
    probabilities = softmax(np.array([[1000.0, 0.0, -1000.0], [-1e6, -1e6, -1e6]]), 1.0)
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])


def test_calibration_higher_temperature_means_sharper_probabilities() -> None:
    scores = np.array([2.0, 1.0, 0.0])
    tops = [softmax(scores, t)[0] for t in (0.5, 1.0, 2.0, 4.0)]
    assert tops == sorted(tops)
    assert len(set(tops)) == 4


# -- temperature -------------------------------------------------------------------------------
@pytest.mark.parametrize("true_temperature", [0.5, 3.0, 12.0])
def test_calibration_fit_temperature_recovers_a_known_temperature(true_temperature: float) -> None:
    rng = np.random.default_rng(7)
    scores = rng.normal(size=(4000, 5))
    probabilities = softmax(scores, true_temperature)
    labels = np.array([rng.choice(5, p=row) for row in probabilities])
    fitted = fit_temperature(scores, labels)
    # The fit smooths labels by 1/(n+2), which pulls very sharp temperatures down a little.
    assert fitted == pytest.approx(true_temperature, rel=0.06)


def test_calibration_fit_temperature_keeps_the_ranking() -> None:
    """Temperature scaling only sharpens or softens: the best class stays the best."""
    rng = np.random.default_rng(11)
    scores = rng.normal(size=(500, 4))
    labels = rng.integers(0, 4, size=500)
    temperature = fit_temperature(scores, labels)
    assert temperature > 0
    assert (softmax(scores, temperature).argmax(axis=1) == scores.argmax(axis=1)).all()


# -- reliability and ECE -------------------------------------------------------------------------
def test_calibration_ece_is_zero_when_confidence_equals_accuracy_in_every_bin() -> None:
    confidence = np.array([0.75] * 4 + [0.25] * 4 + [1.0] * 2)
    correct = np.array([True, True, True, False] + [True, False, False, False] + [True, True])
    assert expected_calibration_error(confidence, correct) == 0.0


def test_calibration_ece_of_a_hand_made_case() -> None:
    # Bin (0.8, 0.9]: 2 messages, confidence 0.9, accuracy 0.5 -> gap 0.4, weight 1/2.
    # Bin (0.5, 0.6]: 2 messages, confidence 0.6, accuracy 1.0 -> gap 0.4, weight 1/2.
    confidence = np.array([0.9, 0.9, 0.6, 0.6])
    correct = np.array([True, False, True, True])
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.4, abs=1e-12)
    # Two bins: one message at confidence 0.3, wrong (gap 0.3), three at 1.0, right (gap 0).
    assert expected_calibration_error(
        np.array([0.3, 1.0, 1.0, 1.0]), np.array([False, True, True, True])
    ) == pytest.approx(0.3 / 4, abs=1e-12)


def test_calibration_ece_of_no_messages_is_zero() -> None:
    assert expected_calibration_error(np.array([]), np.array([], dtype=bool)) == 0.0


def test_calibration_reliability_bins_are_closed_on_the_right() -> None:
    confidence = np.array([0.0, 0.1, 0.5, 0.55, 1.0])
    correct = np.array([True, False, True, True, False])
    bins = reliability_bins(confidence, correct)
    assert [(b.lower, b.upper) for b in bins] == [(i / 10, (i + 1) / 10) for i in range(10)]
    filled = [(b.lower, b.count, b.accuracy, b.confidence) for b in bins if b.count]
    assert filled == [
        (0.0, 2, 0.5, pytest.approx(0.05)),  # 0.0 and 0.1 are in [0, 0.1]
        (0.4, 1, 1.0, 0.5),  # 0.5 is in (0.4, 0.5]
        (0.5, 1, 1.0, 0.55),
        (0.9, 1, 0.0, 1.0),  # 1.0 is in the last bin
    ]
    assert sum(b.count for b in bins) == len(confidence)
    assert bins[0].to_json() == {"lower": 0.0, "upper": 0.1, "count": 2, "accuracy": 0.5, "confidence": 0.05}


# -- thresholds --------------------------------------------------------------------------------
T, F = True, False


@pytest.mark.parametrize(
    ("confidence", "correct", "in_scope", "target", "expected"),
    [
        pytest.param(
            [0.95, 0.9, 0.7, 0.6, 0.4],
            [T, T, T, F, T],
            [T, T, T, T, T],
            0.8,
            # Precision at each cut: 1, 1, 1, 3/4, 4/5. The lowest cut reaching 0.8 is 0.4.
            ThresholdChoice(0.4, 0.8, 0.8, 1.0, True),
            id="reached-lowest-threshold-wins",
        ),
        pytest.param(
            [0.95, 0.9, 0.7, 0.6, 0.4],
            [T, T, T, F, F],
            [T, T, T, T, T],
            0.8,
            # 3/4 and 3/5 miss the target: the cut stays at 0.7, three of five answered.
            ThresholdChoice(0.7, 0.8, 1.0, 0.6, True),
            id="reached-higher-threshold",
        ),
        pytest.param(
            [0.9, 0.8, 0.8, 0.5],
            [T, T, F, T],
            [T, T, T, T],
            0.9,
            # Cutting between the two 0.8s would give precision 1.0, but a threshold of 0.8
            # accepts both: precision 2/3. Only 0.9 reaches the target.
            ThresholdChoice(0.9, 0.9, 1.0, 0.25, True),
            id="ties-are-never-split",
        ),
        pytest.param(
            [0.9, 0.8, 0.8, 0.5],
            [T, T, F, T],
            [T, T, T, T],
            0.7,
            ThresholdChoice(0.5, 0.7, 0.75, 1.0, True),
            id="ties-counted-together",
        ),
        pytest.param(
            [0.9, 0.8, 0.7],
            [F, T, F],
            [T, T, F],
            0.99,
            # Precision 0, 1/2, 1/3: never reached; the best precision is at 0.8.
            ThresholdChoice(0.8, 0.99, 0.5, 1.0, False),
            id="not-reached-best-precision",
        ),
        pytest.param(
            [0.95, 0.9, 0.6, 0.4, 0.0],
            [T, T, F, T, F],
            [T, T, F, T, T],
            0.75,
            # The out-of-scope message at 0.6 is a wrong answer; the message at 0.0 (out-of-scope
            # examples won) is never accepted, so coverage is 3 of 4 in-scope messages.
            ThresholdChoice(0.4, 0.75, 0.75, 0.75, True),
            id="out-of-scope-answers-are-wrong",
        ),
        pytest.param(
            [0.0, 0.0, 0.0],
            [F, F, F],
            [T, T, T],
            0.9,
            ThresholdChoice(1.0, 0.9, 0.0, 0.0, False),
            id="all-zero-confidences",
        ),
        pytest.param(
            [0.6, 0.6, 0.6],
            [T, T, T],
            [T, T, T],
            0.95,
            ThresholdChoice(0.6, 0.95, 1.0, 1.0, True),
            id="one-confidence-for-all",
        ),
    ],
)
def test_calibration_choose_threshold(
    confidence: list[float],
    correct: list[bool],
    in_scope: list[bool],
    target: float,
    expected: ThresholdChoice,
) -> None:
    choice = choose_threshold(
        np.array(confidence), np.array(correct), np.array(in_scope), target_precision=target
    )
    assert choice.threshold == expected.threshold
    assert choice.target_precision == expected.target_precision
    assert choice.precision == pytest.approx(expected.precision, abs=1e-12)
    assert choice.coverage == pytest.approx(expected.coverage, abs=1e-12)
    assert choice.reached is expected.reached


def test_calibration_threshold_choice_to_json() -> None:
    choice = ThresholdChoice(0.123456, 0.9, 2 / 3, 0.5, False)
    assert choice.to_json() == {
        "recommended": 0.1235,
        "target_precision": 0.9,
        "precision": 0.6667,
        "coverage": 0.5,
        "reached": False,
    }
