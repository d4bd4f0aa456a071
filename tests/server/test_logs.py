"""Structured logs: JSON lines with the request and conversation ids, PII never written."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from engine.dialogue.actions import ActionStub
from engine.dialogue.events import Event
from engine.nlu.types import ParseResult
from tests.server.conftest import Server

EMAIL = "jo.smith@example.com"


class TalkativeParser:
    """The fake NLU, logging every entity value it finds (as a careless component might)."""

    def __init__(self, parser: object) -> None:
        self.parser = parser

    def parse(self, text: str, *, now: datetime | None = None) -> ParseResult:
        result: ParseResult = self.parser.parse(text, now=now)  # type: ignore[attr-defined]
        for entity in result.entities:
            logging.getLogger("engine.nlu.talkative").warning("found %s = %s", entity.entity, entity.value)
        return result


def test_logs_are_json_lines_with_request_and_conversation_ids(make_server: Callable[..., Server]) -> None:
    server = make_server(stubs={"lookup_order": ActionStub(fail="refused")})
    server.client.post(
        "/webhooks/rest/webhook",
        json={"sender": "jo", "message": "where is order A12345"},
        headers={"X-Request-ID": "req-42"},
    )
    lines = [line for line in server.log_lines() if line.get("request_id") == "req-42"]
    loggers = {line["logger"] for line in lines}
    assert {"engine.dialogue.executor", "engine.server.turns", "engine.server.access"} <= loggers
    for line in lines:
        assert (line["conversation_id"], line["pack"]) == ("jo", "shop")
        assert {"time", "level", "message"} <= set(line)
    failed = next(line for line in lines if line["logger"] == "engine.dialogue.executor")
    assert failed["level"] == "warning"
    assert "lookup_order" in failed["message"]


def test_logs_turn_summary_names_what_happened_without_texts(make_server: Callable[..., Server]) -> None:
    server = make_server()
    server.say("jo", "a person please")
    turn = next(line for line in server.log_lines() if line["logger"] == "engine.server.turns")
    assert turn["message"] == "turn: human_handoff -> escalate general"
    summary = turn["turn"]
    assert summary["intent"] == "human_handoff"
    assert summary["handoff"] == {"queue": "general", "reason": "customer_request"}
    assert summary["responses"] == ["handoff_requested", "handoff_queue_position"]
    assert "a person please" not in server.logs.getvalue()


def test_logs_never_show_pii_slot_values_even_those_of_the_running_turn(
    make_server: Callable[..., Server],
) -> None:
    readings = {f"it's {EMAIL} thanks": ("inform", 0.9, {"email": EMAIL})}
    server = make_server(readings=readings)
    for assistant in server.assistants:
        assistant.parser = TalkativeParser(assistant.parser)
    server.say("jo", "where is my refund")
    loads: list[str] = []
    load = server.trackers.load

    def counted(pack: str, sender_id: str) -> list[Event]:
        loads.append(sender_id)
        return load(pack, sender_id)

    server.trackers.load = counted  # type: ignore[method-assign]
    assert server.say("jo", f"it's {EMAIL} thanks") == [f"No refund yet for {EMAIL}."]
    assert loads == ["jo"]  # the redaction uses the turn's conversation: no second read
    text = server.logs.getvalue()
    assert EMAIL not in text
    found = next(line for line in server.log_lines() if line["logger"] == "engine.nlu.talkative")
    assert found["message"] == "found email = [redacted]"
    turns = [line["turn"] for line in server.log_lines() if line["logger"] == "engine.server.turns"]
    assert turns[-1]["slots_set"] == {"email": "[redacted]"}


def test_logs_of_a_pack_without_pii_are_written_as_they_are(make_server: Callable[..., Server]) -> None:
    body = """\
intents:
  order_status: {examples: [where is my order]}
entities:
  order_id: {regex: '\\b[A-Z]\\d{5}\\b'}
slots:
  order_id: {fill: [{entity: order_id}]}
responses:
  ask_order_id: Which order?
  done: "Looking at {{ slots.order_id }}."
flows:
  order_status:
    description: check an order
    trigger: {intents: [order_status]}
    steps:
      - collect: order_id
      - respond: done
"""
    server = make_server(body=body)
    for assistant in server.assistants:
        assistant.parser = TalkativeParser(assistant.parser)
    server.say("jo", "where is order A12345")
    found = next(line for line in server.log_lines() if line["logger"] == "engine.nlu.talkative")
    assert found["message"] == "found order_id = A12345"
