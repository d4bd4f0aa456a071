"""Every kind of flow step, run through `Assistant.handle` on small packs (engine/dialogue/executor.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from engine.dialogue.actions import ActionResult, ActionStub, StubActionRunner
from engine.dialogue.events import (
    ActionExecuted,
    ActionFailed,
    CollectExhausted,
    FlowCancelled,
    FlowCompleted,
    FlowInterrupted,
    FlowStarted,
    HandoffRequested,
    SlotSet,
    UserUttered,
)
from engine.dialogue.tracker import Tracker
from tests.dialogue.conftest import Chat

START = {"go": ("start",)}


def flow(steps: str, *, extra: str = "") -> str:
    """A body with the intent `start` and one flow `main` made of `steps` (YAML, 6 spaces in),
    then `extra` sections."""
    return f"""\
intents:
  start: {{examples: [go]}}
flows:
  main:
    description: do the main thing
    trigger: {{intents: [start]}}
    steps:
{steps}
{extra}"""


# -- collect ---------------------------------------------------------------------------------
COLLECT_ORDER = flow(
    """\
      - collect: order_id
      - respond: done
""",
    extra="""\
entities:
  order_id: {regex: '\\b[A-Z]\\d{5}\\b'}
slots:
  order_id: {fill: [{entity: order_id}]}
responses:
  ask_order_id: Which order?
  done: "Done with {{ slots.order_id }}."
""",
)


def test_executor_collect_is_skipped_when_the_slot_is_filled(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(COLLECT_ORDER, {"go for A12345": ("start", 0.9, {"order_id": "A12345"})})
    chat.user("go for A12345")
    chat.bot("done")
    assert chat.texts == ["Done with A12345."]
    assert chat.of(FlowCompleted)[0].flow_id == "main"


def test_executor_collect_asks_when_the_slot_is_empty(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(COLLECT_ORDER, {**START, "A12345": ("inform", 0.9, {"order_id": "A12345"})})
    chat.user("go")
    chat.bot("ask_order_id")
    assert chat.tracker.state.top is not None and chat.tracker.state.top.waiting
    chat.user("A12345")
    chat.bot("done")
    assert chat.flows == []


def test_executor_collect_with_ask_always_asks_even_when_filled(make_chat: Callable[..., Chat]) -> None:
    body = COLLECT_ORDER.replace("- collect: order_id", "- collect: order_id\n        ask_always: true")
    chat = make_chat(body, {"go for A12345": ("start", 0.9, {"order_id": "A12345"})})
    chat.user("go for A12345")
    chat.bot("ask_order_id")
    assert chat.slots["order_id"] == "A12345"


VALIDATED = """\
slots:
  value: {slot}
responses:
  ask_value: What value?
  value_invalid: That is not a valid value.
  done: "Stored {{{{ slots.value }}}}."
"""


@pytest.mark.parametrize(
    ("slot", "bad", "good", "stored"),
    [
        pytest.param("{type: integer, fill: [{text: true}]}", ["three", "2.5"], "3", 3, id="integer"),
        pytest.param("{type: float, fill: [{text: true}]}", ["lots"], "2.5", 2.5, id="float"),
        pytest.param("{type: money, fill: [{text: true}]}", ["a tenner"], "£1,250.50", 1250.5, id="money"),
        pytest.param(
            "{type: email, fill: [{text: true}]}",
            ["jo at example"],
            "jo@example.com",
            "jo@example.com",
            id="email",
        ),
        pytest.param(
            "{type: date, fill: [{text: true}]}",
            ["tomorrow", "2024-13-01"],
            "2024-06-13",
            "2024-06-13",
            id="date",
        ),
        pytest.param(
            "{type: categorical, values: [small, large], fill: [{text: true}]}",
            ["medium"],
            "LARGE",
            "large",
            id="categorical",
        ),
        pytest.param(
            "{fill: [{text: true}], validation: {pattern: '[A-Z]\\d{5}'}}",
            ["a12345", "A123456"],
            "A12345",
            "A12345",
            id="pattern",
        ),
        pytest.param(
            "{type: integer, fill: [{text: true}], validation: {min: 1, max: 5}}",
            ["0", "6"],
            "5",
            5,
            id="min-max",
        ),
        pytest.param(
            "{type: money, fill: [{text: true}], validation: {min: 10}}", ["9.99"], "10", 10.0, id="money-min"
        ),
        pytest.param(
            "{fill: [{text: true}], validation: {choices: [monday, friday]}}",
            ["tuesday"],
            "Friday",
            "friday",  # stored as the pack writes the choice, so `slots.day == "friday"` holds
            id="choices",
        ),
    ],
)
def test_executor_collect_validates_by_type_and_checks(
    make_chat: Callable[..., Chat], slot: str, bad: list[str], good: str, stored: Any
) -> None:
    body = flow(
        """\
      - collect: value
        reprompt: value_invalid
        max_retries: 5
      - respond: done
