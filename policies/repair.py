"""The repair policy: what customers do besides answering the question.

In this order: asking for a person, cancel, restart, repeat, help (each when its intent in
`settings.repair` is not false), then corrections of a slot given earlier in the active flow,
clarification when the NLU is unsure between two intents, and digressions into another flow
(the interrupted flow resumes when that one ends).

An answer to the question being asked wins over clarification and digression: a message that
gives the order number the bot asked for is an answer, whatever else it looks like. While a
question is pending, restart, repeat, help, clarification and digression also need more
confidence than usual (`Assistant.interrupts`); cancel and asking for a person never do.
"""

from __future__ import annotations

from engine.dialogue.policy import BasePolicy, Decision, Turn, register_policy


@register_policy("repair")
class RepairPolicy(BasePolicy):
    name = "repair"

    def decide(self, turn: Turn) -> Decision | None:
        repair = turn.assistant.pack.settings.repair
        intent = turn.intent
        if intent is not None:
            if repair.human and intent == repair.human:
                queue = turn.assistant.default_queue()
                if queue is not None:
                    return self.decision(
                        "escalate",
                        f"intent '{intent}': the customer asks for a person",
                        queue=queue,
                        code="customer_request",
                    )
            if repair.cancel and intent == repair.cancel:
                return self.decision("cancel", f"intent '{intent}'")
            for kind, name in (("restart", repair.restart), ("repeat", repair.repeat), ("help", repair.help)):
                if name and intent == name and turn.assistant.interrupts(turn):
                    return self.decision(kind, f"intent '{intent}'")  # type: ignore[arg-type]
        if repair.correction:
            correction = self._correction(turn)
            if correction is not None:
                return correction
        if turn.answers_question or not turn.assistant.interrupts(turn):
            return None
        if repair.clarification and turn.ambiguous and intent is not None:
            options = turn.assistant.clarification_options(turn)
            if len(options) >= 2:
                return self.decision(
                    "clarify",
                    f"intents {options[0]!r} and {options[1]!r} are too close to tell apart",
                    options=tuple(options[:2]),
                )
        top = turn.state.top
        if repair.digression and top is not None and intent is not None:
            flow = turn.assistant.triggered_flow(intent, turn.confidence, turn.scope)
            if flow is not None and flow not in {frame.flow for frame in turn.state.stack}:
                return self.decision(
                    "digress", f"intent '{intent}' starts '{flow}' in the middle of '{top.flow}'", flow=flow
                )
        return None

    def _correction(self, turn: Turn) -> Decision | None:
        """A value, for a slot an active flow already collected, that differs from the slot's value."""
        state = turn.state
        if not state.stack:
            return None
        flows = turn.assistant.flows
        for name, candidate in turn.candidates.items():
            if name == turn.asking or candidate.source not in ("entity", "payload"):
                continue
            current = state.slots.get(name)
            if current is None or current == candidate.value:
                continue
            for frame in reversed(state.stack):
                if flows.collects_slot(frame.flow, name, frame.pc) is not None:
                    return self.decision(
                        "correct",
                        f"'{name}' was {current!r}; the message gives {candidate.value!r}",
                        slot=name,
                        flow=frame.flow,
                    )
        return None
