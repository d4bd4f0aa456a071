"""The dialogue runtime: one customer message in, the assistant's next steps out.

`Assistant.handle` runs a turn:

1. start a new session when the last one expired (carrying over the slots the pack names);
2. while a person has the conversation, record the message and say nothing;
3. read the message (a button payload `/intent{...}` directly, anything else with the NLU) and
   measure frustration; a message with no usable intent, when no question is pending, counts
   as not understood;
4. ask the policies, in order, what to do (see `engine.dialogue.policy`);
5. carry the decision out: fill slots, start, continue, correct, cancel or resume flows, run
   their steps until one needs the customer (`engine.dialogue.executor`);
6. check the escalation rules again, now that actions may have set slots.

Every change is an event appended to the tracker; the returned `TurnResult` lists them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from engine.dialogue.actions import ActionRunner, StubActionRunner
from engine.dialogue.events import (
    BotUttered,
    Event,
    FallbackCounted,
    FlowCancelled,
    FlowStack,
    HandoffAccepted,
    HandoffEnded,
    HandoffRequested,
    HandoffTransferred,
    PolicyDecided,
    RuleReleased,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from engine.dialogue.executor import Executor
from engine.dialogue.flows import FlowBook
from engine.dialogue.frustration import WINDOW, assess_frustration
from engine.dialogue.policy import Decision, Policy, Turn, build_policies
from engine.dialogue.responses import ResponseRenderer
from engine.dialogue.scope import Conditions, Scope, build_scope
from engine.dialogue.slots import candidates
from engine.dialogue.tracker import Tracker
from engine.nlu.types import EntityMatch, ParseResult
from engine.packs import Pack

log = logging.getLogger(__name__)

#: `/intent` or `/intent{"slot": "value"}`: a button payload.
PAYLOAD = re.compile(r"^/(?P<intent>[a-z][a-z0-9_]*)(?P<data>\{.*\})?\s*$", re.DOTALL)


class HandoffStateError(Exception):
    """A handoff operation that the conversation's state does not allow (no open handoff)."""


class Parser(Protocol):
    def parse(self, text: str, *, now: datetime | None = None) -> ParseResult: ...


@dataclass(frozen=True)
class TurnResult:
    """What one message did: the new events, what the bot said, and who decided."""

    events: tuple[Event, ...]
    decision: Decision | None

    @property
    def messages(self) -> list[BotUttered]:
        return [e for e in self.events if isinstance(e, BotUttered)]

    @property
    def handoff(self) -> HandoffRequested | None:
        return next((e for e in self.events if isinstance(e, HandoffRequested)), None)