""",
        extra=VALIDATED.format(slot=slot),
    )
    chat = make_chat(body, START)
    chat.user("go")
    chat.bot("ask_value")
    for text in bad:
        chat.user(text)
        chat.bot("value_invalid")
        assert chat.slots["value"] is None, text
        assert not chat.of(SlotSet)
    chat.user(good)
    chat.bot("done")
    assert chat.of(SlotSet)[0].value == stored
    assert type(chat.of(SlotSet)[0].value) is type(stored)


def test_executor_collect_without_reprompt_asks_again(make_chat: Callable[..., Chat]) -> None:
    body = flow(
        """\
      - collect: value
      - respond: done
""",
        extra=VALIDATED.format(slot="{type: integer, fill: [{text: true}]}"),
    )
    chat = make_chat(body, START)
    chat.user("go")
    chat.user("many")
    chat.bot("ask_value")
    assert chat.tracker.state.top is not None and chat.tracker.state.top.retries == 1


EXHAUSTED = flow(
    """\
      - collect: value
        reprompt: value_invalid
        max_retries: 1
        on_exhausted:
          - respond: gave_up
      - respond: after
""",
    extra=VALIDATED.format(slot="{type: integer, fill: [{text: true}]}")
    + """\
  gave_up: Let us skip that.
  after: "After: {{ slots.value }}."
""",
)


def test_executor_collect_runs_on_exhausted_after_the_retries_then_goes_on(
    make_chat: Callable[..., Chat],
) -> None:
    chat = make_chat(EXHAUSTED, START)
    chat.user("go")
    chat.user("many")
    chat.bot("value_invalid")
    assert not chat.of(CollectExhausted)
    chat.user("lots")
    chat.bot("gave_up", "after")
    assert [(e.flow_id, e.slot) for e in chat.of(CollectExhausted)] == [("main", "value")]
    assert chat.tracker.state.retries_exhausted
    assert chat.of(FlowCompleted) and not chat.of(FlowCancelled)
    assert chat.texts[-1] == "After: None."


def test_executor_collect_retries_restart_after_a_valid_answer(make_chat: Callable[..., Chat]) -> None:
    body = flow(
        """\
      - collect: value
        max_retries: 1
      - collect: other
        reprompt: value_invalid
        max_retries: 1
      - respond: done
""",
        extra=VALIDATED.format(slot="{type: integer, fill: [{text: true}]}") + "  ask_other: Other?\n",
    )
    body = body.replace("slots:\n", "slots:\n  other: {type: integer, fill: [{text: true}]}\n")
    chat = make_chat(body, START)
    chat.user("go")
    chat.user("many")  # one retry used on `value`
    chat.user("4")
    chat.bot("ask_other")
    chat.user("lots")  # the first retry on `other`, not the second
    chat.bot("value_invalid")
    chat.user("2")
    chat.bot("done")


EXHAUSTED_DEFAULT = flow(
    """\
      - collect: value
        reprompt: value_invalid
      - respond: done
""",
    extra=VALIDATED.format(slot="{type: integer, fill: [{text: true}]}")
    + """\
escalation:
  queues:
    specialists: {}
  rules:
    - when: conversation.retries_exhausted
      to: specialists
      reason: could_not_answer
