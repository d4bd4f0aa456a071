"""Conversation events: the append-only record a conversation's state is derived from.

Event names and JSON keys follow Rasa's where Rasa has the event (`user`, `bot`, `slot`,
`action`, `session_started`, `restart`, `reset_slots`, `followup`, and Rasa Pro's `flow_*` with
`flow_id`/`step_id`), so action servers and analytics built for Rasa read them. Parley adds the
events Rasa has no name for: decisions of policies, fallbacks, failed actions, exhausted
retries, the flow stack, and handoffs.

Every event is a frozen dataclass whose field names are its JSON keys; `to_json` and
`event_from_json` convert without a per-event table of keys.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


class EventError(ValueError):
    """An event in JSON that Parley cannot read: unknown kind, or missing/unknown keys."""


@dataclass(frozen=True, kw_only=True)
class Event:
    KIND: ClassVar[str] = ""
    timestamp: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"event": self.KIND, **data}


# -- Rasa's events -----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SessionStarted(Event):
    KIND = "session_started"


@dataclass(frozen=True, kw_only=True)
class UserUttered(Event):
    """A customer message with the NLU's reading (`parse_data`, Rasa's shape plus Parley's
    `out_of_scope`, `ambiguous`, `threshold`, `reason`, `frustration`, `sentiment`)."""

    KIND = "user"
    text: str
    parse_data: Mapping[str, Any] = field(default_factory=dict)
    input_channel: str | None = None
    message_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def intent(self) -> str | None:
        intent = self.parse_data.get("intent") or {}
        name = intent.get("name") if isinstance(intent, Mapping) else None
        return str(name) if name else None


@dataclass(frozen=True, kw_only=True)
class BotUttered(Event):
    """Something the assistant said. `data` holds buttons, quick_replies, image and custom;
    `metadata.utter_action` names the pack response it came from."""

    KIND = "bot"
    text: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def response(self) -> str | None:
        name = self.metadata.get("utter_action")
        return str(name) if name else None


@dataclass(frozen=True, kw_only=True)
class SlotSet(Event):
    KIND = "slot"
    name: str
    value: Any = None


@dataclass(frozen=True, kw_only=True)
class ActionExecuted(Event):
    """A custom action (or a built-in one such as `action_listen`) ran successfully."""

    KIND = "action"
    name: str
    policy: str | None = None
    confidence: float | None = None


@dataclass(frozen=True, kw_only=True)
class Restarted(Event):
    KIND = "restart"


@dataclass(frozen=True, kw_only=True)
class AllSlotsReset(Event):
    KIND = "reset_slots"


# -- flows (Rasa Pro's names) ----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class FlowStarted(Event):
    KIND = "flow_started"
    flow_id: str


@dataclass(frozen=True, kw_only=True)
class FlowEvent(Event):
    """What happened to a flow, and at which step (its id, or its position such as `3.then.0`)."""

    flow_id: str
    step_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class FlowCompleted(FlowEvent):
    KIND = "flow_completed"


@dataclass(frozen=True, kw_only=True)
class FlowInterrupted(FlowEvent):
    """The flow was put aside for a digression (or a handoff); it resumes later."""

    KIND = "flow_interrupted"


@dataclass(frozen=True, kw_only=True)
class FlowResumed(FlowEvent):
    KIND = "flow_resumed"


@dataclass(frozen=True, kw_only=True)
class FlowCancelled(FlowEvent):
    """`reason`: cancel (the customer), retries_exhausted, action_failed, restart, correction
    (a corrected slot rewound past it), handoff_ended, loop (a goto cycle was stopped), or
    flow_changed (the pack no longer has the flow, or the step, the conversation stood in)."""

    KIND = "flow_cancelled"
    reason: str = "cancel"


@dataclass(frozen=True, kw_only=True)
class FlowStack(Event):
    """The flow stack after a turn: what runs, where, and what it waits for.

    Each frame: `flow`, `pc` (position in the compiled flow), `waiting` (a collect step asked and
    waits for the answer), `retries` (invalid answers so far), `called` (started by a `call` step:
    return to the frame below when done), `interrupted` (put aside by a digression or handoff).
    """

    KIND = "flow_stack"
    frames: tuple[Mapping[str, Any], ...] = ()


# -- Parley's additions ----------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PolicyDecided(Event):
    """Which policy decided what to do with a message, and why (shown by the shell, counted by
    analytics)."""

    KIND = "decision"
    policy: str
    decision: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class FallbackCounted(Event):
    """A message was not understood (`reason`: out_of_scope, below_threshold, no_words, no_flow)."""

    KIND = "fallback"
    reason: str


@dataclass(frozen=True, kw_only=True)
class ActionFailed(Event):
    """A custom action failed: `failure` is timeout, refused, error, rejected, malformed,
    unknown_action or circuit_open."""

    KIND = "action_failed"
    name: str
    failure: str
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class CollectExhausted(Event):
    """A collect step ran out of retries."""

    KIND = "collect_exhausted"
    flow_id: str
    slot: str


@dataclass(frozen=True, kw_only=True)
class HandoffRequested(Event):
    """The conversation goes to a person. `context` is the packet the agent sees; `rule` is the
    index of the escalation rule that matched, or null for an escalate step or the fallback
    ladder."""

    KIND = "handoff_requested"
    queue: str
    reason: str
    priority: str = "normal"
    rule: int | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class HandoffAccepted(Event):
    KIND = "handoff_accepted"
    agent: str


@dataclass(frozen=True, kw_only=True)
class HandoffTransferred(Event):
    """The conversation waits in another queue, for whoever claims it there."""

    KIND = "handoff_transferred"
    queue: str
    agent: str | None = None


@dataclass(frozen=True, kw_only=True)
class HandoffEnded(Event):
    """The person handed the conversation back. `resume`: continue the interrupted flow;
    otherwise the flows are ended."""

    KIND = "handoff_ended"
    resume: bool = False
    agent: str | None = None


@dataclass(frozen=True, kw_only=True)
class RuleReleased(Event):
    """An escalation rule that fired stopped matching, so it may fire again."""

    KIND = "escalation_rule_released"
    rule: int


@dataclass(frozen=True, kw_only=True)
class DeliveryFailed(Event):
    """Messages the assistant said did not reach the customer's messenger: the platform refused
    them or stayed unreachable after the connector's retries. `undelivered` counts them; `status`
    is the platform's HTTP answer (None when it never answered)."""

    KIND = "delivery_failed"
    channel: str
    error: str
    undelivered: int
    status: int | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.KIND: cls
    for cls in (
        SessionStarted,
        UserUttered,
        BotUttered,
        SlotSet,
        ActionExecuted,
        Restarted,
        AllSlotsReset,
        FlowStarted,
        FlowCompleted,
        FlowInterrupted,
        FlowResumed,
        FlowCancelled,
        FlowStack,
        PolicyDecided,
        FallbackCounted,
        ActionFailed,
        CollectExhausted,
        HandoffRequested,
        HandoffAccepted,
        HandoffTransferred,
        HandoffEnded,
        RuleReleased,
        DeliveryFailed,
    )
}


def event_from_json(data: Mapping[str, Any]) -> Event:
    """Read one event; raises `EventError` naming what is wrong."""
    kind = data.get("event")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise EventError(f"unknown event {kind!r}; known: {', '.join(sorted(EVENT_TYPES))}")
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in data.items() if k != "event"}
    unknown = sorted(set(values) - names)
    if unknown:
        raise EventError(f"event {kind!r} has unknown keys {unknown}; it takes {sorted(names)}")
    if cls is FlowStack and "frames" in values:
        values["frames"] = tuple(values["frames"])
    if values.get("timestamp") is None:
        values.pop("timestamp", None)
    try:
        return cls(**values)
    except TypeError as error:
        raise EventError(f"event {kind!r}: {error}") from None