class Assistant:
    """A validated pack with its NLU model: holds any number of conversations (trackers)."""

    def __init__(
        self,
        pack: Pack,
        parser: Parser,
        *,
        actions: ActionRunner | None = None,
        policies: Sequence[Policy] | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pack = pack
        self.parser = parser
        self.actions: ActionRunner = actions or StubActionRunner()
        self.policies = list(policies) if policies is not None else build_policies()
        self.clock = clock
        self.flows = FlowBook.compile(pack.flows)
        self.conditions = Conditions()
        self.renderer = ResponseRenderer(
            pack.responses,
            self.conditions,
            selection=pack.settings.responses.selection,
            rng=random.Random(seed),
        )
        self.initial_slots = {name: slot.initial for name, slot in pack.slots.items()}
        self.entity_names = tuple(pack.entities)

    # -- conversations ---------------------------------------------------------------------
    def tracker(self, sender_id: str, events: Sequence[Event] = ()) -> Tracker:
        return Tracker(sender_id, self.initial_slots, events)

    def handle(
        self,
        tracker: Tracker,
        text: str,
        *,
        channel: str = "rest",
        message_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> TurnResult:
        start = len(tracker.events)
        now = self.clock()
        self._maybe_start_session(tracker, now)
        self._forget_changed_flows(tracker, now)
        state = tracker.state
        if state.paused:
            tracker.add(
                UserUttered(
                    text=text,
                    input_channel=channel,
                    message_id=message_id,
                    metadata=dict(metadata or {}),
                    timestamp=now,
                )
            )
            return TurnResult(tuple(tracker.events[start:]), None)

        parse, given = self.read(text, now)
        asking = self._asking(tracker)
        intent = None if parse.out_of_scope else parse.intent
        counted = intent is None and asking is None
        entities = [entity.to_json() for entity in parse.entities]
        found = candidates(
            self.pack.slots,
            intent=intent,
            entities=entities,
            text=text,
            asking=asking,
            given=given,
            ranking={score.name: score.confidence for score in parse.ranking},
        )
        recent = [*state.user_texts[-(WINDOW - 1) :], text]
        mood = assess_frustration(recent, fallbacks=state.fallbacks + 1 if counted else 0)
        parse_data = {
            **parse.to_json(),
            "frustration": round(mood.score, 4),
            "sentiment": round(mood.sentiment, 4),
        }
        if given:
            parse_data["slots"] = dict(given)
        answer = found.get(asking or "")
        if intent is None and answer is not None and answer.intent is not None:
            # The pending question made a plausible intent the reading (see slots.candidates).
            parse_data["context_intent"] = answer.intent
        tracker.add(
            UserUttered(
                text=text,
                parse_data=parse_data,
                input_channel=channel,
                message_id=message_id,
                metadata=dict(metadata or {}),
                timestamp=now,
            )
        )
        if counted:
            tracker.add(FallbackCounted(reason=parse.reason or "out_of_scope", timestamp=now))
        scope = self.scope(tracker, channel)
        self._release_rules(tracker, scope, now)
        turn = Turn(
            assistant=self,
            state=state,
            parse=parse_data,
            intent=intent,
            confidence=parse.confidence,
            ambiguous=parse.ambiguous,
            asking=asking,
            candidates=found,
            fallback_counted=counted,
            scope=scope,
        )
        decision = self.decide(turn)
        if decision.policy == "fallback" and not counted:
            # Nothing acts on this understood intent: it is not understood after all. Count it
            # and ask again, so the ladder and the escalation rules see the whole streak.
            tracker.add(FallbackCounted(reason="no_flow", timestamp=now))
            turn = dataclasses.replace(turn, fallback_counted=True, scope=self.scope(tracker, channel))
            decision = self.decide(turn)
        tracker.add(
            PolicyDecided(
                policy=decision.policy, decision=decision.describe(), reason=decision.reason, timestamp=now
            )
        )
        executor = Executor(self, tracker, channel=channel, now=now)
        executor.carry_out(decision, found, asking)
        if not tracker.state.paused:
            after = self._after_steps(tracker, channel, turn)
            if after is not None:
                tracker.add(
                    PolicyDecided(
                        policy=after.policy, decision=after.describe(), reason=after.reason, timestamp=now
                    )
                )
                executor.carry_out(after, {}, None)
        executor.save_stack()
        return TurnResult(tuple(tracker.events[start:]), decision)

    # -- handoffs --------------------------------------------------------------------------
    def accept_handoff(self, tracker: Tracker, agent: str) -> TurnResult:
        """A person took the conversation (the bot stays silent, as since the request)."""
        if tracker.state.handoff is None:
            raise HandoffStateError(f"conversation {tracker.sender_id} has no open handoff to accept")
        start = len(tracker.events)
        tracker.add(HandoffAccepted(agent=agent, timestamp=self.clock()))
        return TurnResult(tuple(tracker.events[start:]), None)

    def transfer_handoff(self, tracker: Tracker, queue: str, agent: str | None = None) -> TurnResult:
        """The open handoff now waits in `queue`, unclaimed."""
        if tracker.state.handoff is None:
            raise HandoffStateError(f"conversation {tracker.sender_id} has no open handoff to transfer")
        start = len(tracker.events)
        tracker.add(HandoffTransferred(queue=queue, agent=agent, timestamp=self.clock()))
        return TurnResult(tuple(tracker.events[start:]), None)

    def agent_said(self, tracker: Tracker, text: str, *, agent: str, agent_name: str) -> TurnResult:
        """A person's message to the customer, kept in the conversation like the bot's (its
        metadata names the agent)."""
        start = len(tracker.events)
        tracker.add(
            BotUttered(
                text=text,
                metadata={"agent": agent, "agent_name": agent_name},
                timestamp=self.clock(),
            )
        )
        return TurnResult(tuple(tracker.events[start:]), None)

    def notice(
        self,
        tracker: Tracker,
        response: str,
        context: Mapping[str, Any] | None = None,
        *,
        channel: str = "rest",
        default: str | None = None,
        at: float | None = None,
    ) -> TurnResult:
        """Say the pack's `response` outside a turn (the handoff desk's notices: the place in
        the queue, an agent joined, ...). A pack without that response says `default` (a Jinja
        template with `context`), or nothing when there is none. `at`: the time of the
        message (a notice added to a customer's turn has the turn's time)."""
        start = len(tracker.events)
        now = self.clock() if at is None else at
        if response in self.pack.responses:
            executor = Executor(self, tracker, channel=channel, now=now)
            executor.say(response, context)
        elif default is not None:
            text = self.renderer.render_text(default, {"context": dict(context or {})})
            tracker.add(BotUttered(text=text, metadata={"utter_action": response}, timestamp=now))
        return TurnResult(tuple(tracker.events[start:]), None)

    def end_handoff(
        self, tracker: Tracker, *, resume: bool, agent: str | None = None, channel: str = "rest"
    ) -> TurnResult:
        """The person hands the conversation back to the bot.

        `resume`: the interrupted flow goes on where it stopped (a pending question is asked
        again, steps after an escalate step run). Otherwise every flow is ended and the bot
        waits for the customer's next message.
        """
        if tracker.state.handoff is None:
            raise HandoffStateError(f"conversation {tracker.sender_id} has no open handoff to end")
        start = len(tracker.events)
        now = self.clock()
        tracker.add(HandoffEnded(resume=resume, agent=agent, timestamp=now))
        self._forget_changed_flows(tracker, now)
        executor = Executor(self, tracker, channel=channel, now=now)
        if resume and tracker.state.stack:
            executor.resume_after_handoff()
        else:
            executor.cancel_all("handoff_ended")
        executor.save_stack()
        return TurnResult(tuple(tracker.events[start:]), None)

    # -- reading messages ------------------------------------------------------------------
    def read(self, text: str, now: float) -> tuple[ParseResult, dict[str, Any]]:
        """The NLU's reading; a button payload (`/intent{"slot": "value"}`) is taken as given."""
        match = PAYLOAD.match(text.strip())
        if match and match["intent"] in self.pack.intents:
            given: dict[str, Any] = {}
            if match["data"]:
                try:
                    data = json.loads(match["data"])
                except json.JSONDecodeError:
                    data = None
                if not isinstance(data, dict):
                    log.warning("payload %r: the part in braces is not a JSON object; ignored", text)
                    data = {}
                given = dict(data)
            entities = tuple(
                _payload_entity(name, value) for name, value in given.items() if name in self.pack.entities
            )
            parse = ParseResult(text, match["intent"], 1.0, (), entities=entities)
            return parse, {k: v for k, v in given.items() if k in self.pack.slots}
        return self.parser.parse(text, now=datetime.fromtimestamp(now, UTC)), {}

    # -- what policies and steps use --------------------------------------------------------
    def scope(self, tracker: Tracker, channel: str, context: Mapping[str, Any] | None = None) -> Scope:
        return build_scope(
            tracker.state, entity_names=self.entity_names, flows=self.flows, channel=channel, context=context
        )

    def triggered_flow(self, intent: str, confidence: float, scope: Scope) -> str | None:
        """The flow this intent starts: the first whose guard holds and whose trigger confidence
        is reached; None when there is none."""
        for name in self.flows.triggers.get(intent, ()):
            flow = self.pack.flows[name]
            trigger = flow.trigger
            if trigger is not None and trigger.confidence is not None and confidence < trigger.confidence:
                continue
            if flow.guard is not None and not self.conditions.holds(flow.guard, scope):
                continue
            return name
        return None

    def interrupts(self, turn: Turn) -> bool:
        """Whether the message is sure enough of its intent to interrupt a pending question.

        While a question waits for its answer, a repeat, help, restart, clarification or
        digression needs a confidence two thirds of the way from the threshold to certainty: a customer
        typing "AB1234?" for an order number is trying to answer, whatever the NLU guesses.
        """
        if turn.asking is None:
            return True
        threshold = float(turn.parse.get("threshold") or 0.0)
        return turn.confidence >= threshold + (1.0 - threshold) * 2 / 3

    def default_queue(self) -> str | None:
        if self.pack.default_queue:
            return self.pack.default_queue
        return next(iter(self.pack.queues), None)

    def clarification_options(self, turn: Turn, minimum: float = 0.0) -> list[str]:
        """Intents worth offering in "did you mean ...?": the best-ranked ones (up to three) that
        start a flow, at least `minimum` confident."""
        options: list[str] = []
        for score in turn.parse.get("intent_ranking", ()):
            name, confidence = score["name"], score["confidence"]
            if confidence < minimum or len(options) == 3:
                break
            if self.flows.triggers.get(name):
                options.append(name)
        return options

    def option_title(self, intent: str) -> str:
        """What a clarification button says: the description of the flow the intent starts."""
        flows = self.flows.triggers.get(intent, ())
        if flows:
            description = self.pack.flows[flows[0]].description
            return description[:1].upper() + description[1:]
        described = self.pack.intents[intent].description if intent in self.pack.intents else None
        return described or intent.replace("_", " ")

    # -- inside a turn -----------------------------------------------------------------------
    def decide(self, turn: Turn) -> Decision:
        for policy in self.policies:
            decision = policy.decide(turn)
            if decision is not None:
                return decision
        return Decision(kind="rephrase", policy="none", reason="no policy decided")

    def _after_steps(self, tracker: Tracker, channel: str, before: Turn) -> Decision | None:
        scope = self.scope(tracker, channel)
        turn = Turn(
            assistant=self,
            state=tracker.state,
            parse=before.parse,
            intent=before.intent,
            confidence=before.confidence,
            ambiguous=before.ambiguous,
            asking=self._asking(tracker),
            candidates={},
            fallback_counted=True,
            scope=scope,
        )
        for policy in self.policies:
            decision = policy.after_steps(turn)
            if decision is not None:
                return decision
        return None

    def _forget_changed_flows(self, tracker: Tracker, now: float) -> None:
        """A conversation stored under an earlier version of the pack may stand in a flow that
        is gone now, or past the end of one that got shorter: those flows are cancelled
        (reason `flow_changed`) so the conversation goes on with what the pack has."""
        stack = tracker.state.stack
        programs = self.flows.programs
        kept = [f for f in stack if f.flow in programs and f.pc < len(programs[f.flow])]
        if len(kept) == len(stack):
            return
        for frame in stack:
            if frame not in kept:
                log.warning(
                    "conversation %s was in flow %s at position %d, which this pack no longer has; "
                    "the flow is cancelled",
                    tracker.sender_id,
                    frame.flow,
                    frame.pc,
                )
                tracker.add(FlowCancelled(flow_id=frame.flow, reason="flow_changed", timestamp=now))
        tracker.add(FlowStack(frames=tuple(frame.to_json() for frame in kept), timestamp=now))

    def _asking(self, tracker: Tracker) -> str | None:
        top = tracker.state.top
        if top is None or not top.waiting:
            return None
        step = self.flows[top.flow].instrs[top.pc].step
        return getattr(step, "collect", None)

    def _release_rules(self, tracker: Tracker, scope: Scope, now: float) -> None:
        for index in sorted(tracker.state.latched_rules):
            rule = self.pack.rules[index] if index < len(self.pack.rules) else None
            if rule is None or not self.conditions.holds(rule.when, scope):
                tracker.add(RuleReleased(rule=index, timestamp=now))

    def _maybe_start_session(self, tracker: Tracker, now: float) -> None:
        state = tracker.state
        settings = self.pack.settings.session
        last = state.last_event_time
        expired = (
            last is not None
            and settings.expire_after_minutes > 0
            and now - last > settings.expire_after_minutes * 60
        )
        if last is not None and not expired:
            return
        keep = {}
        if expired:
            names = list(self.pack.slots) if settings.carry_over == "all" else settings.carry_over
            keep = {n: state.slots.get(n) for n in names if state.slots.get(n) is not None}
        tracker.add(SessionStarted(timestamp=now))
        for name, value in keep.items():
            tracker.add(SlotSet(name=name, value=value, timestamp=now))


def _payload_entity(name: str, value: Any) -> EntityMatch:
    return EntityMatch(entity=name, value=value, start=0, end=0, text=str(value), extractor="payload")
