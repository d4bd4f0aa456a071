"""Custom actions over real HTTP in a conversation: every way an action server fails gives the
pack's failure path and leaves a consistent tracker; followup, restart and bot events apply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.actions import HttpActionRunner
from engine.dialogue.events import ActionExecuted, ActionFailed, FlowCancelled, Restarted, SlotSet
from engine.dialogue.tracker import Tracker
from tests.action_client.fake_server import Answer, Script, fake_action_server
from tests.dialogue.conftest import Chat, as_stored

BODY = """\
intents:
  check: {examples: [check my order]}
slots:
  state: {type: categorical, values: [open, closed]}
  note: {type: text}
actions:
  lookup: {slots: [state], failure_response: systems_down, timeout: 0.3, idempotent: true, retries: 1}
  annotate: {slots: [note], timeout: 0.3}
responses:
  systems_down: Our order system is not answering right now.
  state_is: "The order is {{ slots.state }}."
flows:
  check:
    description: check an order
    trigger: {intents: [check]}
    steps:
      - action: lookup
      - respond: state_is
"""
READINGS = {"check my order": ("check",)}


def chat_on(make_chat: Callable[..., Chat], url: str) -> Chat:
    chat = make_chat(BODY, READINGS)
    chat.assistant.actions = HttpActionRunner(chat.assistant.pack, url, sleep=lambda seconds: None)
    return chat


def assert_replays(chat: Chat) -> None:
    """The stored events rebuild the same conversation."""
    from engine.dialogue.events import event_from_json

    rebuilt = Tracker(
        chat.tracker.sender_id,
        chat.assistant.initial_slots,
        [event_from_json(e) for e in as_stored(chat.tracker.events)],
    )
    assert rebuilt.state.slots == chat.tracker.state.slots
    assert rebuilt.state.stack == chat.tracker.state.stack
    assert rebuilt.state.action_failures == chat.tracker.state.action_failures


@pytest.mark.parametrize(
    ("answers", "failure", "requests"),
    [
        pytest.param([Answer(500, {"error": "db"})], "error", 2, id="500-retried-once"),
        pytest.param([Answer(delay=1.0)], "timeout", 2, id="timeout-retried-once"),
        pytest.param([Answer(body=b"{not json")], "malformed", 1, id="invalid-json"),
        pytest.param([Answer(body={"events": [{"event": "reminder"}]})], "malformed", 1, id="unknown-event"),
        pytest.param(
            [Answer(body={"events": [{"event": "slot", "name": "state", "value": "lost"}]})],
            "malformed",
            1,
            id="value-outside-the-slot's-values",
        ),
        pytest.param([Answer(400, {"error": "no"})], "rejected", 1, id="400"),
        pytest.param([Answer(404, {"error": "unknown"})], "unknown_action", 1, id="404"),
    ],
)
def test_a_failing_action_server_gives_the_packs_failure_path(
    make_chat: Callable[..., Chat], answers: list[Answer], failure: str, requests: int
) -> None:
    script = Script(answers)
    with fake_action_server(script) as url:
        chat = chat_on(make_chat, url)
        chat.user("check my order")
    chat.bot("systems_down")
    assert [(e.name, e.failure) for e in chat.of(ActionFailed)] == [("lookup", failure)]
    assert chat.of(SlotSet) == [] and chat.slots["state"] is None, "nothing of the answer is applied"
    assert [e.reason for e in chat.of(FlowCancelled)] == ["action_failed"]
    assert chat.flows == [] and chat.tracker.state.action_failures == 1
    assert len(script.requests) == requests
    assert_replays(chat)


def test_a_server_that_is_down_gives_the_failure_path_at_once(make_chat: Callable[..., Chat]) -> None:
    with fake_action_server(Script()) as url:
        pass  # closed again
    chat = chat_on(make_chat, url)
    chat.user("check my order")
    chat.bot("systems_down")
    assert [e.failure for e in chat.of(ActionFailed)] == ["refused"]
    assert_replays(chat)


def ok(events: list[dict[str, Any]], responses: list[dict[str, Any]] | None = None) -> Answer:
    return Answer(body={"events": events, "responses": responses or []})


def test_a_followup_action_runs_after_the_action(make_chat: Callable[..., Chat]) -> None:
    script = Script(
        [
            ok(
                [
                    {"event": "slot", "name": "state", "value": "open"},
                    {"event": "followup", "name": "annotate"},
                ]
            ),
            ok([{"event": "slot", "name": "note", "value": "checked"}], [{"text": "Noted."}]),
        ]
    )
    with fake_action_server(script) as url:
        chat = chat_on(make_chat, url)
        chat.user("check my order")
    assert [r["next_action"] for r in script.requests] == ["lookup", "annotate"]
    assert [e.name for e in chat.of(ActionExecuted)] == ["lookup", "annotate"]
    assert (chat.slots["state"], chat.slots["note"]) == ("open", "checked")
    assert chat.texts == ["Noted.", "The order is open."]


def test_an_action_may_speak_with_bot_events_and_pack_responses_in_order(
    make_chat: Callable[..., Chat],
) -> None:
    answer = ok(
        [{"event": "slot", "name": "state", "value": "closed"}, {"event": "bot", "text": "Looking it up..."}],
        [{"text": "Found it."}, {"response": "state_is"}],
    )
    with fake_action_server(Script([answer])) as url:
        chat = chat_on(make_chat, url)
        chat.user("check my order")
    assert chat.texts == ["Looking it up...", "Found it.", "The order is closed.", "The order is closed."]


def test_an_action_that_restarts_the_conversation_ends_its_flow(make_chat: Callable[..., Chat]) -> None:
    with fake_action_server(Script([ok([{"event": "restart"}])])) as url:
        chat = chat_on(make_chat, url)
        chat.user("check my order")
    assert chat.of(Restarted) and [e.reason for e in chat.of(FlowCancelled)] == ["restart"]
    assert chat.flows == [] and chat.said == []
    assert_replays(chat)
