"""Conversation tests: run a pack's YAML tests against the assistant, report, write JUnit XML.

Each test is a fresh conversation with its own stubs for custom actions, a fixed clock
(Wednesday 12 June 2024, 11:00 UTC, advancing 5 seconds per message, so business hours and
dates do not depend on when the tests run) and a fixed seed for response variations.

After a `user` step, checks refer to that message's turn: `bot` and `bot_text` take the bot's
messages of the turn in order (each check consumes one; a `bot_text` right after a `bot` check
may instead check the text of that same message); `flow_started`, `flow_completed`,
`flow_cancelled`, `action` and `escalated` look for an event of the turn; `slots` compares the
slots between the bot messages checked before and after it (at the end of the turn when no
bot message follows); `no_escalation` holds when the conversation was never escalated.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.dialogue.actions import ActionStub, StubActionRunner
from engine.dialogue.events import (
    ActionExecuted,
    BotUttered,
    Event,
    FlowCancelled,
    FlowCompleted,
    FlowStarted,
    HandoffRequested,
    PolicyDecided,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from engine.dialogue.policy import Policy
from engine.dialogue.runtime import Assistant, Parser
from engine.packs import Pack
from engine.packs.testcases import (
    ActionRunStep,
    BotStep,
    BotTextStep,
    ConversationTest,
    EscalatedStep,
    FlowCancelledStep,
    FlowCompletedStep,
    FlowStartedStep,
    NoEscalationStep,
    SlotsStep,
    UserStep,
)

#: Wednesday 12 June 2024, 11:00 UTC (12:00 in London): every example queue is open.
TEST_CLOCK_START = 1718190000.0
SECONDS_PER_MESSAGE = 5.0
TEST_SEED = 7


@dataclass
class TestOutcome:
    name: str
    file: str | None
    passed: bool
    #: What went wrong, for people: the failed check, expected and actual.
    failure: str | None = None
    #: The conversation up to the failure: lines such as "customer: hi", "bot [greet]: Hello".
    transcript: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _FixedClock:
    def __init__(self) -> None:
        self.now = TEST_CLOCK_START

    def __call__(self) -> float:
        return self.now


class CheckFailed(Exception):
    pass


def run_tests(
    pack: Pack,
    parser: Parser,
    *,
    tests: Sequence[ConversationTest] | None = None,
    policies: Callable[[], Sequence[Policy]] | None = None,
) -> list[TestOutcome]:
    chosen = pack.tests if tests is None else tests
    return [run_test(pack, parser, test, policies=policies) for test in chosen]


def run_test(
    pack: Pack,
    parser: Parser,
    test: ConversationTest,
    *,
    policies: Callable[[], Sequence[Policy]] | None = None,
) -> TestOutcome:
    started = time.perf_counter()
    clock = _FixedClock()
    stubs = {name: ActionStub(dict(s.slots), tuple(s.responses), s.fail) for name, s in test.stubs.items()}
    runner = StubActionRunner(stubs)
    assistant = Assistant(
        pack, parser, actions=runner, seed=TEST_SEED, clock=clock, policies=policies() if policies else None
    )
    tracker = assistant.tracker(f"test-{test.name}")
    tracker.add(SessionStarted(timestamp=clock.now))
    for name, value in test.slots.items():
        tracker.add(SlotSet(name=name, value=value, timestamp=clock.now))
    transcript: list[str] = []
    turn: list[Event] = []
    pending: list[BotUttered] = []
    #: Slot values before the turn, and where in the turn the checks have got to.
    before: dict[str, Any] = dict(tracker.state.slots)
    cursor = 0
    source = test.source.path.name if test.source is not None else None
    try:
        for index, step in enumerate(test.steps, start=1):
            where = f"step {index}"
            if isinstance(step, UserStep):
                clock.now += SECONDS_PER_MESSAGE
                before, cursor = dict(tracker.state.slots), 0
                result = assistant.handle(tracker, step.user, channel=test.channel)
                turn = list(result.events)
                pending = result.messages
                transcript.extend(_lines(turn))
                _check_reading(step, turn, where)
            elif (
                isinstance(step, BotTextStep)
                and isinstance(test.steps[index - 2], BotStep)
                and step.bot_text.lower() in (_text_at(turn, cursor) or "").lower()
            ):
                continue  # `bot: name` then `bot_text:` checks the text of that same message
            elif isinstance(step, (BotStep, BotTextStep)):
                _check_bot(step, pending, where)
                cursor = next(i for i, e in enumerate(turn) if e is pending[0])
                pending = pending[1:]
            elif isinstance(step, SlotsStep):
                _check_slots(step, _slot_timeline(turn, before, cursor), where)
            else:
                _check_state(step, tracker.events, turn, where)
    except CheckFailed as failure:
        return TestOutcome(test.name, source, False, str(failure), transcript, time.perf_counter() - started)
    return TestOutcome(test.name, source, True, None, transcript, time.perf_counter() - started)


def _lines(events: Sequence[Event]) -> list[str]:
    lines = []
    for event in events:
        if isinstance(event, UserUttered):
            intent = event.parse_data.get("intent", {})
            lines.append(
                f"customer: {event.text}    ({intent.get('name')} {intent.get('confidence', 0):.2f})"
            )
        elif isinstance(event, BotUttered):
            lines.append(f"bot [{event.response or 'action'}]: {event.text}")
        elif isinstance(event, PolicyDecided):
            lines.append(f"  · {event.policy}: {event.decision} ({event.reason})")
        elif isinstance(event, (FlowStarted, FlowCompleted, FlowCancelled)):
            lines.append(f"  · {event.KIND} {event.flow_id}")
        elif isinstance(event, HandoffRequested):
            lines.append(f"  · handoff to {event.queue} ({event.reason}, {event.priority})")
        elif isinstance(event, ActionExecuted) and event.name != "action_listen":
            lines.append(f"  · action {event.name}")
    return lines


def _check_reading(step: UserStep, turn: Sequence[Event], where: str) -> None:
    user = next((e for e in turn if isinstance(e, UserUttered)), None)
    if user is None:
        raise CheckFailed(f"{where}: the message was not read (the conversation is with a person)")
    understood = user.parse_data.get("context_intent") or user.intent
    if step.intent is not None and understood != step.intent:
        confidence = user.parse_data.get("intent", {}).get("confidence", 0.0)
        raise CheckFailed(
            f"{where}: {step.user!r} should be read as intent '{step.intent}', "
            f"but was read as '{understood}' ({confidence:.2f})"
        )
    found = [(e.get("entity"), e.get("value")) for e in user.parse_data.get("entities", ())]
    for name, value in step.entities.items():
        if not any(n == name and _same_value(v, value) for n, v in found):
            shown = ", ".join(f"{n}={v!r}" for n, v in found) or "none"
            raise CheckFailed(f"{where}: entity {name}={value!r} should be found; found: {shown}")


def _same_value(found: Any, expected: Any) -> bool:
    """Entity values are equal; an amount of money also equals its number (`amount: 45`)."""
    if isinstance(found, dict) and "amount" in found and isinstance(expected, (int, float)):
        return bool(found["amount"] == expected)
    return bool(found == expected)


def _check_bot(step: BotStep | BotTextStep, pending: Sequence[BotUttered], where: str) -> None:
    expected = (
        f"response '{step.bot}'" if isinstance(step, BotStep) else f"a message containing {step.bot_text!r}"
    )
    if not pending:
        raise CheckFailed(f"{where}: the bot should say {expected}, but it said nothing more this turn")
    message = pending[0]
    ok = (
        message.response == step.bot
        if isinstance(step, BotStep)
        else step.bot_text.lower() in (message.text or "").lower()
    )
    if not ok:
        raise CheckFailed(
            f"{where}: the bot should say {expected}\n"
            f"  - expected: {expected}\n"
            f"  + actual:   response '{message.response or '(from an action)'}': {message.text!r}"
        )


def _text_at(turn: Sequence[Event], index: int) -> str | None:
    event = turn[index] if index < len(turn) else None
    return event.text if isinstance(event, BotUttered) else None


def _slot_timeline(turn: Sequence[Event], before: dict[str, Any], cursor: int) -> dict[str, list[Any]]:
    """The values each slot held from the checks' position in the turn (the latest bot message
    checked, or the customer's message) up to the next bot message: a `slots` check sits
    between two bot messages of the turn, and holds when the slot had the value there."""
    values = dict(before)
    for event in turn[:cursor]:
        if isinstance(event, SlotSet):
            values[event.name] = event.value
    timeline = {name: [value] for name, value in values.items()}
    for event in turn[cursor + 1 :]:
        if isinstance(event, BotUttered):
            break
        if isinstance(event, SlotSet):
            timeline.setdefault(event.name, [None]).append(event.value)
    return timeline


def _check_slots(step: SlotsStep, timeline: dict[str, list[Any]], where: str) -> None:
    wrong = [
        f"{name}: expected {value!r}, actual {timeline.get(name, [None])[-1]!r}"
        for name, value in step.slots.items()
        if value not in timeline.get(name, [None])
    ]
    if wrong:
        raise CheckFailed(f"{where}: slots differ\n  " + "\n  ".join(wrong))


def _check_state(step: Any, events: Sequence[Event], turn: Sequence[Event], where: str) -> None:
    if isinstance(step, (FlowStartedStep, FlowCompletedStep, FlowCancelledStep)):
        kind: type[FlowStarted | FlowCompleted | FlowCancelled]
        if isinstance(step, FlowStartedStep):
            kind, flow, what = FlowStarted, step.flow_started, "start"
        elif isinstance(step, FlowCompletedStep):
            kind, flow, what = FlowCompleted, step.flow_completed, "complete"
        else:
            kind, flow, what = FlowCancelled, step.flow_cancelled, "be cancelled"
        if not any(isinstance(e, kind) and e.flow_id == flow for e in turn):
            seen = (
                ", ".join(
                    f"{e.KIND} {e.flow_id}"
                    for e in turn
                    if isinstance(e, (FlowStarted, FlowCompleted, FlowCancelled))
                )
                or "no flow events"
            )
            raise CheckFailed(f"{where}: flow '{flow}' should {what} in this turn; this turn: {seen}")
    elif isinstance(step, ActionRunStep):
        if not any(
            getattr(e, "name", None) == step.action and e.KIND in ("action", "action_failed") for e in turn
        ):
            raise CheckFailed(f"{where}: action '{step.action}' should run in this turn, but did not")
    elif isinstance(step, EscalatedStep):
        handoff = next((e for e in turn if isinstance(e, HandoffRequested)), None)
        want = step.escalated
        if handoff is None:
            raise CheckFailed(f"{where}: the conversation should be escalated to '{want.queue}' in this turn")
        actual = (handoff.queue, handoff.reason, handoff.priority)
        expected = (want.queue, want.reason or handoff.reason, want.priority or handoff.priority)
        if actual != expected:
            raise CheckFailed(
                f"{where}: escalated differently\n"
                f"  - expected: queue {expected[0]}, reason {expected[1]}, priority {expected[2]}\n"
                f"  + actual:   queue {actual[0]}, reason {actual[1]}, priority {actual[2]}"
            )
    elif isinstance(step, NoEscalationStep):
        handoff = next((e for e in events if isinstance(e, HandoffRequested)), None)
        if handoff is not None:
            raise CheckFailed(
                f"{where}: the conversation should not be escalated, but went to '{handoff.queue}' "
                f"({handoff.reason})"
            )


def junit_xml(results: dict[str, list[TestOutcome]], path: Path) -> None:
    """One <testsuite> per pack, one <testcase> per conversation test."""
    suites = ET.Element("testsuites")
    for pack, outcomes in results.items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=pack,
            tests=str(len(outcomes)),
            failures=str(sum(not o.passed for o in outcomes)),
            time=f"{sum(o.seconds for o in outcomes):.3f}",
        )
        for outcome in outcomes:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{pack}.{(outcome.file or 'tests').removesuffix('.yml')}",
                name=outcome.name,
                time=f"{outcome.seconds:.3f}",
            )
            if not outcome.passed:
                failure = ET.SubElement(case, "failure", message=(outcome.failure or "").splitlines()[0])
                failure.text = (outcome.failure or "") + "\n\n" + "\n".join(outcome.transcript)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
