"""The tracker: a conversation's events, and the state derived from them.

State is never written directly: `Tracker.add` appends an event and `DialogueState.apply`
derives the new state from it, so replaying the stored events gives the same state back.
Only the events since the latest `session_started` (or `restart`) shape the state.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.dialogue.events import (
    ActionExecuted,
    ActionFailed,
    AllSlotsReset,
    BotUttered,
    CollectExhausted,
    Event,
    FallbackCounted,
    FlowStack,
    HandoffAccepted,
    HandoffEnded,
    HandoffRequested,
    HandoffTransferred,
    Restarted,
    RuleReleased,
    SessionStarted,
    SlotSet,
    UserUttered,
)

#: Built-in action names that are bookkeeping, not custom actions.
ACTION_LISTEN = "action_listen"


@dataclass
class Frame:
    """One flow on the stack. The top frame runs; frames below wait for it."""

    flow: str
    pc: int = 0
    #: A collect step asked its question and waits for the answer.
    waiting: bool = False
    #: Invalid answers given to the collect step at `pc`.
    retries: int = 0
    #: Started by a `call` step: when it ends, the frame below continues after its call.
    called: bool = False
    #: Put aside by a digression; when the flows above it end, it resumes.
    interrupted: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Frame:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclass
class DialogueState:
    """What the runtime needs to know about a conversation now."""

    initial_slots: Mapping[str, Any]
    slots: dict[str, Any] = field(default_factory=dict)
    stack: list[Frame] = field(default_factory=list)
    #: Customer messages in this session.
    turns: int = 0
    fallbacks: int = 0
    retries_exhausted: bool = False
    action_failures: int = 0
    failed_action: str | None = None
    escalations: int = 0
    frustration: float = 0.0
    sentiment: float = 0.0
    latest: UserUttered | None = None
    #: The customer's texts and intents in this session, oldest first.
    user_texts: list[str] = field(default_factory=list)
    intent_trail: list[str] = field(default_factory=list)
    #: The open handoff, if any: while it is set the bot does not answer.
    handoff: HandoffRequested | None = None
    #: The queue the open handoff waits in (the request's, or the one it was transferred to).
    handoff_queue: str | None = None
    handoff_agent: str | None = None
    #: Escalation rules that fired and still match (they do not fire again until released).
    latched_rules: set[int] = field(default_factory=set)
    #: Response name -> times said in this session (for `rotate` selection).
    said: Counter[str] = field(default_factory=Counter)
    #: What the bot said in the latest turn, and in the turn before (for "repeat that").
    bot_this_turn: list[BotUttered] = field(default_factory=list)
    bot_last_turn: list[BotUttered] = field(default_factory=list)
    last_event_time: float | None = None
    _fallbacks_before: int = 0

    def __post_init__(self) -> None:
        if not self.slots:
            self.slots = dict(self.initial_slots)

    @property
    def top(self) -> Frame | None:
        return self.stack[-1] if self.stack else None

    @property
    def paused(self) -> bool:
        """True while a person has (or is about to take) the conversation."""
        return self.handoff is not None

    def _reset(self) -> None:
        keep = (self.handoff, self.handoff_queue, self.handoff_agent, self.escalations)
        fresh = DialogueState(self.initial_slots)
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(fresh, f.name))
        self.handoff, self.handoff_queue, self.handoff_agent, self.escalations = keep

    def apply(self, event: Event) -> None:
        self.last_event_time = event.timestamp
        if isinstance(event, (SessionStarted, Restarted)):
            self._reset()
        elif isinstance(event, UserUttered):
            self.turns += 1
            self.latest = event
            self.user_texts.append(event.text)
            self.intent_trail.append(event.intent or "")
            self._fallbacks_before, self.fallbacks = self.fallbacks, 0
            self.retries_exhausted = False
            self.frustration = float(event.parse_data.get("frustration", 0.0))
            self.sentiment = float(event.parse_data.get("sentiment", 0.0))
            if self.bot_this_turn:
                self.bot_last_turn = self.bot_this_turn
            self.bot_this_turn = []
        elif isinstance(event, BotUttered):
            self.bot_this_turn.append(event)
            if event.response:
                self.said[event.response] += 1
        elif isinstance(event, SlotSet):
            self.slots[event.name] = event.value
        elif isinstance(event, AllSlotsReset):
            self.slots = dict(self.initial_slots)
        elif isinstance(event, FallbackCounted):
            self.fallbacks = self._fallbacks_before + 1
            self._fallbacks_before = self.fallbacks
        elif isinstance(event, ActionExecuted):
            if event.name != ACTION_LISTEN:
                self.action_failures = 0
        elif isinstance(event, ActionFailed):
            self.action_failures += 1
            self.failed_action = event.name
        elif isinstance(event, CollectExhausted):
            self.retries_exhausted = True
        elif isinstance(event, FlowStack):
            self.stack = [Frame.from_json(frame) for frame in event.frames]
        elif isinstance(event, HandoffRequested):
            self.handoff = event
            self.handoff_queue = event.queue
            self.handoff_agent = None
            self.escalations += 1
            if event.rule is not None:
                self.latched_rules.add(event.rule)
        elif isinstance(event, HandoffAccepted):
            self.handoff_agent = event.agent
        elif isinstance(event, HandoffTransferred):
            self.handoff_queue = event.queue
            self.handoff_agent = None
        elif isinstance(event, HandoffEnded):
            self.handoff = None
            self.handoff_queue = None
            self.handoff_agent = None
        elif isinstance(event, RuleReleased):
            self.latched_rules.discard(event.rule)


class Tracker:
    """A conversation: its id, its events, and the state they give."""

    def __init__(
        self,
        sender_id: str,
        initial_slots: Mapping[str, Any],
        events: Iterable[Event] = (),
    ) -> None:
        self.sender_id = sender_id
        self.events: list[Event] = []
        #: The events as JSON, made when an action call first needs them and extended after: every
        #: call sends them all, while most turns call no action (events are immutable).
        self._json: list[dict[str, Any]] = []
        self.state = DialogueState(dict(initial_slots))
        for event in events:
            self.add(event)

    def add(self, event: Event) -> None:
        self.events.append(event)
        self.state.apply(event)

    def with_slot(self, name: str, value: Any, *, timestamp: float) -> Tracker:
        """A copy of this conversation with one more slot set, without replaying its events
        (what a validation action is asked about). It shares the state's lists with this
        tracker: read it, do not add to it."""
        copy = Tracker.__new__(Tracker)
        copy.sender_id = self.sender_id
        copy.events, copy._json = list(self.events), list(self._json)
        copy.state = dataclasses.replace(self.state, slots=dict(self.state.slots))
        copy.add(SlotSet(name=name, value=value, timestamp=timestamp))
        return copy

    def session_events(self) -> Sequence[Event]:
        """The events since the latest session start or restart."""
        for index in range(len(self.events) - 1, -1, -1):
            if isinstance(self.events[index], (SessionStarted, Restarted)):
                return self.events[index:]
        return self.events

    def _events_json(self) -> list[dict[str, Any]]:
        self._json.extend(event.to_json() for event in self.events[len(self._json) :])
        return self._json

    def to_json(self) -> dict[str, Any]:
        """The tracker as the Rasa SDK reads it (`tracker` of an action-server request)."""
        state = self.state
        latest = state.latest
        latest_action = next((e.name for e in reversed(self.events) if isinstance(e, ActionExecuted)), None)
        return {
            "sender_id": self.sender_id,
            "slots": dict(state.slots),
            "latest_message": dict(latest.parse_data) if latest else {},
            "events": list(self._events_json()),
            "paused": state.paused,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": latest_action,
            "latest_event_time": state.last_event_time,
            "latest_input_channel": latest.input_channel if latest else None,
        }
