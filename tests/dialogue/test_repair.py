"""Conversation repair (policies/repair.py and the executor): digressions, corrections, cancel,
restart, repeat, help, clarification, asking for a person, and answers the question makes likely."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.dialogue.actions import StubActionRunner
from engine.dialogue.events import (
    FlowCancelled,
    FlowInterrupted,
    FlowResumed,
    FlowStarted,
    HandoffRequested,
    Restarted,
    UserUttered,
)
from tests.dialogue.conftest import DISPATCHED, ORDER_READINGS, ORDERS, Chat, FakeParser, Reading


@pytest.fixture
def orders(make_chat: Callable[..., Chat]) -> Callable[..., Chat]:
    """A chat on the ORDERS body; extra readings may be given."""

    def make(readings: dict[str, Reading | tuple[object, ...]] | None = None, **kwargs: object) -> Chat:
        return make_chat(ORDERS, {**ORDER_READINGS, **(readings or {})}, stubs=DISPATCHED, **kwargs)

    return make


# -- digression ------------------------------------------------------------------------------
def test_repair_digression_then_resume_and_ask_again(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("where is my order")
    chat.bot("ask_order_id")
    chat.user("where is my refund")
    chat.bot("ask_email")
    assert [(e.flow_id, e.step_id) for e in chat.of(FlowInterrupted)] == [("order_status", "0")]
    assert chat.flows == ["order_status", "refund_status"]
    chat.user("jo@example.com")
    chat.bot("refund_state", "flow_resumed", "ask_order_id")
    assert chat.texts[1] == "Back to where we were: check where your order is."
    assert [e.flow_id for e in chat.of(FlowResumed)] == ["order_status"]
    chat.user("A12345")
    chat.bot("order_state")
    assert chat.flows == []


def test_repair_no_digression_into_a_flow_already_running(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("where is my order")
    chat.user("where is my order")  # the same flow again: taken as an (invalid) answer
    chat.bot("ask_order_id")
    assert not chat.of(FlowStarted) and not chat.of(FlowInterrupted)


def test_repair_digression_can_be_switched_off(orders: Callable[..., Chat]) -> None:
    chat = orders(repair="{digression: false}")
    chat.user("where is my order")
    chat.user("where is my refund")
    chat.bot("ask_order_id")
    assert chat.flows == ["order_status"]


@pytest.mark.parametrize("intent", ["refund_status", "repeat", "help", "restart"])
def test_repair_unsure_interruption_of_a_question_is_an_answer_attempt(
    orders: Callable[..., Chat], intent: str
) -> None:
    # Threshold 0.6: interrupting a question needs 0.6 + 0.4 * 2/3 = 0.87.
    chat = orders({"hmm": (intent, 0.85), "HMM": (intent, 0.9)})
    chat.user("where is my order")
    result = chat.user("hmm")
    assert result.decision is not None and (result.decision.policy, result.decision.kind) == (
        "flow",
        "answer",
    )
    chat.bot("ask_order_id")
    assert chat.tracker.state.top is not None and chat.tracker.state.top.retries == 1
    result = chat.user("HMM")
    assert result.decision is not None and result.decision.kind != "answer"


@pytest.mark.parametrize(("intent", "kind"), [("cancel", "cancel"), ("human_handoff", "escalate")])
def test_repair_cancel_and_human_interrupt_even_when_unsure(
    orders: Callable[..., Chat], intent: str, kind: str
) -> None:
    chat = orders({"hmm": (intent, 0.65)})
    chat.user("where is my order")
    result = chat.user("hmm")
    assert result.decision is not None and result.decision.kind == kind


# -- correction ------------------------------------------------------------------------------
def test_repair_correction_rewinds_and_reruns_the_later_steps(make_chat: Callable[..., Chat]) -> None:
    runner = StubActionRunner(DISPATCHED)
    chat = make_chat(ORDERS, ORDER_READINGS, actions=runner)
    chat.user("cancel my order")
    chat.user("A12345")
    chat.bot("ask_confirm")
    assert chat.texts == ["Shall I cancel order A12345?"]
    result = chat.user("no, I meant B54321")
    assert result.decision is not None and (result.decision.kind, result.decision.slot) == (
        "correct",
        "order_id",
    )
    assert chat.slots["order_id"] == "B54321"
    assert runner.calls == ["lookup_order", "lookup_order"]  # looked up again with the new number
    chat.bot("ask_confirm")  # the "no" corrected the order; it did not answer the question
    assert chat.texts == ["Shall I cancel order B54321?"]
    assert chat.slots["confirm"] is None
    chat.user("yes")
    chat.bot("cancelled")


def test_repair_correction_of_a_slot_collected_by_a_called_flow(make_chat: Callable[..., Chat]) -> None:
    body = """\
