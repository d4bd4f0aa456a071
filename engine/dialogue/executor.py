"""Carrying out decisions: slot filling, flow steps, repair, handoff.

The executor works on one tracker during one turn. It runs the top flow's instructions until
one needs the customer (a collect step asks its question), the flows end, or the conversation
is handed to a person. Every change becomes an event on the tracker.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.dialogue.actions import ActionResult
from engine.dialogue.events import (
    ActionExecuted,
    ActionFailed,
    AllSlotsReset,
    BotUttered,
    CollectExhausted,
    Event,
    FlowCancelled,
    FlowCompleted,
    FlowInterrupted,
    FlowResumed,
    FlowStack,
    FlowStarted,
    HandoffRequested,
    Restarted,
    SlotSet,
)
from engine.dialogue.handoff import context_packet, queue_is_open
from engine.dialogue.policy import Decision
from engine.dialogue.slots import Candidate, SlotValueError, coerce
from engine.dialogue.tracker import ACTION_LISTEN, Frame, Tracker
from engine.packs.rules import slot_value_problem
from engine.packs.schema import (
    ActionStep,
    CallStep,
    CollectStep,
    EscalateStep,
    IfStep,
    LinkStep,
    RespondStep,
    SetStep,
)

if TYPE_CHECKING:
    from engine.dialogue.runtime import Assistant

log = logging.getLogger(__name__)

#: Instructions one turn may run before the flow is stopped as a loop (a `goto` cycle without
#: a question in it).
MAX_STEPS_PER_TURN = 500
#: Followup actions one action step may chain (`followup` events) before it counts as a loop.
MAX_FOLLOWUPS = 10


@dataclass
class ActionAnswer:
    """An action's answer, read and checked, ready to apply."""

    events: list[Event] = field(default_factory=list)
    #: Messages the action sent, and names of pack responses it asked for, in order.
    said: list[BotUttered | str] = field(default_factory=list)
    followups: list[str] = field(default_factory=list)
    restart: bool = False