""",
)


def test_executor_collect_exhausted_without_block_cancels_and_escalation_rules_see_it(
    make_chat: Callable[..., Chat],
) -> None:
    chat = make_chat(EXHAUSTED_DEFAULT, START)
    chat.user("go")
    for text in ("many", "lots"):  # settings.collect.max_retries: 2
        chat.user(text)
        chat.bot("value_invalid")
    chat.user("heaps")
    cancelled = chat.of(FlowCancelled)
    assert [(e.flow_id, e.reason) for e in cancelled] == [("main", "retries_exhausted")]
    handoff = chat.result.handoff if chat.result else None
    assert handoff is not None and (handoff.queue, handoff.reason, handoff.rule) == (
        "specialists",
        "could_not_answer",
        0,
    )
    assert chat.tracker.state.retries_exhausted
    chat.bot("handoff_requested")


def test_executor_collect_exhausted_flag_lasts_one_turn(make_chat: Callable[..., Chat]) -> None:
    body = EXHAUSTED_DEFAULT.split("escalation:")[0]
    chat = make_chat(body, START, collect="{max_retries: 0}")
    chat.user("go")
    chat.user("many")
    assert chat.tracker.state.retries_exhausted and chat.flows == []
    chat.user("hi")
    assert not chat.tracker.state.retries_exhausted


# -- action ----------------------------------------------------------------------------------
ACTIONS = """\
intents:
  start: {examples: [go]}
  start_plain: {examples: [plain]}
slots:
  state: {type: categorical, values: [open, closed]}
  count: {type: integer}
actions:
  lookup: {slots: [state, count], failure_response: systems_down}
responses:
  systems_down: Our systems are down.
  sorry: Sorry, that did not work.
  after: "State {{ slots.state }}, count {{ slots.count }}."
flows:
  with_block:
    description: look up, with a failure block
    trigger: {intents: [start]}
    steps:
      - action: lookup
        on_failure:
          - respond: sorry
      - respond: after
  plain:
    description: look up
    trigger: {intents: [start_plain]}
    steps:
      - action: lookup
      - respond: after
