"""The escalation policy: the pack's escalation rules, checked in order every turn.

Rules are checked twice per turn: before anything else (a customer asking for a person, too
many messages not understood, frustration) and again after the flows ran (slot values that an
action just set, action failures, exhausted retries). The first rule that matches wins. A rule
that fired does not fire again while its condition keeps holding; the runtime releases it once
the condition stops holding.
"""

from __future__ import annotations

from engine.dialogue.policy import BasePolicy, Decision, Turn, register_policy


@register_policy("escalation")
class EscalationPolicy(BasePolicy):
    name = "escalation"

    def decide(self, turn: Turn) -> Decision | None:
        return self._first_rule(turn, "matched before the flows ran")

    def after_steps(self, turn: Turn) -> Decision | None:
        return self._first_rule(turn, "matched after the flows ran")

    def _first_rule(self, turn: Turn, when: str) -> Decision | None:
        assistant = turn.assistant
        for index, rule in enumerate(assistant.pack.rules):
            if index in turn.state.latched_rules:
                continue
            if assistant.conditions.holds(rule.when, turn.scope):
                return self.decision(
                    "escalate",
                    f"escalation rule {index + 1} ({rule.when}) {when}",
                    queue=rule.to,
                    code=rule.reason,
                    priority=rule.priority,
                    rule=index,
                )
        return None
