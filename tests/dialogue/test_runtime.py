"""The runtime (engine/dialogue/runtime.py): button payloads, which flow starts, sessions."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from engine.dialogue.events import (
    FallbackCounted,
    FlowCancelled,
    FlowStack,
    FlowStarted,
    SessionStarted,
    UserUttered,
)
from tests.dialogue.conftest import DISPATCHED, ORDER_READINGS, ORDERS, Chat, FakeClock, FakeParser


@pytest.fixture
def orders(make_chat: Callable[..., Chat]) -> Callable[..., Chat]:
    def make(**settings: str) -> Chat:
        return make_chat(ORDERS, ORDER_READINGS, stubs=DISPATCHED, **settings)

    return make


def parsed(chat: Chat) -> list[str]:
    parser = chat.assistant.parser
    assert isinstance(parser, FakeParser)
    return parser.texts


# -- button payloads -------------------------------------------------------------------------
def test_runtime_payload_intent_is_read_without_the_nlu(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("/order_status")
    assert parsed(chat) == []
    user = chat.of(UserUttered)[0]
    assert user.parse_data["intent"] == {"name": "order_status", "confidence": 1.0}
    chat.bot("ask_order_id")


def test_runtime_payload_with_values_fills_slots(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user('/order_status{"order_id": "A12345", "not_a_slot": 1}')
    assert parsed(chat) == []
    chat.bot("order_state")
    assert chat.texts == ["Order A12345 is dispatched."]
    user = chat.of(UserUttered)[0]
    assert user.parse_data["slots"] == {"order_id": "A12345"}
    assert [(e["entity"], e["value"], e["extractor"]) for e in user.parse_data["entities"]] == [
        ("order_id", "A12345", "payload")
    ]


def test_runtime_payload_value_is_checked_like_any_other(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user('/order_status{"order_id": "nope"}')  # fails the slot's pattern
    chat.bot("ask_order_id")
    assert chat.slots["order_id"] is None


def test_runtime_payload_with_malformed_json_is_ignored_with_a_log(
    orders: Callable[..., Chat], caplog: pytest.LogCaptureFixture
) -> None:
    chat = orders()
    with caplog.at_level(logging.WARNING, logger="engine.dialogue"):
        chat.user('/order_status{"order_id": A12345}')
    assert parsed(chat) == []
    assert [e.flow_id for e in chat.of(FlowStarted)] == ["order_status"]
    chat.bot("ask_order_id")
    assert chat.slots["order_id"] is None
    assert any("not a JSON object; ignored" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("text", ["/no_such_intent", "/Order_status", "/order status"])
def test_runtime_payload_of_unknown_intent_goes_to_the_nlu(orders: Callable[..., Chat], text: str) -> None:
    chat = orders()
    chat.user(text)
    assert parsed(chat) == [text]
    chat.bot("ask_rephrase")


# -- starting flows --------------------------------------------------------------------------
GUARDS = """\
intents:
  support: {examples: [support]}
  refund: {examples: [refund]}
slots:
  tier: {type: categorical, values: [silver, gold], fill: [{entity: tier}]}
entities:
  tier: {lookup: [silver, gold]}
responses:
  gold_line: The gold line.
  normal_line: The normal line.
  refund_info: Refunds take 5 days.
flows:
  gold_support:
    description: gold support
    trigger: {intents: [support]}
    guard: slots.tier == "gold"
    steps:
      - respond: gold_line
  support:
    description: support
    trigger: {intents: [support]}
    steps:
      - respond: normal_line
  refund:
    description: refunds
    trigger: {intents: [refund], confidence: 0.9}
    steps:
      - respond: refund_info