class Executor:
    def __init__(self, assistant: Assistant, tracker: Tracker, *, channel: str, now: float) -> None:
        self.assistant = assistant
        self.pack = assistant.pack
        self.flows = assistant.flows
        self.tracker = tracker
        self.channel = channel
        self.now = now
        self._saved = [frame.to_json() for frame in tracker.state.stack]
        #: Slots whose value in this message was not valid: their question is the reprompt.
        self.rejected: set[str] = set()

    # -- events ----------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        self.tracker.add(dataclasses.replace(event, timestamp=self.now))

    @property
    def stack(self) -> list[Frame]:
        return self.tracker.state.stack

    def save_stack(self) -> None:
        """Record the flow stack when the turn changed it (so a reload finds the same state)."""
        frames = [frame.to_json() for frame in self.stack]
        if frames != self._saved:
            self.emit(FlowStack(frames=tuple(frames)))
            self._saved = frames

    def say(
        self,
        response: str,
        context: Mapping[str, Any] | None = None,
        buttons: list[dict[str, str]] | None = None,
    ) -> None:
        if response not in self.pack.responses:
            log.error("response %r is not defined in pack %r", response, self.pack.name)
            return
        scope = self.assistant.scope(self.tracker, self.channel, context)
        message = self.assistant.renderer.render(
            response, scope, times_said=self.tracker.state.said[response], extra_buttons=buttons or ()
        )
        if message is not None:
            self.emit(message)

    # -- decisions ---------------------------------------------------------------------------
    def carry_out(self, decision: Decision, found: Mapping[str, Candidate], pending: str | None) -> None:
        """`pending`: the slot a question was waiting for when the message came (`Turn.asking`)."""
        kind = decision.kind
        asking = decision.slot if kind == "answer" else None
        corrected = decision.slot if kind == "correct" else None
        # A value read from the intent or the whole text exists only because a question is
        # pending: it answers that question, so other decisions do not store it ("help" is not
        # a delivery address; "no, I meant B54321" asks again whether to cancel the new order).
        # A correction may come with a free-text answer ("black screen, ..." names a device).
        answer_only = {
            name
            for name, c in found.items()
            if name == pending and (c.source == "intent" or (c.source == "text" and kind != "correct"))
        }
        self._fill_any_time(found, skip={asking, corrected, *answer_only})
        if kind == "escalate":
            assert decision.queue is not None
            self.handoff(decision.queue, decision.code or "escalation", decision.priority, decision.rule)
        elif kind == "start_flow":
            assert decision.flow is not None
            self.start(decision.flow)
            self.run()
        elif kind == "digress":
            assert decision.flow is not None
            self.interrupt_top()
            self.start(decision.flow)
            self.run()
        elif kind == "answer":
            self.answer(found.get(decision.slot or ""))
        elif kind == "correct":
            assert decision.slot is not None
            self.correct(decision.slot, found[decision.slot])
        elif kind == "cancel":
            self.cancel("cancel")
            self.say("flow_cancelled")
            self.run()
        elif kind == "restart":
            self.restart()
            self.say("restarted")
        elif kind == "repeat":
            said = self.tracker.state.bot_last_turn
            for message in said:
                self.emit(dataclasses.replace(message, metadata={**message.metadata, "repeated": True}))
            if not said:
                self.reask()
        elif kind == "help":
            self.say("help")
            self.reask()
        elif kind == "clarify":
            options = [
                {"title": self.assistant.option_title(intent), "payload": f"/{intent}", "intent": intent}
                for intent in decision.options
            ]
            buttons = [{"title": o["title"], "payload": o["payload"]} for o in options]
            self.say("clarify", {"options": options}, buttons)
        elif kind == "rephrase":
            self.say("ask_rephrase")
            self.reask()

    def _fill_any_time(self, found: Mapping[str, Candidate], skip: set[str | None]) -> None:
        """Values a message offers for slots nobody asked about (entity rules that fill at any time)."""
        for name, candidate in found.items():
            if name in skip or self.tracker.state.slots.get(name) == candidate.value:
                continue
            problem = self.fill(name, candidate.value)
            if problem is not None:
                self.rejected.add(name)
                log.info("slot %r not filled from the message: %s", name, problem)

    # -- slots -------------------------------------------------------------------------------
    def fill(self, name: str, value: Any) -> str | None:
        """Check `value` for slot `name` and set it; returns why it is not valid, or None.

        A validation action may normalize the value, reject it (status 400, or setting the slot
        to null) and set other slots it declares (a looked-up asset model, say).
        """
        slot = self.pack.slots[name]
        try:
            value = coerce(slot, value)
        except SlotValueError as error:
            return str(error)
        problem = slot_value_problem(slot, value)
        if problem is not None:
            return problem
        action = slot.validation.action if slot.validation else None
        if action is None:
            self.emit(SlotSet(name=name, value=value))
            return None
        probe = self.tracker.with_slot(name, value, timestamp=self.now)
        result = self.assistant.actions.run(action, probe)
        if result.failure == "rejected":
            self.emit(ActionExecuted(name=action, policy="validation"))
            return f"rejected by {action}"
        answer = self._read_result(action, result) if result.ok else result
        if isinstance(answer, ActionResult):
            # The value cannot be checked now: keep it (the next lookup reports a real miss) and
            # tell the customer the check is unavailable.
            self._failed(action, answer)
            self._say_failure(action)
            self.emit(SlotSet(name=name, value=value))
            return None
        own = [e for e in answer.events if isinstance(e, SlotSet) and e.name == name]
        if own and own[-1].value is None:
            self.emit(ActionExecuted(name=action, policy="validation"))
            return f"rejected by {action}"
        if own:
            value = own[-1].value  # the action's normalized value
        if answer.followups:
            log.warning(
                "validation action %r asked for followups %s; they are not run", action, answer.followups
            )
        others = [e for e in answer.events if not (isinstance(e, SlotSet) and e.name == name)]
        self._apply(
            action,
            dataclasses.replace(answer, events=[SlotSet(name=name, value=value), *others]),
            policy="validation",
        )
        return None

    def answer(self, candidate: Candidate | None) -> None:
        frame = self.stack[-1]
        instr = self.flows[frame.flow].instrs[frame.pc]
        step = instr.step
        assert isinstance(step, CollectStep)
        problem = "no value in the message"
        if candidate is not None:
            problem_or_none = self.fill(step.collect, candidate.value)
            if problem_or_none is None:
                frame.waiting, frame.retries = False, 0
                frame.pc += 1
                self.run()
                return
            problem = problem_or_none
        log.debug("invalid answer for %r: %s", step.collect, problem)
        frame.retries += 1
        limit = step.max_retries if step.max_retries is not None else self.pack.settings.collect.max_retries
        if frame.retries <= limit:
            self.say(step.reprompt or step.ask or f"ask_{step.collect}")
            return
        self.emit(CollectExhausted(flow_id=frame.flow, slot=step.collect))
        frame.waiting, frame.retries = False, 0
        if instr.target is not None:
            frame.pc = instr.target
        else:
            self.cancel("retries_exhausted")
        self.run()

    def correct(self, name: str, candidate: Candidate) -> None:
        problem = self.fill(name, candidate.value)
        if problem is not None:
            log.info("correction of %r not applied: %s", name, problem)
            self.reask()
            return
        # Rewind the innermost flow that collected the slot to where it did, dropping the
        # flows it called since; its later steps run again with the new value.
        while self.stack:
            frame = self.stack[-1]
            pc = self.flows.collects_slot(frame.flow, name, frame.pc)
            if pc is not None:
                frame.pc, frame.waiting, frame.retries = pc, False, 0
                break
            self._end_top(cancelled="correction")
        self.run()

    # -- flows -----------------------------------------------------------------------------
    def start(self, flow: str, *, called: bool = False) -> None:
        self.stack.append(Frame(flow, called=called))
        self.emit(FlowStarted(flow_id=flow))

    def interrupt_top(self) -> None:
        frame = self.stack[-1]
        frame.interrupted, frame.waiting = True, False
        self.emit(FlowInterrupted(flow_id=frame.flow, step_id=self._label(frame)))

    def reask(self) -> None:
        """Ask the pending question again (after help, a fallback, or a refused correction)."""
        top = self.stack[-1] if self.stack else None
        if top is not None and top.waiting:
            top.waiting = False
            self.run()

    def resume_after_handoff(self) -> None:
        """Go on with the flow a handoff interrupted, where it stopped. A handoff from a collect
        step's `on_exhausted` block goes back to that question, with its retries afresh: the
        flow needs the answer it could not get (the person may have helped the customer give
        it), and the steps after it must not run without it."""
        top = self.stack[-1]
        label = self._label(top)
        if label is not None and ".on_exhausted." in label:
            owner = label.rsplit(".on_exhausted.", 1)[0]
            program = self.flows[top.flow]
            step = next((i for i, instr in enumerate(program.instrs) if instr.label == owner), None)
            if step is not None:
                top.pc, top.retries = step, 0
                label = owner
        self.emit(FlowResumed(flow_id=top.flow, step_id=label))
        top.interrupted, top.waiting = False, False
        self.run()

    def restart(self) -> None:
        for frame in reversed(self.stack):
            self.emit(FlowCancelled(flow_id=frame.flow, step_id=self._label(frame), reason="restart"))
        self.emit(Restarted())

    def cancel_all(self, reason: str) -> None:
        while self.stack:
            self._end_top(cancelled=reason)

    def cancel(self, reason: str) -> None:
        """Cancel the top flow and the flows that called it; an interrupted flow below resumes
        at the next `run`."""
        while self.stack and self._end_top(cancelled=reason).called:
            pass

    def finish(self) -> None:
        """The top flow completed: return to its caller, or resume an interrupted flow."""
        frame = self._end_top()
        if frame.called and self.stack:
            self.stack[-1].pc += 1

    def _end_top(self, *, cancelled: str | None = None, step_id: str | None = None) -> Frame:
        """Take the top flow off the stack, say how it ended (completed, or cancelled for a
        reason), and clear its `reset_slots`."""
        frame = self.stack.pop()
        step = step_id or self._label(frame)
        if cancelled is None:
            self.emit(FlowCompleted(flow_id=frame.flow, step_id=step))
        else:
            self.emit(FlowCancelled(flow_id=frame.flow, step_id=step, reason=cancelled))
        self._reset_slots(frame.flow)
        return frame

    def _resume_if_interrupted(self) -> None:
        below = self.stack[-1]
        if below.interrupted:
            below.interrupted = False
            self.emit(FlowResumed(flow_id=below.flow, step_id=self._label(below)))
            self.say(
                "flow_resumed",
                {"flow_description": self.pack.flows[below.flow].description, "flow": below.flow},
            )

    def _reset_slots(self, flow: str) -> None:
        for name in self.pack.flows[flow].reset_slots:
            if self.tracker.state.slots.get(name) is not None:
                self.emit(SlotSet(name=name, value=self.assistant.initial_slots.get(name)))

    def run(self) -> None:
        """Run the top flow until it waits for the customer, the flows end, or a handoff."""
        budget = MAX_STEPS_PER_TURN
        while self.stack and not self.tracker.state.paused:
            frame = self.stack[-1]
            if frame.interrupted:
                self._resume_if_interrupted()
                continue
            if frame.waiting:
                return
            budget -= 1
            if budget < 0:
                log.error(
                    "flow %r ran %d steps without asking anything: stopped (a goto loop?)",
                    frame.flow,
                    MAX_STEPS_PER_TURN,
                )
                self.cancel("loop")
                return
            program = self.flows[frame.flow]
            instr = program.instrs[frame.pc]
            step = instr.step
            if instr.op == "end":
                self.finish()
            elif instr.op == "collect":
                assert isinstance(step, CollectStep)
                if self.tracker.state.slots.get(step.collect) is not None and not step.ask_always:
                    frame.pc += 1
                else:
                    # A value the customer just gave was not valid: say so rather than ask as
                    # if they had given none.
                    rejected = step.collect in self.rejected and step.reprompt
                    self.say((step.reprompt if rejected else step.ask) or f"ask_{step.collect}")
                    frame.waiting, frame.retries = True, 0
                    return
            elif instr.op == "action":
                assert isinstance(step, ActionStep)
                self.run_action(frame, step, instr.target)
            elif instr.op == "respond":
                assert isinstance(step, RespondStep)
                self.say(step.respond)
                frame.pc += 1
            elif instr.op == "set":
                assert isinstance(step, SetStep)
                for name, value in step.set.items():
                    self.emit(SlotSet(name=name, value=value))
                frame.pc += 1
            elif instr.op == "branch":
                assert isinstance(step, IfStep) and instr.target is not None
                scope = self.assistant.scope(self.tracker, self.channel)
                holds = self.assistant.conditions.holds(step.if_, scope)
                frame.pc = frame.pc + 1 if holds else instr.target
            elif instr.op == "jump":
                assert instr.target is not None
                frame.pc = instr.target
            elif instr.op == "link":
                assert isinstance(step, LinkStep)
                self._end_top(step_id=instr.label)
                self.stack.append(Frame(step.link, called=frame.called))
                self.emit(FlowStarted(flow_id=step.link))
            elif instr.op == "call":
                assert isinstance(step, CallStep)
                self.start(step.call, called=True)
            elif instr.op == "escalate":
                assert isinstance(step, EscalateStep)
                frame.pc += 1
                self.handoff(step.escalate, step.reason, step.priority, None, label=instr.label)
                return

    def run_action(self, frame: Frame, step: ActionStep, on_failure: int | None) -> None:
        """Run the step's action, then any `followup` actions it asks for; a failure of any of
        them takes the step's failure path."""
        pending, ran = [step.action], 0
        while pending:
            action = pending.pop(0)
            ran += 1
            if ran > MAX_FOLLOWUPS + 1:
                failed = ActionResult(
                    failure="malformed", message=f"more than {MAX_FOLLOWUPS} followups in a row"
                )
            else:
                result = self.assistant.actions.run(action, self.tracker)
                answer = self._read_result(action, result) if result.ok else result
                if isinstance(answer, ActionAnswer):
                    self._apply(action, answer, policy="flow")
                    pending.extend(answer.followups)
                    continue
                failed = answer
            self._failed(action, failed)
            if on_failure is not None:
                frame.pc = on_failure
                return
            self._say_failure(step.action)
            self.cancel("action_failed")
            return
        if frame in self.stack:  # an action may have restarted the conversation
            frame.pc += 1

    def _failed(self, action: str, result: ActionResult) -> None:
        log.warning("action %r failed: %s %s", action, result.failure, result.message)
        self.emit(ActionFailed(name=action, failure=result.failure or "error", message=result.message))

    def _say_failure(self, action: str) -> None:
        declared = self.pack.actions.get(action)
        if declared is not None and declared.failure_response:
            self.say(declared.failure_response)

    def _read_result(self, action: str, result: ActionResult) -> ActionAnswer | ActionResult:
        """What an action answered, checked against the pack; a `malformed` failure naming the
        problem when any of it cannot be applied (an unknown slot or response, a value that does
        not fit its slot, an event Parley does not apply): answers are applied all or nothing."""

        def malformed(problem: str) -> ActionResult:
            return ActionResult(failure="malformed", message=f"action '{action}' {problem}")

        answer = ActionAnswer()
        for raw in result.events:
            kind = raw.get("event")
            if kind == "slot":
                name = raw.get("name")
                if not isinstance(name, str) or name not in self.pack.slots:
                    return malformed(f"set slot {name!r}, which the pack does not define")
                try:
                    value = coerce(self.pack.slots[name], raw.get("value"))
                except SlotValueError as error:
                    return malformed(f"set slot '{name}' to a value that does not fit: {error}")
                answer.events.append(SlotSet(name=name, value=value))
            elif kind == "reset_slots":
                answer.events.append(AllSlotsReset())
            elif kind == "followup":
                name = raw.get("name")
                if name == ACTION_LISTEN:
                    continue
                if not isinstance(name, str) or name not in self.pack.actions:
                    return malformed(f"asked to follow up with {name!r}, which the pack does not declare")
                answer.followups.append(name)
            elif kind == "restart":
                answer.restart = True
            elif kind == "bot":
                data = raw.get("data")
                shown = dict(data) if isinstance(data, Mapping) else {}
                answer.events.append(
                    BotUttered(text=raw.get("text"), data=shown, metadata={"action": action})
                )
            elif kind == "action":
                continue  # the server's own bookkeeping
            else:
                return malformed(f"returned event {kind!r}, which Parley does not apply")
        for response in result.responses:
            name = response.get("response") or response.get("template")
            if name:
                if name not in self.pack.responses:
                    return malformed(f"asked for response {name!r}, which the pack does not define")
                answer.said.append(str(name))
                continue
            data = {
                k: response[k] for k in ("buttons", "image", "custom", "quick_replies") if response.get(k)
            }
            answer.said.append(BotUttered(text=response.get("text"), data=data, metadata={"action": action}))
        return answer

    def _apply(self, action: str, answer: ActionAnswer, *, policy: str) -> None:
        self.emit(ActionExecuted(name=action, policy=policy))
        for event in answer.events:
            self.emit(event)
        for item in answer.said:
            if isinstance(item, str):
                self.say(item)
            else:
                self.emit(item)
        if answer.restart:
            self.restart()

    # -- handoff ---------------------------------------------------------------------------
    def handoff(
        self, queue: str, reason: str, priority: str, rule: int | None, *, label: str | None = None
    ) -> None:
        """Hand over to `queue`. `label`: the escalate step that does it (by default the step the
        top flow is at; an escalate step has already moved the flow past itself)."""
        top = self.stack[-1] if self.stack else None
        step = label
        if top is not None and step is None:
            instr = self.flows[top.flow].instrs[min(top.pc, len(self.flows[top.flow]) - 1)]
            step = instr.label
        packet = context_packet(
            self.pack, self.tracker, reason=reason, flow=top.flow if top else None, step=step
        )
        if top is not None:
            top.waiting = False
            self.emit(FlowInterrupted(flow_id=top.flow, step_id=step))
        self.save_stack()
        self.emit(HandoffRequested(queue=queue, reason=reason, priority=priority, rule=rule, context=packet))
        self.say("handoff_requested", {"queue": queue, "reason": reason})
        definition = self.pack.queues.get(queue)
        if (
            definition is not None
            and definition.closed_message
            and not queue_is_open(definition, datetime.fromtimestamp(self.now, UTC))
        ):
            self.say(definition.closed_message, {"queue": queue})

    def _label(self, frame: Frame) -> str | None:
        program = self.flows[frame.flow]
        return program.instrs[min(frame.pc, len(program) - 1)].label