intents:
  start: {examples: [go]}
entities:
  email: {regex: '\\S+@\\S+'}
slots:
  email: {type: email, fill: [{entity: email}]}
  note: {fill: [{text: true}]}
responses:
  ask_email: Email?
  ask_note: Note?
  done: "Noted for {{ slots.email }}."
flows:
  main:
    description: take a note
    trigger: {intents: [start]}
    steps:
      - call: contact
      - collect: note
        ask_always: true
      - respond: done
  contact:
    description: get the email
    steps:
      - collect: email
"""
    readings = {
        "go": ("start",),
        "jo@example.com": ("inform", 0.9, {"email": "jo@example.com"}),
        "sorry, al@example.com": ("inform", 0.9, {"email": "al@example.com"}),
    }
    chat = make_chat(body, readings)
    chat.user("go")
    chat.user("jo@example.com")
    chat.bot("ask_note")
    chat.user("sorry, al@example.com")
    chat.bot("ask_note")  # back to the call, which finds the email given; the note is asked again
    assert chat.slots["email"] == "al@example.com"
    chat.user("leave it at the door")
    chat.bot("done")
    assert chat.texts == ["Noted for al@example.com."]
    assert chat.slots["note"] == "leave it at the door"


def test_repair_correction_with_an_invalid_value_keeps_the_old_one(orders: Callable[..., Chat]) -> None:
    chat = orders({"no, I meant B5432": ("deny", 0.9, {"order_id": "B5432"})})
    chat.user("cancel my order")
    chat.user("A12345")
    chat.user("no, I meant B5432")  # fails the pattern
    assert chat.slots["order_id"] == "A12345"
    chat.bot("ask_confirm")


# -- cancel, restart, repeat, help -------------------------------------------------------------
def test_repair_cancel_resumes_the_interrupted_flow(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("where is my order")
    chat.user("where is my refund")
    chat.user("never mind")
    assert [(e.flow_id, e.reason) for e in chat.of(FlowCancelled)] == [("refund_status", "cancel")]
    chat.bot("flow_cancelled", "flow_resumed", "ask_order_id")
    assert chat.flows == ["order_status"]


def test_repair_cancel_ends_the_flow_and_resets_its_slots(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("cancel my order")
    chat.user("A12345")
    chat.user("never mind")
    chat.bot("flow_cancelled")
    assert chat.flows == []
    assert chat.slots["order_id"] == "A12345"  # not in reset_slots: kept for the next flow


def test_repair_cancel_of_a_called_flow_cancels_its_caller(make_chat: Callable[..., Chat]) -> None:
    body = """\
intents:
  start: {examples: [go]}
slots:
  email: {type: email, fill: [{text: true}]}
responses:
  ask_email: Email?
flows:
  main:
    description: the caller
    trigger: {intents: [start]}
    steps:
      - call: contact
  contact:
    description: get the email
    steps:
      - collect: email
