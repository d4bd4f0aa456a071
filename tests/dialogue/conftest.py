"""Fixtures of the dialogue tests: a fake NLU, a fixed clock, small packs and scripted chats.

- `FakeParser` reads exact texts as the test says (intent, confidence, entities, ambiguous) and
  anything else as out of scope, so a test is about the dialogue, not about a trained model.
- `make_pack` writes a small pack: a header with the built-in intents and responses that repair
  needs (`BASE`) and a body of the test's own slots, responses, actions, flows and rules.
- `make_chat` builds an `Assistant` on such a pack with the fake parser, stubbed actions, a fixed
  clock and seed, and returns a `Chat`: `chat.user("hi")`, then `chat.bot("greet")`.

The example packs are trained once per session (`retail` and `it_helpdesk` in tests/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.dialogue.actions import ActionRunner, ActionStub, StubActionRunner
from engine.dialogue.events import BotUttered, Event
from engine.dialogue.runtime import Assistant, TurnResult
from engine.dialogue.testing import TEST_CLOCK_START
from engine.dialogue.tracker import Tracker
from engine.nlu.types import OUT_OF_SCOPE, EntityMatch, IntentScore, ParseResult
from engine.packs import Pack, load_pack

#: The fake NLU's threshold: readings below it are out of scope ("below_threshold").
THRESHOLD = 0.6


@dataclass(frozen=True)
class Reading:
    """How the fake NLU reads one text. `others` are further intents of the ranking."""

    intent: str
    confidence: float = 0.95
    entities: Mapping[str, Any] = field(default_factory=dict)
    ambiguous: bool = False
    others: Mapping[str, float] = field(default_factory=dict)


class FakeParser:
    """An NLU that knows exact texts: `{"hi": ("greet", 0.9)}` or `{"hi": Reading(...)}`.

    Tuples are (intent, confidence, entities, ambiguous), trailing items optional. A reading
    below `threshold` is out of scope with reason below_threshold (its intent stays in the
    ranking, as the real model does); an unknown text is out of scope with no ranking.
    """

    def __init__(self, readings: Mapping[str, Reading | tuple[Any, ...]], threshold: float = THRESHOLD):
        self.readings = {text: r if isinstance(r, Reading) else Reading(*r) for text, r in readings.items()}
        self.threshold = threshold
        self.texts: list[str] = []

    def parse(self, text: str, *, now: datetime | None = None) -> ParseResult:
        self.texts.append(text)
        reading = self.readings.get(text)
        if reading is None:
            return ParseResult(
                text,
                OUT_OF_SCOPE,
                0.0,
                (),
                out_of_scope=True,
                threshold=self.threshold,
                reason="out_of_scope",
            )
        ranking = [IntentScore(reading.intent, reading.confidence)] + [
            IntentScore(name, confidence)
            for name, confidence in sorted(reading.others.items(), key=lambda item: -item[1])
        ]
        entities = tuple(_entity(text, name, value) for name, value in reading.entities.items())
        below = reading.confidence < self.threshold
        return ParseResult(
            text,
            OUT_OF_SCOPE if below else reading.intent,
            reading.confidence,
            tuple(ranking),
            entities=entities,
            out_of_scope=below,
            ambiguous=reading.ambiguous and not below,
            threshold=self.threshold,
            reason="below_threshold" if below else "",
        )


def _entity(text: str, name: str, value: Any) -> EntityMatch:
    start = max(text.find(str(value)), 0)
    return EntityMatch(name, value, start, start + len(str(value)), str(value), "regex")


class FakeClock:
    """A clock that stands still until the test moves it (Wednesday 12 June 2024, 11:00 UTC)."""

    def __init__(self, start: float = TEST_CLOCK_START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, *, minutes: float = 0, seconds: float = 0) -> None:
        self.now += minutes * 60 + seconds


#: Readings of the built-in intents, shared by every chat.
READINGS: dict[str, Reading | tuple[Any, ...]] = {
    "hi": ("greet",),
    "yes": ("affirm",),
    "no": ("deny",),
    "never mind": ("cancel",),
    "start over": ("restart",),
    "say that again": ("repeat",),
    "help": ("help",),
    "a person please": ("human_handoff",),
}

BASE = """\
pack: {name}
version: 1.0.0
language: en
settings:
  fallback: {fallback}
  collect: {collect}
  session: {session}
  repair: {repair}
  responses: {responses}
  nlu: {{min_examples: 1}}
