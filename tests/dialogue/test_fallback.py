"""The fallback ladder (policies/fallback.py): rephrase, clarify, then a person."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.dialogue.events import FallbackCounted
from tests.dialogue.conftest import DISPATCHED, ORDER_READINGS, ORDERS, Chat, Reading

SPECIALISTS = """\
escalation:
  queues:
    specialists: {}
  rules:
    - when: conversation.fallbacks >= 3
      to: specialists
      reason: too_many_fallbacks
"""


@pytest.fixture
def orders(make_chat: Callable[..., Chat]) -> Callable[..., Chat]:
    def make(
        readings: dict[str, Reading | tuple[object, ...]] | None = None, *, extra: str = "", **kwargs: str
    ) -> Chat:
        return make_chat(ORDERS + extra, {**ORDER_READINGS, **(readings or {})}, stubs=DISPATCHED, **kwargs)

    return make


def decided(chat: Chat) -> tuple[str, str]:
    decision = chat.result.decision if chat.result else None
    assert decision is not None
    return decision.policy, decision.kind


def test_fallback_asks_to_rephrase(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("gibberish")
    chat.bot("ask_rephrase")
    assert decided(chat) == ("fallback", "rephrase")
    assert [e.reason for e in chat.of(FallbackCounted)] == ["out_of_scope"]


def test_fallback_counts_an_understood_intent_with_nothing_to_do(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("yes")  # affirm, but nothing asked and no flow starts
    chat.bot("ask_rephrase")
    assert [e.reason for e in chat.of(FallbackCounted)] == ["no_flow"]
    assert chat.tracker.state.fallbacks == 1


def test_fallback_close_call_is_clarified_at_once(orders: Callable[..., Chat]) -> None:
    chat = orders({"where's my stuff": ("order_status", 0.45), "stuff?": ("order_status", 0.35)})
    chat.user("stuff?")  # below CLOSE_CALL: rephrase
    chat.bot("ask_rephrase")
    chat.user("where's my stuff")
    assert decided(chat) == ("fallback", "clarify")
    chat.bot("clarify")
    assert chat.messages[0].data["buttons"] == [
        {"title": "Check where your order is", "payload": "/order_status"}
    ]
    assert [e.reason for e in chat.of(FallbackCounted)] == ["below_threshold"]


def test_fallback_second_in_a_row_offers_plausible_flows(orders: Callable[..., Chat]) -> None:
    chat = orders(
        {"stuff and money": Reading("order_status", 0.3, others={"refund_status": 0.2, "greet": 0.1})}
    )
    chat.user("gibberish")
    chat.bot("ask_rephrase")
    chat.user("stuff and money")
    chat.bot("clarify")
    titles = [b["title"] for b in chat.messages[0].data["buttons"]]
    assert titles == ["Check where your order is", "Check your refund"]  # greet is under PLAUSIBLE


def test_fallback_without_clarification_only_rephrases(orders: Callable[..., Chat]) -> None:
    chat = orders({"where's my stuff": ("order_status", 0.45)}, repair="{clarification: false}")
    chat.user("where's my stuff")
    chat.bot("ask_rephrase")


def test_fallback_escalates_after_max_retries_to_the_default_queue(orders: Callable[..., Chat]) -> None:
    chat = orders()
    for text in ("gibberish", "more gibberish"):
        chat.user(text)
        chat.bot("ask_rephrase")
    chat.user("still gibberish")
    assert decided(chat) == ("fallback", "escalate")
    handoff = chat.result.handoff if chat.result else None
    assert handoff is not None and (handoff.queue, handoff.reason, handoff.rule) == (
        "general",
        "repeated_fallback",
        None,
    )
    chat.bot("handoff_requested")


def test_fallback_max_retries_zero_escalates_at_once(orders: Callable[..., Chat]) -> None:
    chat = orders(fallback="{threshold: 0.6, max_retries: 0}")
    chat.user("gibberish")
    assert decided(chat) == ("fallback", "escalate")


def test_fallback_ladder_starts_again_after_an_understood_message(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("gibberish")
    chat.user("more gibberish")
    chat.user("hi")
    chat.bot("greet")
    chat.user("gibberish")
    chat.bot("ask_rephrase")
    assert chat.tracker.state.fallbacks == 1


def test_fallback_pack_rule_on_fallbacks_wins(orders: Callable[..., Chat]) -> None:
    chat = orders(extra=SPECIALISTS)
    chat.user("gibberish")
    chat.user("more gibberish")
    chat.user("still gibberish")
    assert decided(chat) == ("escalation", "escalate")
    handoff = chat.result.handoff if chat.result else None
    assert handoff is not None and (handoff.queue, handoff.reason, handoff.rule) == (
        "specialists",
        "too_many_fallbacks",
        0,
    )


def test_fallback_pack_rule_on_fallbacks_wins_for_intents_with_nothing_to_do(
    orders: Callable[..., Chat],
) -> None:
    chat = orders(extra=SPECIALISTS)
    for _ in range(3):
        chat.user("yes")  # understood, but nothing to do: a fallback each time
    assert decided(chat) == ("escalation", "escalate")
    handoff = chat.result.handoff if chat.result else None
    assert handoff is not None and (handoff.queue, handoff.reason) == ("specialists", "too_many_fallbacks")
    chat.bot("handoff_requested")  # at once, not after another "could you rephrase that?"


@pytest.mark.parametrize(
    "texts",
    [
        pytest.param(["yes", "yes", "yes"], id="understood-with-nothing-to-do"),
        pytest.param(["gibberish", "yes", "more gibberish"], id="mixed"),
        pytest.param(["yes", "gibberish", "no"], id="mixed-ending-understood"),
    ],
)
def test_fallback_ladder_counts_every_kind_of_fallback(orders: Callable[..., Chat], texts: list[str]) -> None:
    chat = orders()
    for text in texts[:-1]:
        chat.user(text)
        chat.bot("ask_rephrase")
    chat.user(texts[-1])
    assert chat.tracker.state.fallbacks == 3
    handoff = chat.result.handoff if chat.result else None
    assert handoff is not None and (handoff.queue, handoff.reason) == ("general", "repeated_fallback")
    chat.bot("handoff_requested")
