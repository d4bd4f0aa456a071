"""The tracker (engine/dialogue/tracker.py): state derived from events, the same live and replayed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.dialogue.events import (
    ActionExecuted,
    ActionFailed,
    FallbackCounted,
    FlowStack,
    HandoffAccepted,
    HandoffEnded,
    HandoffRequested,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
    event_from_json,
)
from engine.dialogue.tracker import ACTION_LISTEN, Frame, Tracker
from tests.dialogue.conftest import DISPATCHED, ORDER_READINGS, ORDERS, Chat, FakeClock, as_stored

INITIAL: dict[str, Any] = {"order_id": None, "email": None, "basket": []}


def user(text: str, intent: str = "greet") -> UserUttered:
    return UserUttered(text=text, parse_data={"intent": {"name": intent, "confidence": 0.9}})


def test_tracker_replayed_from_stored_events_equals_the_live_conversation(
    make_chat: Callable[..., Chat], clock: FakeClock
) -> None:
    chat = make_chat(ORDERS, ORDER_READINGS, stubs=DISPATCHED)
    script = [
        "cancel my order",  # asks for the order
        "what?",  # an invalid answer: a retry
        "hi",  # a digression, then back to the question
        "A12345",  # the order; the lookup runs; asks to confirm
        "where is my refund",  # a digression that asks a question of its own
        "jo@example.com",  # answers it; back to the confirmation
        "say that again",
        "blah",  # invalid answers to the yes/no question
        "blah blah",
        "yes",
        "gibberish",  # not understood, no question pending: fallbacks
        "more gibberish",
        "a person please",  # handoff
        "hello?",  # while a person has the conversation
    ]
    for text in script:
        clock.advance(seconds=5)
        chat.user(text)
    live = chat.tracker
    stored = as_stored(live.events)

    replayed = Tracker(live.sender_id, chat.assistant.initial_slots, [event_from_json(e) for e in stored])

    assert replayed.state.slots == live.state.slots
    assert replayed.state.stack == live.state.stack
    assert (replayed.state.turns, replayed.state.fallbacks) == (live.state.turns, live.state.fallbacks)
    assert replayed.state.action_failures == live.state.action_failures
    assert replayed.state.handoff == live.state.handoff
    assert replayed.state.latched_rules == live.state.latched_rules
    assert replayed.state.said == live.state.said
    assert replayed.state == live.state
    # The conversation really went through all that.
    assert live.state.turns == len(script)
    assert live.state.slots["email"] == "jo@example.com" and live.state.slots["confirm"] is None
    assert live.state.handoff is not None and live.state.handoff.reason == "customer_request"
    assert live.state.said["flow_resumed"] == 3  # resumed twice, and repeated once


def test_tracker_replay_mid_flow_gives_the_same_stack(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(ORDERS, ORDER_READINGS, stubs=DISPATCHED)
    chat.user("cancel my order")
    chat.user("hi")  # interrupted, resumed, waiting again
    chat.user("where is my refund")  # refund_status on top, cancel_order interrupted below
    replayed = Tracker(
        "x", chat.assistant.initial_slots, [event_from_json(e) for e in as_stored(chat.tracker.events)]
    )
    assert [f.to_json() for f in replayed.state.stack] == [
        {
            "flow": "cancel_order",
            "pc": 0,
            "waiting": False,
            "retries": 0,
            "called": False,
            "interrupted": True,
        },
        {
            "flow": "refund_status",
            "pc": 0,
            "waiting": True,
            "retries": 0,
            "called": False,
            "interrupted": False,
        },
    ]
    assert replayed.state.stack == chat.tracker.state.stack


def test_tracker_counts_consecutive_fallbacks_and_resets_on_an_understood_message() -> None:
    tracker = Tracker("c", INITIAL)
    for text in ("blah", "blah blah"):
        tracker.add(user(text, "out_of_scope"))
        tracker.add(FallbackCounted(reason="out_of_scope"))
    assert tracker.state.fallbacks == 2
    tracker.add(user("hi"))
    assert tracker.state.fallbacks == 0
    tracker.add(user("blah", "out_of_scope"))
    tracker.add(FallbackCounted(reason="out_of_scope"))
    assert tracker.state.fallbacks == 1


def test_tracker_fallbacks_count_through_the_assistant(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(fallback="{threshold: 0.6, max_retries: 5}")
    for expected in (1, 2, 3):
        chat.user(f"gibberish {expected}")
        assert chat.tracker.state.fallbacks == expected
    chat.user("hi")
    assert chat.tracker.state.fallbacks == 0


def test_tracker_action_failures_reset_on_success() -> None:
    tracker = Tracker("c", INITIAL)
    tracker.add(ActionFailed(name="lookup", failure="timeout"))
    tracker.add(ActionFailed(name="refund", failure="error"))
    assert (tracker.state.action_failures, tracker.state.failed_action) == (2, "refund")
    tracker.add(ActionExecuted(name=ACTION_LISTEN))  # bookkeeping, not a custom action
    assert tracker.state.action_failures == 2
    tracker.add(ActionExecuted(name="lookup"))
    assert tracker.state.action_failures == 0


def _busy_tracker() -> Tracker:
    handoff = HandoffRequested(queue="general", reason="customer_request")
    return Tracker(
        "c",
        INITIAL,
        [
            SessionStarted(),
            user("hi"),
            SlotSet(name="order_id", value="A12345"),
            SlotSet(name="basket", value=["mug"]),
            user("blah", "out_of_scope"),
            FallbackCounted(reason="out_of_scope"),
            ActionFailed(name="lookup", failure="timeout"),
            FlowStack(frames=(Frame("order_status", pc=2).to_json(),)),
            handoff,
            HandoffAccepted(agent="sam"),
        ],
    )


def test_tracker_session_start_resets_state_but_keeps_the_open_handoff() -> None:
    for reset in (SessionStarted(), Restarted()):
        tracker = _busy_tracker()
        handoff = tracker.state.handoff
        assert tracker.state.turns == 2 and tracker.state.stack and tracker.state.fallbacks == 1
        tracker.add(reset)
        state = tracker.state
        assert state.slots == INITIAL
        assert state.stack == []
        assert (state.turns, state.fallbacks, state.action_failures) == (0, 0, 0)
        assert state.latest is None and state.user_texts == [] and state.intent_trail == []
        assert state.handoff is handoff and state.handoff_agent == "sam" and state.paused
        assert state.escalations == 1
        assert tracker.session_events() == [reset]


def test_tracker_handoff_ended_unpauses() -> None:
    tracker = _busy_tracker()
    tracker.add(HandoffEnded(resume=True, agent="sam"))
    assert tracker.state.handoff is None and not tracker.state.paused
    assert tracker.state.escalations == 1


def test_tracker_initial_slots_are_not_shared_between_conversations() -> None:
    first, second = Tracker("a", INITIAL), Tracker("b", INITIAL)
    first.add(SlotSet(name="order_id", value="A12345"))
    assert second.state.slots["order_id"] is None
    assert INITIAL["order_id"] is None


def test_tracker_turns_events_into_json_only_for_an_action_call_and_only_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    converted: list[SlotSet] = []
    to_json = SlotSet.to_json

    def counting(event: SlotSet) -> dict[str, Any]:
        converted.append(event)
        return to_json(event)

    monkeypatch.setattr(SlotSet, "to_json", counting)
    tracker = Tracker("jo", {}, [SlotSet(name="order_id", value=f"A1234{n}") for n in range(3)])
    assert converted == []  # loading a conversation converts nothing

    first = tracker.to_json()["events"]
    tracker.add(SlotSet(name="order_id", value="B54321"))
    second = tracker.to_json()["events"]

    assert len(converted) == 4  # each event once
    assert second[:3] == first and second[3]["value"] == "B54321"
    assert second == [to_json(event) for event in tracker.events]
