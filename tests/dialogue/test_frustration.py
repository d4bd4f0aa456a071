"""Frustration and sentiment of customer messages (engine/dialogue/frustration.py).

The escalation rule of the common pack fires at `conversation.frustration >= 0.8`, so the tests
check which side of 0.8 conversations fall on, and the accuracy on the labelled set of
benchmarks/data/ (deterministic: the same figures as `python benchmarks/frustration.py`).
"""

from __future__ import annotations

import pytest

from benchmarks.frustration import DATA, classify, load_items
from engine.dialogue.frustration import REASONS, WINDOW, Frustration, assess_frustration

ESCALATE = 0.8  # domains/common/escalation.yml

# Measured when the formula was fixed (benchmarks/frustration.py); a small margin below them
# lets a harmless change through but not a regression of more than a few items.
DEV_ACCURACY = 0.882
HOLDOUT_ACCURACY = 0.850
MARGIN = 0.03


# -- behaviour ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "message",
    [
        pytest.param("my parcel is late", id="late-parcel"),
        pytest.param("Hello, my order arrived damaged and the mug is broken. Could you help?", id="damaged"),
        pytest.param("I'm so sorry to bother you, but I think I was charged twice", id="apologetic"),
        pytest.param("I'm really disappointed, the colour is nothing like the photo", id="disappointed"),
        pytest.param("NO I don't want that", id="firm-no"),
        pytest.param("A12345", id="order-number"),
        pytest.param("code SUMMER20 fails on order UK-88231-B, ref INC0012345", id="codes-in-capitals"),
        pytest.param("go on, tell me a joke then", id="asks-for-a-joke"),
        pytest.param("LAPTOP-9999", id="asset-tag"),
    ],
)
def test_frustration_polite_or_plain_problem_stays_low(message: str) -> None:
    assert assess_frustration([message]).score < 0.3


def test_frustration_shouting_with_profanity_is_high() -> None:
    result = assess_frustration(["WHERE IS MY F*CKING ORDER!!!"])
    assert result.score >= ESCALATE
    assert {"shouting", "profanity"} <= set(result.reasons)


@pytest.mark.parametrize(
    "message",
    ["this bot is useless", "what a waste of time", "you're not helping at all", "I'm fed up with this"],
)
def test_frustration_explicit_complaint_escalates(message: str) -> None:
    result = assess_frustration([message])
    assert result.score >= ESCALATE
    assert "complaint" in result.reasons


def test_frustration_one_signal_alone_does_not_escalate() -> None:
    assert assess_frustration(["HELLO I NEED TO CHANGE MY DELIVERY ADDRESS PLEASE"]).score < ESCALATE
    assert assess_frustration(["damn, I forgot the charger, can I still add it?"]).score < ESCALATE


def test_frustration_rephrasing_after_fallbacks_raises_the_score() -> None:
    first = assess_frustration(["where is my refund"])
    again = assess_frustration(["where is my refund", "where's my refund??"], fallbacks=1)
    third = assess_frustration(
        ["where is my refund", "where's my refund??", "WHERE IS MY REFUND"], fallbacks=2
    )
    assert first.score < again.score < third.score
    assert third.score >= ESCALATE
    assert {"rephrasing", "not_understood"} <= set(third.reasons)


def test_frustration_calm_rephrasing_after_fallbacks_stays_under_the_threshold() -> None:
    result = assess_frustration(["track my order", "track order please", "track my order"], fallbacks=3)
    assert 0 < result.score < ESCALATE
    assert result.reasons == ("rephrasing", "not_understood")


def test_frustration_builds_up_over_the_conversation() -> None:
    alone = assess_frustration(["ugh, still broken"])
    after_anger = assess_frustration(["this is ridiculous", "ugh, still broken"])
    assert after_anger.score > alone.score
    assert "complaint" in after_anger.reasons


def test_frustration_reads_only_the_last_messages() -> None:
    angry_long_ago = ["this is useless!!!", *["ok"] * WINDOW]
    assert assess_frustration(angry_long_ago) == assess_frustration(["ok"] * WINDOW)


def test_frustration_reasons_are_known_names_in_a_fixed_order() -> None:
    result = assess_frustration(["not what I asked", "NOT WHAT I ASKED", "ffs"], fallbacks=1)
    assert result.reasons == ("negative", "shouting", "profanity", "rephrasing", "not_understood")
    assert set(result.reasons) <= set(REASONS)


def test_frustration_sentiment_is_vaders_score_of_the_latest_message() -> None:
    assert assess_frustration(["this is awful", "thank you, that's great"]).sentiment > 0.5
    assert assess_frustration(["thank you, that's great", "this is awful"]).sentiment < -0.3
    assert assess_frustration(["sh!t service"]).sentiment < 0  # hidden letters are written out


def test_frustration_is_deterministic() -> None:
    messages = ["where is my order", "WHERE IS IT", "this is ridiculous"]
    assert assess_frustration(messages, fallbacks=2) == assess_frustration(messages, fallbacks=2)


# -- messy input -------------------------------------------------------------------------------
def test_frustration_of_no_messages_is_zero() -> None:
    assert assess_frustration([]) == Frustration(score=0.0, sentiment=0.0, reasons=())


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("", id="empty"),
        pytest.param("   \n\t ", id="whitespace"),
        pytest.param("🙂👍", id="emoji"),
        pytest.param("\x00\x07\x1b[31m\x7f\u200b\ufeff", id="control-characters"),
        pytest.param("\ud800 lone surrogate", id="lone-surrogate"),
        pytest.param("Привет, 我的订单在哪里？ مرحبا", id="mixed-scripts"),
        pytest.param("where is my order " * 6_000, id="100-kb"),
        pytest.param("A" * 100_000, id="100-kb-one-word"),
    ],
)
def test_frustration_messy_input_gives_a_defined_result(message: str) -> None:
    result = assess_frustration([message, message], fallbacks=1)
    assert 0.0 <= result.score <= 1.0
    assert -1.0 <= result.sentiment <= 1.0
    assert set(result.reasons) <= set(REASONS)


def test_frustration_angry_emoji_count_as_a_complaint() -> None:
    result = assess_frustration(["🤬🤬🤬"])
    assert result.score >= ESCALATE
    assert result.reasons == ("complaint",)


def test_frustration_rejects_a_single_string_with_a_hint() -> None:
    with pytest.raises(TypeError, match=r"pass \[text\]"):
        assess_frustration("this is useless")


def test_frustration_rejects_messages_that_are_not_strings() -> None:
    with pytest.raises(TypeError, match=r"positions \[1\]"):
        assess_frustration(["hello", None])  # type: ignore[list-item]


def test_frustration_rejects_negative_fallbacks() -> None:
    with pytest.raises(ValueError, match="got -1"):
        assess_frustration(["hello"], fallbacks=-1)


# -- accuracy on the labelled sets --------------------------------------------------------------
@pytest.mark.parametrize(
    ("file", "measured"),
    [
        pytest.param("frustration.yml", DEV_ACCURACY, id="tuning-set"),
        pytest.param("frustration_holdout.yml", HOLDOUT_ACCURACY, id="holdout"),
    ],
)
def test_frustration_accuracy_on_the_labelled_set_does_not_regress(file: str, measured: float) -> None:
    figures, wrong = classify(load_items(DATA / file))
    assert figures["accuracy"] >= measured - MARGIN, [list(item.messages) for item, _ in wrong]
