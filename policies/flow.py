"""The flow policy: an answer to the question being asked continues the active flow; an
understood intent that triggers a flow starts it."""

from __future__ import annotations

from engine.dialogue.policy import BasePolicy, Decision, Turn, register_policy


@register_policy("flow")
class FlowPolicy(BasePolicy):
    name = "flow"

    def decide(self, turn: Turn) -> Decision | None:
        top = turn.state.top
        if top is not None and turn.asking is not None:
            if turn.answers_question:
                return self.decision(
                    "answer", f"the message gives a value for '{turn.asking}'", slot=turn.asking
                )
            return self.decision(
                "answer", f"taken as an answer for '{turn.asking}' (no valid value in it)", slot=turn.asking
            )
        if turn.intent is None:
            return None
        flow = turn.assistant.triggered_flow(turn.intent, turn.confidence, turn.scope)
        if flow is None:
            return None
        return self.decision(
            "start_flow", f"intent '{turn.intent}' ({turn.confidence:.2f}) starts it", flow=flow
        )
