"""Events (engine/dialogue/events.py): every kind survives JSON, bad JSON is refused by name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.dialogue.events import (
    EVENT_TYPES,
    ActionExecuted,
    ActionFailed,
    AllSlotsReset,
    BotUttered,
    CollectExhausted,
    DeliveryFailed,
    Event,
    EventError,
    FallbackCounted,
    FlowCancelled,
    FlowCompleted,
    FlowInterrupted,
    FlowResumed,
    FlowStack,
    FlowStarted,
    HandoffAccepted,
    HandoffEnded,
    HandoffRequested,
    HandoffTransferred,
    PolicyDecided,
    Restarted,
    RuleReleased,
    SessionStarted,
    SlotSet,
    UserUttered,
    event_from_json,
)

T = 1718190000.0

#: One event of every kind, with every field given a value that is not its default.
SAMPLES: list[Event] = [
    SessionStarted(timestamp=T),
    UserUttered(
        text="where is A12345?",
        parse_data={
            "intent": {"name": "order_status", "confidence": 0.91},
            "entities": [{"entity": "order_id", "value": "A12345", "start": 9, "end": 15}],
        },
        input_channel="webchat",
        message_id="m-1",
        metadata={"locale": "en-GB"},
        timestamp=T + 1,
    ),
    BotUttered(
        text="Which order?",
        data={"buttons": [{"title": "A12345", "payload": '/inform{"order_id": "A12345"}'}]},
        metadata={"utter_action": "ask_order_id"},
        timestamp=T + 2,
    ),
    SlotSet(name="order_id", value="A12345", timestamp=T),
    SlotSet(name="basket", value=["mug", "plate"], timestamp=T),
    ActionExecuted(name="action_lookup_order", policy="flow", confidence=1.0, timestamp=T),
    Restarted(timestamp=T),
    AllSlotsReset(timestamp=T),
    FlowStarted(flow_id="order_status", timestamp=T),
    FlowCompleted(flow_id="order_status", step_id="2", timestamp=T),
    FlowInterrupted(flow_id="order_status", step_id="ask", timestamp=T),
    FlowResumed(flow_id="order_status", step_id="ask", timestamp=T),
    FlowCancelled(flow_id="order_status", step_id="0", reason="retries_exhausted", timestamp=T),
    FlowStack(
        frames=(
            {
                "flow": "order_status",
                "pc": 3,
                "waiting": False,
                "retries": 0,
                "called": False,
                "interrupted": True,
            },
            {"flow": "verify", "pc": 0, "waiting": True, "retries": 1, "called": True, "interrupted": False},
        ),
        timestamp=T,
    ),
    PolicyDecided(policy="flow", decision="start_flow order_status", reason="intent", timestamp=T),
    FallbackCounted(reason="below_threshold", timestamp=T),
    ActionFailed(name="action_lookup_order", failure="timeout", message="no answer in 5 s", timestamp=T),
    CollectExhausted(flow_id="order_status", slot="order_id", timestamp=T),
    HandoffRequested(
        queue="orders",
        reason="lost_parcel",
        priority="high",
        rule=2,
        context={"transcript": [{"from": "customer", "text": "hi"}], "slots": {"order_id": "A12345"}},
        timestamp=T,
    ),
    HandoffAccepted(agent="sam", timestamp=T),
    HandoffTransferred(queue="billing", agent="sam", timestamp=T),
    HandoffEnded(resume=True, agent="sam", timestamp=T),
    RuleReleased(rule=2, timestamp=T),
    DeliveryFailed(
        channel="whatsapp", error="WhatsApp API refused the message", undelivered=2, status=400, timestamp=T
    ),
]


def test_events_samples_cover_every_kind() -> None:
    assert {type(e).KIND for e in SAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.KIND)
def test_events_round_trip_through_json_text(event: Event) -> None:
    data = event.to_json()
    assert data["event"] == event.KIND
    assert event_from_json(data) == event
    # As a tracker store keeps them: JSON text (tuples become lists and must come back).
    assert event_from_json(json.loads(json.dumps(data))) == event


def test_events_use_rasa_keys() -> None:
    assert SlotSet(name="order_id", value="A1", timestamp=T).to_json() == {
        "event": "slot",
        "name": "order_id",
        "value": "A1",
        "timestamp": T,
    }
    assert FlowStarted(flow_id="f", timestamp=T).to_json() == {
        "event": "flow_started",
        "flow_id": "f",
        "timestamp": T,
    }


def test_events_without_timestamp_get_one() -> None:
    event = event_from_json({"event": "slot", "name": "order_id", "value": None, "timestamp": None})
    assert isinstance(event, SlotSet)
    assert event.timestamp > T


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        pytest.param(
            {"event": "slot_set", "name": "x"},
            ["unknown event 'slot_set'", "known: action, "],
            id="unknown-kind",
        ),
        pytest.param({"name": "x"}, ["unknown event None", "slot, user"], id="no-kind"),
        pytest.param({"event": 3}, ["unknown event 3"], id="kind-not-a-text"),
        pytest.param(
            {"event": "slot", "name": "x", "colour": "red", "size": 2},
            ["event 'slot' has unknown keys ['colour', 'size']", "it takes ['name', 'timestamp', 'value']"],
            id="unknown-keys",
        ),
        pytest.param({"event": "slot"}, ["event 'slot':", "'name'"], id="missing-key"),
        pytest.param(
            {"event": "handoff_requested", "reason": "x"},
            ["event 'handoff_requested':", "'queue'"],
            id="missing-queue",
        ),
    ],
)
def test_events_bad_json_raises_event_error_saying_what_is_wrong(
    data: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(EventError) as raised:
        event_from_json(data)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_events_user_and_bot_name_their_intent_and_response() -> None:
    user, bot = SAMPLES[1], SAMPLES[2]
    assert isinstance(user, UserUttered) and isinstance(bot, BotUttered)
    assert user.intent == "order_status"
    assert bot.response == "ask_order_id"
    assert UserUttered(text="?", parse_data={"intent": None}).intent is None
    assert BotUttered(text="from an action").response is None