"""
    chat = make_chat(body, {"go": ("start",)})
    chat.user("go")
    chat.user("never mind")
    assert [e.flow_id for e in chat.of(FlowCancelled)] == ["contact", "main"]
    assert chat.flows == []


def test_repair_restart_cancels_everything_and_forgets(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("cancel my order")
    chat.user("A12345")
    chat.user("where is my refund")
    chat.user("start over")
    assert [(e.flow_id, e.reason) for e in chat.of(FlowCancelled)] == [
        ("refund_status", "restart"),
        ("cancel_order", "restart"),
    ]
    assert len(chat.of(Restarted)) == 1
    chat.bot("restarted")
    assert chat.flows == [] and chat.slots["order_id"] is None
    assert chat.tracker.state.turns == 0


def test_repair_repeat_says_the_previous_turn_again(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("where is my order")
    chat.user("where is my refund")
    chat.user("jo@example.com")
    before = chat.texts
    assert len(before) == 3
    chat.user("say that again")
    assert chat.texts == before
    assert all(m.metadata.get("repeated") for m in chat.messages)
    chat.user("say that again")  # and again
    assert chat.texts == before
    assert chat.flows == ["order_status"]
    chat.user("A12345")  # the question is still pending
    chat.bot("order_state")


def test_repair_help_then_asks_the_pending_question_again(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("help")
    chat.bot("help")
    chat.user("where is my order")
    chat.user("help")
    chat.bot("help", "ask_order_id")
    assert chat.tracker.state.top is not None and chat.tracker.state.top.retries == 0


# -- the pending question and the message: asked slots are filled by answers only -------------
ADDRESS = """\
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
    steps:
      - collect: address
      - respond: moved
"""


@pytest.mark.parametrize(
    ("text", "said"),
    [
        pytest.param("help", ["help", "ask_address"], id="help"),
        pytest.param("say that again", ["ask_address"], id="repeat"),
        pytest.param("never mind", ["flow_cancelled"], id="cancel"),
        pytest.param("a person please", ["handoff_requested"], id="human"),
    ],
)
def test_repair_request_is_not_taken_as_the_text_asked_for(
    make_chat: Callable[..., Chat], text: str, said: list[str]
) -> None:
    chat = make_chat(ADDRESS, {"move": ("move",)})
    chat.user("move")
    chat.user(text)
    chat.bot(*said)
    assert chat.slots["address"] is None
    handoff = chat.result.handoff if chat.result else None
    if handoff is not None:
        assert handoff.context["slots"] == {}


def test_repair_correction_may_come_with_a_free_text_answer(make_chat: Callable[..., Chat]) -> None:
    # As in it_helpdesk: "black screen, ..." describes the fault and names another device.
    body = """\
intents:
  fault: {examples: [broken]}
entities:
  device: {lookup: [laptop, monitor]}
slots:
  device: {fill: [{entity: device}]}
  issue: {fill: [{text: true}]}
responses:
  ask_device: Which device?
  ask_issue: What is wrong?
  logged: "{{ slots.device }}: {{ slots.issue }}"
flows:
  fault:
    description: log a fault
    trigger: {intents: [fault]}
    steps:
      - collect: device
      - collect: issue
      - respond: logged