"""
ACTION_READINGS = {"go": ("start",), "plain": ("start_plain",)}


class Returns:
    """An action runner whose every action returns `result`."""

    def __init__(self, result: ActionResult) -> None:
        self.result = result

    def run(self, action: str, tracker: Tracker) -> ActionResult:
        return self.result


def test_executor_action_success_applies_slots_and_says_texts(make_chat: Callable[..., Chat]) -> None:
    stubs = {"lookup": ActionStub(slots={"state": "Open", "count": "3"}, responses=("Looked it up.",))}
    chat = make_chat(ACTIONS, ACTION_READINGS, stubs=stubs)
    chat.user("plain")
    assert [e.name for e in chat.of(ActionExecuted)] == ["lookup"]
    assert {e.name: e.value for e in chat.of(SlotSet)} == {"state": "open", "count": 3}
    assert chat.said == [None, "after"]
    assert chat.texts == ["Looked it up.", "State open, count 3."]
    assert chat.messages[0].metadata == {"action": "lookup"}


def test_executor_action_failure_runs_on_failure_then_goes_on(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(ACTIONS, ACTION_READINGS, stubs={"lookup": ActionStub(fail="timeout")})
    chat.user("go")
    assert [(e.name, e.failure) for e in chat.of(ActionFailed)] == [("lookup", "timeout")]
    chat.bot("sorry", "after")
    assert chat.of(FlowCompleted) and not chat.of(FlowCancelled)
    assert chat.tracker.state.action_failures == 1


def test_executor_action_failure_without_block_says_failure_response_and_cancels(
    make_chat: Callable[..., Chat],
) -> None:
    chat = make_chat(ACTIONS, ACTION_READINGS, stubs={"lookup": ActionStub(fail="refused")})
    chat.user("plain")
    chat.bot("systems_down")
    assert [(e.flow_id, e.reason) for e in chat.of(FlowCancelled)] == [("plain", "action_failed")]
    assert chat.tracker.state.failed_action == "lookup"


@pytest.mark.parametrize(
    ("events", "responses", "fragment"),
    [
        pytest.param(
            [
                {"event": "slot", "name": "state", "value": "open"},
                {"event": "slot", "name": "colour", "value": "red"},
            ],
            [],
            "set slot 'colour', which the pack does not define",
            id="unknown-slot",
        ),
        pytest.param(
            [
                {"event": "slot", "name": "state", "value": "open"},
                {"event": "slot", "name": "count", "value": "lots"},
            ],
            [],
            "set slot 'count' to a value that does not fit",
            id="wrong-type",
        ),
        pytest.param(
            [{"event": "slot", "name": "state", "value": "open"}, {"event": "reminder", "name": "r1"}],
            [],
            "returned event 'reminder'",
            id="unknown-event-kind",
        ),
        pytest.param(
            [{"event": "slot", "name": "state", "value": "open"}, {"event": "followup", "name": "action_x"}],
            [],
            "follow up with 'action_x'",
            id="followup-not-declared",
        ),
        pytest.param(
            [{"event": "slot", "name": "state", "value": "open"}],
            [{"text": "Hello"}, {"response": "no_such_response"}],
            "asked for response 'no_such_response'",
            id="unknown-response",
        ),
    ],
)
def test_executor_action_malformed_result_is_applied_all_or_nothing(
    make_chat: Callable[..., Chat],
    events: list[dict[str, Any]],
    responses: list[dict[str, Any]],
    fragment: str,
) -> None:
    result = ActionResult(events=tuple(events), responses=tuple(responses))
    chat = make_chat(ACTIONS, ACTION_READINGS, actions=Returns(result))
    chat.user("go")
    assert chat.of(SlotSet) == []
    assert chat.of(ActionExecuted) == []
    failed = chat.of(ActionFailed)
    assert [(e.name, e.failure) for e in failed] == [("lookup", "malformed")]
    assert fragment in failed[0].message
    chat.bot("sorry", "after")  # the on_failure block, nothing the action said
    assert chat.slots["state"] is None


def test_executor_action_result_may_name_a_pack_response(make_chat: Callable[..., Chat]) -> None:
    result = ActionResult(
        events=({"event": "slot", "name": "count", "value": 2},), responses=({"response": "sorry"},)
    )
    chat = make_chat(ACTIONS, ACTION_READINGS, actions=Returns(result))
    chat.user("plain")
    chat.bot("sorry", "after")
    assert chat.slots["count"] == 2


# -- respond, set, if/else, end, link, call ------------------------------------------------
BRANCHES = """\
intents:
  start: {examples: [go]}
  forget: {examples: [forget]}
slots:
  tier: {type: categorical, values: [silver, gold]}
  stop: {type: bool, initial: false, fill: [{intent: affirm, value: true, only_when_asked: false}]}
responses:
  gold: You are gold.
  upgraded: Upgraded.
  after: "Tier {{ slots.tier }}."
  stopped: Stopping here.
  forgotten: Forgotten.
flows:
  branching:
    description: branch on the tier
    trigger: {intents: [start]}
    steps:
      - if: slots.tier == "gold"
        then:
          - respond: gold
          - if: slots.stop
            then:
              - respond: stopped
              - end
        else:
          - set: {tier: gold}
          - respond: upgraded
      - respond: after
  forget:
    description: forget the tier
    trigger: {intents: [forget]}
    steps:
      - set: {tier: null}
      - respond: forgotten
"""


def test_executor_set_if_else_and_end(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(BRANCHES, {**START, "forget": ("forget",), "yes stop": ("affirm",)})
    chat.user("go")
    chat.bot("upgraded", "after")
    assert chat.texts == ["Upgraded.", "Tier gold."]
    chat.user("go")
    chat.bot("gold", "after")
    chat.user("yes stop")  # fills `stop` at any time; nothing to start
    assert chat.slots["stop"] is True
    chat.user("go")
    chat.bot("gold", "stopped")
    assert [e.flow_id for e in chat.of(FlowCompleted)] == ["branching"]
    chat.user("forget")
    chat.bot("forgotten")
    assert chat.slots["tier"] is None and [e.value for e in chat.of(SlotSet)] == [None]


LINKS = """\
intents:
  start: {examples: [go]}
slots:
  email: {type: email, fill: [{text: true}]}
responses:
  a: A
  b: B
  c: C
  ask_email: Email?
