"""Contract tests: the engine's requests are accepted by a real rasa_sdk action server, which sees
the conversation as the engine has it; and a retail conversation looks up seeded orders through
the example action server (actions/)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.actions import ActionServerProcess, HttpActionRunner
from engine.dialogue.events import ActionExecuted, ActionFailed, SlotSet
from engine.dialogue.runtime import Assistant
from engine.packs import load_pack
from tests.conftest import ROOT, Trained
from tests.dialogue.conftest import FakeParser

ECHO_PACK = """\
pack: echo
version: 1.0.0
language: en
settings:
  repair: {digression: false, correction: false, clarification: false, cancel: false,
    restart: false, repeat: false, help: false, human: false}
  nlu: {min_examples: 1}
intents:
  echo: {examples: [echo order A12345]}
entities:
  order_id: {regex: '[A-Z]\\d{5}'}
slots:
  order_id:
    fill: [{entity: order_id}]
  seen: {type: any}
responses:
  ask_rephrase: Sorry?
  echo_done: Echo done.
actions:
  action_echo: {slots: [seen]}
flows:
  echo:
    description: echo the conversation
    trigger: {intents: [echo]}
    steps:
      - action: action_echo
"""


@pytest.fixture(scope="module")
def echo_server() -> Iterator[ActionServerProcess]:
    with ActionServerProcess("tests.action_client.echo", cwd=ROOT) as server:
        yield server


def test_rasa_sdk_sees_the_conversation_the_engine_has(
    echo_server: ActionServerProcess, write_pack: Callable[..., Path]
) -> None:
    pack = load_pack(write_pack({"pack.yml": ECHO_PACK}, "echo"))
    parser = FakeParser({"echo order A12345": ("echo", 0.97, {"order_id": "A12345"})})
    runner = HttpActionRunner(pack, echo_server.webhook_url)
    assistant = Assistant(pack, parser, actions=runner, seed=1)
    tracker = assistant.tracker("contract-1")
    result = assistant.handle(tracker, "echo order A12345", channel="webchat")
    runner.close()

    assert not [e for e in result.events if isinstance(e, ActionFailed)]
    seen = tracker.state.slots["seen"]
    engine_events = [e.KIND for e in tracker.events]
    assert seen["sender_id"] == "contract-1"
    assert seen["slots"] == {"order_id": "A12345", "seen": None}
    assert (seen["text"], seen["intent"], seen["entities"]) == ("echo order A12345", "echo", ["order_id"])
    assert seen["channel"] == "webchat"
    assert seen["event_kinds"] == engine_events[: len(seen["event_kinds"])]
    assert seen["domain_slots"] == ["order_id", "seen"]
    assert "echo_done" in seen["domain_responses"]
    # The action's own text, then the pack response it named, in that order.
    said = [(m.response, m.text) for m in result.messages]
    assert said == [(None, "echo for contract-1"), ("echo_done", "Echo done.")]


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServerProcess]:
    database = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    with ActionServerProcess("actions", cwd=ROOT, env={"PARLEY_DEMO_DB": str(database)}) as server:
        yield server


def test_a_retail_conversation_looks_up_seeded_orders(
    example_server: ActionServerProcess, retail: Trained
) -> None:
    runner = HttpActionRunner(retail.pack, example_server.webhook_url)
    assistant = Assistant(retail.pack, retail.model, actions=runner, seed=1)

    found = assistant.tracker("retail-found")
    reply = assistant.handle(found, "where is my order B20417?")
    assert found.state.slots["order_state"] == "dispatched"
    assert [m.response for m in reply.messages] == ["order_status_reply"]
    assert "B20417" in (reply.messages[0].text or "") and "DPD" in (reply.messages[0].text or "")

    missing = assistant.tracker("retail-missing")
    reply = assistant.handle(missing, "where is my order A99999?")
    runner.close()
    # The validation action rejects a number that is no order: it is not kept, and the question
    # for it says so (the reprompt, not the first ask).
    assert missing.state.slots["order_id"] is None
    assert any(isinstance(e, ActionExecuted) and e.name == "validate_order_id" for e in reply.events)
    assert not any(isinstance(e, SlotSet) and e.name == "order_id" for e in reply.events)
    assert [m.response for m in reply.messages] == ["order_id_invalid"]
