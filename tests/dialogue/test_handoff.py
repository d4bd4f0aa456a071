"""Handoff requests (engine/dialogue/handoff.py): the packet an agent sees, and business hours."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.dialogue.events import BotUttered, FlowCancelled, HandoffRequested, SlotSet, UserUttered
from engine.dialogue.handoff import REDACTED, TRANSCRIPT_LINES, context_packet, queue_is_open
from engine.dialogue.runtime import HandoffStateError
from engine.dialogue.tracker import Tracker
from engine.packs import Pack
from engine.packs.schema import Queue
from tests.dialogue.conftest import DISPATCHED, ORDER_READINGS, ORDERS, Chat


def packet_of(chat: Chat) -> dict[str, Any]:
    handoff = chat.result.handoff if chat.result else None
    assert handoff is not None, "no handoff in this turn"
    return dict(handoff.context)


def test_handoff_packet_tells_the_agent_everything_but_pii(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(ORDERS, ORDER_READINGS, stubs=DISPATCHED)
    for text in ("where is order A12345", "where is my refund", "jo@example.com", "cancel my order"):
        chat.user(text)
    chat.bot("ask_confirm")
    chat.user("a person please")
    packet = packet_of(chat)

    assert packet["slots"] == {"order_id": "A12345", "email": REDACTED, "order_state": "dispatched"}
    assert packet["intent_trail"] == [
        "order_status",
        "refund_status",
        "inform",
        "cancel_order",
        "human_handoff",
    ]
    assert (packet["flow"], packet["step"]) == ("cancel_order", "ask_confirm")
    lines = [(line["from"], line["text"]) for line in packet["transcript"]]
    assert lines == [
        ("customer", "where is order A12345"),
        ("bot", "Order A12345 is dispatched."),
        ("customer", "where is my refund"),
        ("bot", "What is your email?"),
        ("customer", REDACTED),
        ("bot", f"No refund yet for {REDACTED}."),
        ("customer", "cancel my order"),
        ("bot", "Shall I cancel order A12345?"),
        ("customer", "a person please"),
    ]
    assert packet["transcript"][1]["response"] == "order_state"
    assert packet["transcript"][0]["intent"] == "order_status"
    assert packet["summary"] == (
        "Reason: customer request. The customer wants to cancel your order. "
        f"Known: order id A12345, email {REDACTED}, order state dispatched. "
        'Last message: "a person please"'
    )
    assert "jo@example.com" not in json.dumps(packet)


def test_handoff_packet_redacts_pii_a_flow_already_cleared(make_chat: Callable[..., Chat]) -> None:
    body = """\
intents:
  move: {examples: [move]}
slots:
  address: {pii: true, fill: [{text: true}]}
responses:
  ask_address: Where to?
  moved: "Moved to {{ slots.address }}."
flows:
  move:
    description: change your address
    trigger: {intents: [move]}
    reset_slots: [address]
    steps:
      - collect: address
      - respond: moved
"""
    chat = make_chat(body, {"move": ("move",)})
    chat.user("move")
    chat.user("10 Downing Street")
    chat.bot("moved")
    assert chat.slots["address"] is None  # cleared by reset_slots
    chat.user("a person please")
    packet = packet_of(chat)
    assert "Downing" not in json.dumps(packet)
    assert [line["text"] for line in packet["transcript"]][1:4] == [
        "Where to?",
        REDACTED,
        f"Moved to {REDACTED}.",
    ]


def test_handoff_packet_redacts_a_pii_value_inside_another_whole(make_pack: Callable[..., Pack]) -> None:
    pack = make_pack(
        """\
slots:
  customer_id: {pii: true, fill: [{text: true}]}
  phone: {type: phone, pii: true, fill: [{text: true}]}
"""
    )
    events = [
        SlotSet(name="customer_id", value="4321"),
        SlotSet(name="phone", value="07700 904321"),
        UserUttered(text="call me on 07700 904321, I am customer 4321"),
    ]
    tracker = Tracker("c", {"customer_id": None, "phone": None}, events)
    packet = context_packet(pack, tracker, reason="test", flow=None, step=None)
    assert packet["transcript"][0]["text"] == f"call me on {REDACTED}, I am customer {REDACTED}"
    assert packet["slots"] == {"customer_id": REDACTED, "phone": REDACTED}


def test_handoff_packet_keeps_the_latest_transcript_lines(make_pack: Callable[..., Pack]) -> None:
    pack = make_pack()
    events: list[Any] = []
    for index in range(40):
        events.append(UserUttered(text=f"message {index}"))
        events.append(BotUttered(text=f"answer {index}", metadata={"utter_action": "greet"}))
    packet = context_packet(pack, Tracker("c", {}, events), reason="test", flow=None, step=None)
    texts = [line["text"] for line in packet["transcript"]]
    assert len(texts) == TRANSCRIPT_LINES
    assert texts[-1] == "answer 39" and texts[0] == "message 15"
    assert packet["summary"] == 'Reason: test. Last message: "answer 39"'


def test_handoff_to_a_closed_queue_says_its_closed_message(make_chat: Callable[..., Chat]) -> None:
    body = """\
intents:
  night: {examples: [night]}
responses:
  closed_now: The night team starts at 18:00.
flows:
  night:
    description: talk to the night team
    trigger: {intents: [night]}
    steps:
      - escalate: nights
escalation:
  queues:
    nights:
      hours: {timezone: UTC, wed: "18:00-24:00"}
      closed_message: closed_now