flows:
  main:
    description: the caller
    trigger: {intents: [start]}
    steps:
      - respond: a
      - call: contact
      - respond: c
  contact:
    description: get the email
    reset_slots: [email]
    steps:
      - collect: email
      - link: thanks
  thanks:
    description: say thanks
    steps:
      - respond: b
"""


def test_executor_call_returns_to_the_caller_and_link_keeps_the_return(
    make_chat: Callable[..., Chat],
) -> None:
    chat = make_chat(LINKS, START)
    chat.user("go")
    chat.bot("a", "ask_email")
    assert chat.flows == ["main", "contact"]
    assert chat.tracker.state.stack[-1].called
    chat.user("jo@example.com")
    chat.bot("b", "c")
    flow_events = [(e.KIND, e.flow_id) for e in chat.turn if isinstance(e, (FlowStarted, FlowCompleted))]
    assert flow_events == [
        ("flow_completed", "contact"),
        ("flow_started", "thanks"),
        ("flow_completed", "thanks"),
        ("flow_completed", "main"),
    ]
    assert chat.flows == []


def test_executor_call_sub_flow_reset_slots_when_it_ends(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(LINKS, START)
    chat.user("go")
    chat.user("jo@example.com")
    sets = [(e.name, e.value) for e in chat.of(SlotSet)]
    assert sets == [("email", "jo@example.com"), ("email", None)]
    assert chat.slots["email"] is None


# -- escalate, goto ------------------------------------------------------------------------
ESCALATES = flow(
    """\
      - respond: a
      - id: hand_over
        escalate: specialists
        reason: vip_request
        priority: high
      - respond: a
""",
    extra="""\
responses:
  a: A
escalation:
  queues:
    specialists: {}
""",
)


def test_executor_escalate_requests_a_handoff_and_the_bot_stops_answering(
    make_chat: Callable[..., Chat],
) -> None:
    chat = make_chat(ESCALATES, START)
    chat.user("go")
    chat.bot("a", "handoff_requested")
    handoff = chat.of(HandoffRequested)
    assert [(h.queue, h.reason, h.priority, h.rule) for h in handoff] == [
        ("specialists", "vip_request", "high", None)
    ]
    assert (handoff[0].context["flow"], handoff[0].context["step"]) == ("main", "hand_over")
    assert [(e.flow_id, e.step_id) for e in chat.of(FlowInterrupted)] == [("main", "hand_over")]
    assert chat.tracker.state.paused and chat.tracker.state.escalations == 1
    for text in ("hi", "hello?", "a person please"):
        result = chat.user(text)
        assert [type(e) for e in result.events] == [UserUttered]
        assert result.decision is None
    assert chat.tracker.state.turns == 4


GOTO = flow(
    """\
      - id: ask
        collect: value
        ask_always: true
      - if: slots.value == "again"
        then:
          - goto: ask
      - respond: done
""",
    extra=VALIDATED.format(slot="{fill: [{text: true}]}"),
)


def test_executor_goto_jumps_back_to_a_step(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(GOTO, START)
    chat.user("go")
    chat.bot("ask_value")
    chat.user("again")
    chat.bot("ask_value")
    chat.user("stop")
    chat.bot("done")
    assert chat.texts == ["Stored stop."]


def test_executor_goto_loop_without_question_is_stopped_with_an_error(
    make_chat: Callable[..., Chat], caplog: pytest.LogCaptureFixture
) -> None:
    body = flow(
        """\
      - id: top
        set: {value: x}
      - goto: top
""",
        extra="slots:\n  value: {}\n",
    )
    chat = make_chat(body, START)
    with caplog.at_level(logging.ERROR, logger="engine.dialogue"):
        chat.user("go")
    assert [(e.flow_id, e.reason) for e in chat.of(FlowCancelled)] == [("main", "loop")]
    assert chat.flows == []
    assert any(
        "without asking anything" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records
    )
    chat.user("hi")  # the conversation goes on
    chat.bot("greet")


def test_executor_stub_runner_records_calls_and_strict_fails_unknown(make_chat: Callable[..., Chat]) -> None:
    runner = StubActionRunner(strict=True)
    chat = make_chat(ACTIONS, ACTION_READINGS, actions=runner)
    chat.user("plain")
    assert runner.calls == ["lookup"]
    assert [e.failure for e in chat.of(ActionFailed)] == ["unknown_action"]


# -- validation actions ------------------------------------------------------------------------
CHECKED = flow(
    """\
      - collect: order_id
        reprompt: order_id_invalid
      - respond: done