"""
    readings = {
        "my laptop is broken": ("fault", 0.9, {"device": "laptop"}),
        "black screen, nothing else": ("fault", 0.9, {"device": "monitor"}),
    }
    chat = make_chat(body, readings)
    chat.user("my laptop is broken")
    chat.bot("ask_issue")
    result = chat.user("black screen, nothing else")
    assert result.decision is not None and result.decision.kind == "correct"
    chat.bot("logged")
    assert chat.texts == ["monitor: black screen, nothing else"]


def test_repair_text_answer_still_fills_the_slot(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(ADDRESS, {"move": ("move",)})
    chat.user("move")
    chat.user("10 Downing Street")
    chat.bot("moved")
    assert chat.texts == ["Moved to 10 Downing Street."]


# -- clarification and asking for a person -----------------------------------------------------
def test_repair_clarifies_an_ambiguous_message_with_flow_buttons(orders: Callable[..., Chat]) -> None:
    chat = orders(
        {"order refund": Reading("order_status", 0.7, ambiguous=True, others={"refund_status": 0.65})}
    )
    result = chat.user("order refund")
    assert result.decision is not None and result.decision.options == ("order_status", "refund_status")
    chat.bot("clarify")
    assert chat.messages[0].data["buttons"] == [
        {"title": "Check where your order is", "payload": "/order_status"},
        {"title": "Check your refund", "payload": "/refund_status"},
    ]
    assert chat.flows == []
    parser = chat.assistant.parser
    assert isinstance(parser, FakeParser)
    seen = len(parser.texts)
    chat.user("/refund_status")
    chat.bot("ask_email")
    assert len(parser.texts) == seen  # a payload is not sent to the NLU


def test_repair_human_goes_to_the_default_queue_for_customer_request(orders: Callable[..., Chat]) -> None:
    chat = orders()
    chat.user("where is my order")
    result = chat.user("a person please")
    handoff = result.handoff
    assert handoff is not None and (handoff.queue, handoff.reason, handoff.priority, handoff.rule) == (
        "general",
        "customer_request",
        "normal",
        None,
    )
    chat.bot("handoff_requested")
    assert chat.texts == ["A person will take over (general)."]
    assert len(chat.of(HandoffRequested)) == 1


# -- the question gives context ----------------------------------------------------------------
def test_repair_plausible_yes_answers_a_yes_no_question_below_threshold(orders: Callable[..., Chat]) -> None:
    chat = orders(
        {
            "yes please cancel it": Reading("affirm", 0.4, others={"cancel_order": 0.35}),
            "hmm maybe": Reading("affirm", 0.2),
        }
    )
    chat.user("cancel my order")
    chat.user("A12345")
    chat.user("hmm maybe")  # too unsure even for an expected answer
    chat.bot("ask_confirm")
    user = chat.of(UserUttered)[0]
    assert "context_intent" not in user.parse_data
    chat.user("yes please cancel it")
    chat.bot("cancelled")
    user = chat.of(UserUttered)[0]
    assert user.parse_data["context_intent"] == "affirm"
    assert user.parse_data["intent"]["name"] == "out_of_scope"


def test_repair_plausible_intent_does_not_fill_without_a_question(orders: Callable[..., Chat]) -> None:
    chat = orders({"yes please cancel it": Reading("affirm", 0.4)})
    chat.user("yes please cancel it")
    chat.bot("ask_rephrase")
    assert chat.slots["confirm"] is None
    assert "context_intent" not in chat.of(UserUttered)[0].parse_data


def test_repair_correction_ends_the_flows_above_and_resets_their_slots(
    make_chat: Callable[..., Chat],
) -> None:
    body = """\
intents:
  start: {examples: [go]}
  side: {examples: [aside]}
entities:
  order_id: {regex: '\\b[A-Z]\\d{5}\\b'}
slots:
  order_id: {fill: [{entity: order_id}]}
  note: {fill: [{text: true}]}
  confirm:
    type: bool
    fill: [{intent: affirm, value: true}, {intent: deny, value: false}]
responses:
  ask_order_id: Which order?
  ask_note: Note?
  ask_confirm: Sure?
  done: "Done with {{ slots.order_id }}."
flows:
  main:
    description: the main thing
    trigger: {intents: [start]}
    steps:
      - collect: order_id
      - collect: confirm
        ask_always: true
      - respond: done
  side:
    description: an aside
    trigger: {intents: [side]}
    reset_slots: [note]
    steps:
      - collect: note
      - collect: confirm
"""
    readings = {**ORDER_READINGS, "go": ("start",), "aside": ("side",)}
    chat = make_chat(body, readings)
    chat.user("go")
    chat.user("A12345")
    chat.user("aside")
    chat.user("a note")
    chat.bot("ask_confirm")
    assert chat.flows == ["main", "side"] and chat.slots["note"] == "a note"
    chat.user("B54321")  # corrects the order main collected: the aside ends
    assert [(e.flow_id, e.reason) for e in chat.of(FlowCancelled)] == [("side", "correction")]
    assert chat.slots["note"] is None
    assert chat.flows == ["main"]
    chat.bot("flow_resumed", "ask_confirm")