"""
    chat = make_chat(body, {"night": ("night",)})
    chat.user("night")  # Wednesday 11:00 UTC
    chat.bot("handoff_requested", "closed_now")
    assert [e.queue for e in chat.of(HandoffRequested)] == ["nights"]


def queue(**days: str) -> Queue:
    timezone = days.pop("timezone", "Europe/London")
    return Queue.model_validate({"hours": {"timezone": timezone, **days}})


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


LONDON = queue(mon="09:00-17:00", sat="closed")
SPLIT = queue(fri="09:00-12:30, 13:30-17:00")
NEW_YORK = queue(timezone="America/New_York", mon="09:00-17:00", tue="18:00-24:00")
LATE = queue(timezone="UTC", sat="20:00-24:00", sun="closed")
TOKYO = queue(timezone="Asia/Tokyo", sun="closed", mon="08:00-09:00")


@pytest.mark.parametrize(
    ("hours", "now", "open_"),
    [
        # 10 June 2024 is a Monday; London is on BST (UTC+1), New York on EDT (UTC-4).
        pytest.param(LONDON, "2024-06-10 08:00", True, id="london-opens-0900-bst"),
        pytest.param(LONDON, "2024-06-10 07:59", False, id="london-0859-bst"),
        pytest.param(LONDON, "2024-06-10 15:59", True, id="london-1659-bst"),
        pytest.param(LONDON, "2024-06-10 16:00", False, id="london-closes-1700-bst"),
        pytest.param(LONDON, "2024-01-08 16:30", True, id="london-1630-gmt-in-winter"),
        pytest.param(LONDON, "2024-06-11 10:00", False, id="day-left-out-is-closed"),
        pytest.param(LONDON, "2024-06-15 10:00", False, id="closed-day"),
        pytest.param(SPLIT, "2024-06-14 11:29", True, id="split-first-range"),
        pytest.param(SPLIT, "2024-06-14 11:30", False, id="split-lunch-starts"),
        pytest.param(SPLIT, "2024-06-14 12:29", False, id="split-lunch"),
        pytest.param(SPLIT, "2024-06-14 12:30", True, id="split-second-range"),
        pytest.param(NEW_YORK, "2024-06-10 13:00", True, id="new-york-0900-edt"),
        pytest.param(NEW_YORK, "2024-06-10 12:59", False, id="new-york-0859-edt"),
        pytest.param(NEW_YORK, "2024-06-11 00:30", False, id="new-york-monday-evening-is-tuesday-in-utc"),
        pytest.param(NEW_YORK, "2024-06-12 03:59", True, id="new-york-tuesday-2359-until-24"),
        pytest.param(LATE, "2024-06-15 23:59", True, id="until-2400"),
        pytest.param(LATE, "2024-06-16 00:00", False, id="2400-is-the-end"),
        pytest.param(TOKYO, "2024-06-09 23:30", True, id="tokyo-monday-0830-on-a-utc-sunday"),
        pytest.param(TOKYO, "2024-06-10 00:30", False, id="tokyo-monday-0930"),
    ],
)
def test_handoff_queue_is_open_in_business_hours(hours: Queue, now: str, open_: bool) -> None:
    assert queue_is_open(hours, utc(now)) is open_


def test_handoff_queue_without_hours_is_always_open() -> None:
    assert queue_is_open(Queue.model_validate({}), utc("2024-06-16 03:00"))


# -- ending a handoff ----------------------------------------------------------------------------
HANDOFF_BODY = """\
intents:
  order_status: {examples: [where is my order]}
entities:
  order_id: {regex: '\\\\b[A-Z]\\\\d{5}\\\\b'}
slots:
  order_id: {fill: [{entity: order_id}]}
responses:
  ask_order_id: Which order?
  order_state: "Order {{ slots.order_id }} is on its way."
flows:
  order_status:
    description: check where your order is
    trigger: {intents: [order_status]}
    steps:
      - collect: order_id
      - respond: order_state
"""
HANDOFF_READINGS = {
    "where is my order": ("order_status",),
    "A12345": ("inform", 0.95, {"order_id": "A12345"}),
}


def test_handing_back_with_resume_asks_the_pending_question_again(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(HANDOFF_BODY, HANDOFF_READINGS)
    chat.user("where is my order")
    chat.user("a person please")
    assert chat.tracker.state.paused
    chat.assistant.accept_handoff(chat.tracker, "agent-7")
    assert chat.tracker.state.handoff_agent == "agent-7"
    back = chat.assistant.end_handoff(chat.tracker, resume=True, agent="agent-7")
    assert [m.response for m in back.messages] == ["ask_order_id"]
    assert [type(e).__name__ for e in back.events][:2] == ["HandoffEnded", "FlowResumed"]
    assert not chat.tracker.state.paused
    chat.user("A12345")
    chat.bot("order_state")


def test_handing_back_without_resume_ends_the_flows(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(HANDOFF_BODY, HANDOFF_READINGS)
    chat.user("where is my order")
    chat.user("a person please")
    back = chat.assistant.end_handoff(chat.tracker, resume=False)
    assert back.messages == []
    cancelled = [e for e in back.events if isinstance(e, FlowCancelled)]
    assert [(e.flow_id, e.reason) for e in cancelled] == [("order_status", "handoff_ended")]
    assert chat.flows == [] and not chat.tracker.state.paused


def test_handoff_operations_need_an_open_handoff(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(HANDOFF_BODY, HANDOFF_READINGS)
    chat.user("where is my order")
    with pytest.raises(HandoffStateError, match="no open handoff"):
        chat.assistant.end_handoff(chat.tracker, resume=True)
    with pytest.raises(HandoffStateError, match="no open handoff"):
        chat.assistant.accept_handoff(chat.tracker, "agent-7")