""",
    extra="""\
entities:
  order_id: {regex: '\\b[A-Za-z]\\d{5}\\b'}
slots:
  order_id: {fill: [{entity: order_id}], validation: {action: check_order}}
  order_total: {type: money}
actions:
  check_order: {slots: [order_id, order_total], failure_response: checks_down}
responses:
  ask_order_id: Which order?
  order_id_invalid: That order does not exist.
  checks_down: I cannot check orders right now.
  done: "Order {{ slots.order_id }}, total {{ slots.order_total }}."
""",
)
CHECKED_READINGS = {**START, "a12345": ("inform", 0.9, {"order_id": "a12345"})}


class Seen:
    """A validation action that records the slot value it was asked about, then does `stub`."""

    def __init__(self, stub: ActionStub) -> None:
        self.runner = StubActionRunner({"check_order": stub})
        self.values: list[Any] = []

    def run(self, action: str, tracker: Tracker) -> ActionResult:
        self.values.append(tracker.state.slots.get("order_id"))
        return self.runner.run(action, tracker)


@pytest.mark.parametrize(
    "stub",
    [
        pytest.param(ActionStub(fail="rejected"), id="status-400"),
        pytest.param(ActionStub(slots={"order_id": None}), id="slot-set-to-null"),
    ],
)
def test_executor_validation_action_rejects_a_value(make_chat: Callable[..., Chat], stub: ActionStub) -> None:
    seen = Seen(stub)
    chat = make_chat(CHECKED, CHECKED_READINGS, actions=seen)
    chat.user("go")
    chat.user("a12345")
    chat.bot("order_id_invalid")
    assert seen.values == ["a12345"]  # the action sees the candidate value in its tracker
    assert chat.slots["order_id"] is None
    assert [(e.name, e.policy) for e in chat.of(ActionExecuted)] == [("check_order", "validation")]


def test_executor_validation_action_normalizes_and_sets_other_slots(make_chat: Callable[..., Chat]) -> None:
    stub = ActionStub(slots={"order_id": "A12345", "order_total": "40"})
    chat = make_chat(CHECKED, CHECKED_READINGS, stubs={"check_order": stub})
    chat.user("go")
    chat.user("a12345")
    chat.bot("done")
    assert chat.texts == ["Order A12345, total 40.0."]


def test_executor_validation_action_that_fails_keeps_the_value_and_says_so(
    make_chat: Callable[..., Chat],
) -> None:
    chat = make_chat(CHECKED, CHECKED_READINGS, stubs={"check_order": ActionStub(fail="timeout")})
    chat.user("go")
    chat.user("a12345")
    chat.bot("checks_down", "done")
    assert chat.slots["order_id"] == "a12345"
    assert [(e.name, e.failure) for e in chat.of(ActionFailed)] == [("check_order", "timeout")]


def test_executor_validation_answer_is_read_like_any_action_answer(make_chat: Callable[..., Chat]) -> None:
    # A value that does not fit its slot makes the whole answer malformed: nothing of it is
    # applied, the value is kept unchecked, and the failure response is said once.
    stub = ActionStub(slots={"order_id": "A12345", "order_total": "a lot"})
    chat = make_chat(CHECKED, CHECKED_READINGS, stubs={"check_order": stub})
    chat.user("go")
    chat.user("a12345")
    chat.bot("checks_down", "done")
    assert (chat.slots["order_id"], chat.slots["order_total"]) == ("a12345", None)
    assert [(e.name, e.failure) for e in chat.of(ActionFailed)] == [("check_order", "malformed")]


def test_executor_validation_action_may_speak(make_chat: Callable[..., Chat]) -> None:
    stub = ActionStub(slots={"order_id": "A12345"}, responses=("Found it in the archive.",))
    chat = make_chat(CHECKED, CHECKED_READINGS, stubs={"check_order": stub})
    chat.user("go")
    chat.user("a12345")
    assert chat.texts[0] == "Found it in the archive."