intents:
  greet: {{examples: [hi]}}
  affirm: {{examples: ["yes"]}}
  deny: {{examples: ["no"]}}
  cancel: {{examples: [never mind]}}
  restart: {{examples: [start over]}}
  repeat: {{examples: [say that again]}}
  help: {{examples: [help]}}
  human_handoff: {{examples: [a person please]}}
  inform: {{examples: [it is A12345]}}
responses:
  ask_rephrase: Sorry, could you rephrase that?
  clarify: Did you mean one of these?
  flow_cancelled: OK, I have stopped that.
  help: I can help with orders.
  restarted: Let's start again.
  handoff_requested: A person will take over ({{{{ context.queue }}}}).
  flow_resumed: "Back to where we were: {{{{ context.flow_description }}}}."
  greet: Hello!
escalation:
  queues:
    general: {{}}
  default_queue: general
flows:
  greet:
    description: say hello
    trigger: {{intents: [greet]}}
    steps:
      - respond: greet
"""

#: settings.* of the base pack, each a YAML flow mapping.
SETTINGS = {
    "fallback": "{threshold: 0.6, max_retries: 2}",
    "collect": "{max_retries: 2}",
    "session": "{expire_after_minutes: 60}",
    "repair": "{}",
    "responses": "{selection: rotate}",
}


class Chat:
    """One conversation, scripted like the dialogue: `chat.user("hi")`, then `chat.bot("greet")`."""

    def __init__(self, assistant: Assistant, sender: str = "customer", *, channel: str = "rest") -> None:
        self.assistant = assistant
        self.tracker: Tracker = assistant.tracker(sender)
        self.channel = channel
        self.result: TurnResult | None = None

    def user(self, text: str, *, channel: str | None = None) -> TurnResult:
        self.result = self.assistant.handle(self.tracker, text, channel=channel or self.channel)
        return self.result

    @property
    def turn(self) -> tuple[Event, ...]:
        """The events of the latest turn."""
        assert self.result is not None, "no message yet"
        return self.result.events

    @property
    def messages(self) -> list[BotUttered]:
        return [e for e in self.turn if isinstance(e, BotUttered)]

    @property
    def said(self) -> list[str | None]:
        """Response names of what the bot said in the latest turn."""
        return [m.response for m in self.messages]

    @property
    def texts(self) -> list[str | None]:
        return [m.text for m in self.messages]

    def bot(self, *responses: str) -> None:
        """The bot said exactly these responses in the latest turn, in order."""
        assert self.said == list(responses), f"the bot said {self.said}: {self.texts}"

    def of(self, kind: type[Event]) -> list[Any]:
        """Events of a type in the latest turn."""
        return [e for e in self.turn if isinstance(e, kind)]

    @property
    def slots(self) -> dict[str, Any]:
        return self.tracker.state.slots

    @property
    def flows(self) -> list[str]:
        """The flow stack, bottom first."""
        return [frame.flow for frame in self.tracker.state.stack]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_pack(write_pack: Callable[..., Path]) -> Callable[..., Pack]:
    """Write and load a pack: BASE with `settings` ({"session": "{...}"}) and `body` (YAML text
    with the test's own sections) in body.yml."""
    count = 0

    def make(
        body: str = "", *, name: str = "shop", files: Mapping[str, str] | None = None, **settings: str
    ) -> Pack:
        nonlocal count
        count += 1
        unknown = set(settings) - set(SETTINGS)
        assert not unknown, f"unknown settings {unknown}"
        head = BASE.format(name=name, **{**SETTINGS, **settings})
        folder = write_pack({"pack.yml": head, "body.yml": body, **(files or {})}, f"{name}-{count}")
        return load_pack(folder)

    return make


@pytest.fixture
def make_assistant(make_pack: Callable[..., Pack], clock: FakeClock) -> Callable[..., Assistant]:
    """An Assistant on a small pack with the fake parser, stubbed actions, `clock` and seed 7."""

    def make(
        body: str = "",
        readings: Mapping[str, Reading | tuple[Any, ...]] | None = None,
        *,
        stubs: Mapping[str, ActionStub] | None = None,
        actions: ActionRunner | None = None,
        seed: int = 7,
        **settings: str,
    ) -> Assistant:
        pack = make_pack(body, **settings)
        parser = FakeParser({**READINGS, **(readings or {})})
        runner = actions or StubActionRunner(stubs or {})
        return Assistant(pack, parser, actions=runner, seed=seed, clock=clock)

    return make


@pytest.fixture
def make_chat(make_assistant: Callable[..., Assistant]) -> Callable[..., Chat]:
    """`make_chat(body, readings, stubs=..., session="{...}")`: a new conversation."""

    def make(*args: Any, **kwargs: Any) -> Chat:
        return Chat(make_assistant(*args, **kwargs))

    return make


def as_stored(events: list[Event]) -> list[dict[str, Any]]:
    """Events as a tracker store keeps them: JSON text, read back."""
    return [json.loads(json.dumps(event.to_json())) for event in events]


#: A body with order flows, used by the tracker, repair and handoff tests.
ORDERS = """\
intents:
  order_status: {examples: [where is my order]}
  cancel_order: {examples: [cancel my order]}
  refund_status: {examples: [where is my refund]}
entities:
  order_id: {regex: '\\b[A-Z]\\d{5}\\b'}
  email: {regex: '\\S+@\\S+'}
slots:
  order_id:
    fill: [{entity: order_id}]
    validation: {pattern: '[A-Z]\\d{5}'}
  email: {type: email, pii: true, fill: [{entity: email}]}
  order_state: {type: categorical, values: [processing, dispatched]}
  confirm:
    type: bool
    fill: [{intent: affirm, value: true}, {intent: deny, value: false}]
actions:
  lookup_order: {slots: [order_state], failure_response: systems_down}
responses:
  ask_order_id: Which order?
  ask_email: What is your email?
  ask_confirm: "Shall I cancel order {{ slots.order_id }}?"
  order_state: "Order {{ slots.order_id }} is {{ slots.order_state }}."
  systems_down: Our systems are down.
  refund_state: "No refund yet for {{ slots.email }}."
  cancelled: Cancelled.
  kept: Kept.
flows:
  order_status:
    description: check where your order is
    trigger: {intents: [order_status]}
    steps:
      - collect: order_id
      - action: lookup_order
      - respond: order_state
  cancel_order:
    description: cancel your order
    trigger: {intents: [cancel_order]}
    reset_slots: [confirm]
    steps:
      - collect: order_id
      - action: lookup_order
      - id: ask_confirm
        collect: confirm
      - if: slots.confirm
        then: [respond: cancelled]
        else: [respond: kept]
  refund_status:
    description: check your refund
    trigger: {intents: [refund_status]}
    steps:
      - collect: email
      - respond: refund_state
"""

ORDER_READINGS: dict[str, Reading | tuple[Any, ...]] = {
    "where is my order": ("order_status",),
    "where is order A12345": ("order_status", 0.95, {"order_id": "A12345"}),
    "cancel my order": ("cancel_order",),
    "where is my refund": ("refund_status",),
    "A12345": ("inform", 0.9, {"order_id": "A12345"}),
    "B54321": ("inform", 0.9, {"order_id": "B54321"}),
    "jo@example.com": ("inform", 0.9, {"email": "jo@example.com"}),
    "no, I meant B54321": ("deny", 0.9, {"order_id": "B54321"}),
}

#: lookup_order finds a dispatched order.
DISPATCHED = {"lookup_order": ActionStub(slots={"order_state": "dispatched"})}