"""


def test_runtime_flow_guard_chooses_between_flows_of_one_intent(make_chat: Callable[..., Chat]) -> None:
    readings = {"support": ("support",), "hi, gold member here": ("greet", 0.9, {"tier": "gold"})}
    chat = make_chat(GUARDS, readings)
    chat.user("support")
    chat.bot("normal_line")
    chat.user("hi, gold member here")
    assert chat.slots["tier"] == "gold"
    chat.user("support")
    chat.bot("gold_line")


def test_runtime_flow_trigger_confidence_must_be_reached(make_chat: Callable[..., Chat]) -> None:
    readings = {"refund?": ("refund", 0.8), "refund": ("refund", 0.95)}
    chat = make_chat(GUARDS, readings)
    chat.user("refund?")  # understood (threshold 0.6), but the flow wants 0.9
    chat.bot("ask_rephrase")
    assert [e.reason for e in chat.of(FallbackCounted)] == ["no_flow"]
    assert chat.flows == [] and not chat.of(FlowStarted)
    chat.user("refund")
    chat.bot("refund_info")


# -- sessions --------------------------------------------------------------------------------
SESSION = "{expire_after_minutes: 30, carry_over: [email]}"


def test_runtime_first_message_starts_a_session(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("hi")
    assert isinstance(chat.turn[0], SessionStarted)
    chat.user("hi")
    assert not chat.of(SessionStarted)


def test_runtime_session_expires_after_silence(orders: Callable[..., Chat], clock: FakeClock) -> None:
    chat = orders(session=SESSION)
    chat.user("where is my refund")
    chat.user("jo@example.com")
    chat.user("cancel my order")
    chat.user("A12345")
    chat.bot("ask_confirm")
    clock.advance(minutes=30)
    chat.user("hi")  # exactly 30 minutes: the same session
    assert not chat.of(SessionStarted)
    assert chat.tracker.state.turns == 5
    chat.bot("greet", "flow_resumed", "ask_confirm")

    clock.advance(minutes=30, seconds=1)
    chat.user("hi")
    assert isinstance(chat.turn[0], SessionStarted)
    assert chat.slots == {"order_id": None, "email": "jo@example.com", "order_state": None, "confirm": None}
    assert chat.flows == [] and chat.tracker.state.turns == 1
    chat.bot("greet")


def test_runtime_session_carry_over_all(orders: Callable[..., Chat], clock: FakeClock) -> None:
    chat = orders(session="{expire_after_minutes: 5, carry_over: all}")
    chat.user("where is order A12345")
    clock.advance(minutes=6)
    chat.user("hi")
    assert chat.of(SessionStarted)
    assert chat.slots["order_id"] == "A12345" and chat.slots["order_state"] == "dispatched"


def test_runtime_session_zero_never_expires(orders: Callable[..., Chat], clock: FakeClock) -> None:
    chat = orders(session="{expire_after_minutes: 0}")
    chat.user("where is order A12345")
    clock.advance(minutes=60 * 24 * 30)
    chat.user("hi")
    assert not chat.of(SessionStarted)
    assert chat.slots["order_id"] == "A12345"


def test_runtime_cancels_flows_the_pack_no_longer_has(
    orders: Callable[..., Chat], caplog: pytest.LogCaptureFixture
) -> None:
    """A conversation stored under an earlier version of the pack, standing in a flow that was
    renamed away and past the end of one that got shorter, goes on instead of failing every turn."""
    chat = orders()
    chat.user("where is my order")
    chat.bot("ask_order_id")
    chat.tracker.add(
        FlowStack(
            frames=(
                {"flow": "renamed_away", "pc": 2, "waiting": True, "interrupted": True},
                {"flow": "order_status", "pc": 9, "waiting": True},
            )
        )
    )

    with caplog.at_level(logging.WARNING, logger="engine.dialogue.runtime"):
        chat.user("where is my refund")

    cancelled = chat.of(FlowCancelled)
    assert [(e.flow_id, e.reason) for e in cancelled] == [
        ("renamed_away", "flow_changed"),
        ("order_status", "flow_changed"),
    ]
    chat.bot("ask_email")
    assert chat.flows == ["refund_status"]
    assert "which this pack no longer has" in caplog.text
