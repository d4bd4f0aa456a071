"""Escalation rules (policies/escalation.py): first match wins, before and after the flows, once
while they keep holding."""

from __future__ import annotations

from collections.abc import Callable

from engine.dialogue.actions import ActionStub
from engine.dialogue.events import FlowStarted, HandoffEnded, HandoffRequested, PolicyDecided, RuleReleased
from tests.dialogue.conftest import Chat

RULES = """\
intents:
  complain: {examples: [this is awful]}
  refund: {examples: [refund]}
slots:
  refund_amount: {type: money}
  vip: {type: bool, initial: false}
actions:
  lookup_refund: {slots: [refund_amount]}
responses:
  sorry: Sorry to hear that.
  refund_info: "Your refund is {{ slots.refund_amount }}."
flows:
  complain:
    description: hear a complaint
    trigger: {intents: [complain]}
    steps:
      - respond: sorry
  refund:
    description: check your refund
    trigger: {intents: [refund]}
    steps:
      - action: lookup_refund
      - respond: refund_info
escalation:
  queues:
    complaints: {}
    billing: {}
    vip: {}
  rules:
    - when: intent == "complain" and slots.vip
      to: vip
      reason: vip_complaint
      priority: urgent
    - when: intent == "complain"
      to: complaints
      reason: complaint
      priority: high
    - when: slots.refund_amount is not none and slots.refund_amount > 500
      to: billing
      reason: high_value_refund
"""

READINGS = {"this is awful": ("complain",), "refund": ("refund",)}


def handoff_of(chat: Chat) -> tuple[str, str, str, int | None] | None:
    handoff = chat.result.handoff if chat.result else None
    return None if handoff is None else (handoff.queue, handoff.reason, handoff.priority, handoff.rule)


def end_handoff(chat: Chat) -> None:
    """The agent hands the conversation back (the agent console does this)."""
    chat.tracker.add(HandoffEnded(resume=True, agent="sam", timestamp=chat.assistant.clock()))


def test_escalation_first_matching_rule_wins_before_the_flows(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(RULES, READINGS)
    chat.user("this is awful")
    assert handoff_of(chat) == ("complaints", "complaint", "high", 1)
    assert not chat.of(FlowStarted)  # the rule decided before the complaint flow could start
    chat.bot("handoff_requested")
    decisions = chat.of(PolicyDecided)
    assert [d.policy for d in decisions] == ["escalation"]
    assert 'escalation rule 2 (intent == "complain")' in decisions[0].reason


def test_escalation_rule_order_not_specificity_decides(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(
        RULES.replace("vip: {type: bool, initial: false}", "vip: {type: bool, initial: true}"), READINGS
    )
    chat.user("this is awful")
    assert handoff_of(chat) == ("vip", "vip_complaint", "urgent", 0)


def test_escalation_rule_after_the_flows_sees_slots_an_action_set(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(RULES, READINGS, stubs={"lookup_refund": ActionStub(slots={"refund_amount": 750})})
    chat.user("refund")
    chat.bot("refund_info", "handoff_requested")
    assert handoff_of(chat) == ("billing", "high_value_refund", "normal", 2)
    assert [d.policy for d in chat.of(PolicyDecided)] == ["flow", "escalation"]
    assert "matched after the flows ran" in chat.of(PolicyDecided)[1].reason


def test_escalation_small_refund_is_not_escalated(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(RULES, READINGS, stubs={"lookup_refund": ActionStub(slots={"refund_amount": 20})})
    chat.user("refund")
    chat.bot("refund_info")
    assert handoff_of(chat) is None


def test_escalation_rule_fires_once_while_it_holds_and_again_after_release(
    make_chat: Callable[..., Chat],
) -> None:
    chat = make_chat(RULES, READINGS)
    chat.user("this is awful")
    assert handoff_of(chat) == ("complaints", "complaint", "high", 1)
    assert chat.tracker.state.latched_rules == {1}
    end_handoff(chat)

    chat.user("this is awful")  # still holds: the rule stays quiet
    assert handoff_of(chat) is None
    chat.bot("sorry")
    assert not chat.of(RuleReleased)

    chat.user("hi")  # no longer holds: released
    assert [e.rule for e in chat.of(RuleReleased)] == [1]
    assert chat.tracker.state.latched_rules == set()
    chat.bot("greet")

    chat.user("this is awful")  # holds again: fires again
    assert handoff_of(chat) == ("complaints", "complaint", "high", 1)
    assert chat.tracker.state.escalations == 2


def test_escalation_slot_rule_does_not_fire_on_every_later_message(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(RULES, READINGS, stubs={"lookup_refund": ActionStub(slots={"refund_amount": 750})})
    chat.user("refund")
    assert handoff_of(chat) is not None
    end_handoff(chat)
    chat.user("hi")
    chat.bot("greet")
    assert handoff_of(chat) is None and not chat.of(RuleReleased)
    assert len([e for e in chat.tracker.events if isinstance(e, HandoffRequested)]) == 1
