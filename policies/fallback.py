"""The fallback ladder: a message not understood gets "could you rephrase that?" (or at once "did
you mean ...?" when its best intent only just missed the threshold); the next one in a row gets
"did you mean A or B?" when the NLU has plausible candidates; once more messages in a
row were not understood than `settings.fallback.max_retries` allows, the conversation goes to a
person (the pack's default queue). An escalation rule on `conversation.fallbacks` that matches
first takes precedence, as the escalation policy runs before this one.

This policy always decides: it is the last resort of the policy chain.
"""

from __future__ import annotations

from engine.dialogue.policy import BasePolicy, Decision, Turn, register_policy

#: Smallest confidence of an intent offered in a clarification after a fallback.
PLAUSIBLE = 0.15
#: A best intent at least this confident, but under the threshold, is offered at once ("did
#: you mean ...?") rather than asking the customer to rephrase.
CLOSE_CALL = 0.4


@register_policy("fallback")
class FallbackPolicy(BasePolicy):
    name = "fallback"

    def decide(self, turn: Turn) -> Decision | None:
        pack = turn.assistant.pack
        # A message with no intent was counted before the policies ran. An understood intent
        # that nothing acts on arrives uncounted: the runtime then counts it and asks again.
        fallbacks = turn.state.fallbacks + (0 if turn.fallback_counted else 1)
        why = turn.parse.get("reason") or "no flow for this intent"
        if fallbacks > pack.settings.fallback.max_retries:
            queue = turn.assistant.default_queue()
            if queue is not None:
                return self.decision(
                    "escalate",
                    f"{fallbacks} messages in a row not understood "
                    f"(max_retries {pack.settings.fallback.max_retries})",
                    queue=queue,
                    code="repeated_fallback",
                )
        if pack.settings.repair.clarification:
            options = turn.assistant.clarification_options(turn, minimum=PLAUSIBLE)
            ranking = turn.parse.get("intent_ranking") or [{"confidence": 0.0}]
            close_call = why == "below_threshold" and ranking[0]["confidence"] >= CLOSE_CALL and options
            if close_call or (fallbacks >= 2 and len(options) >= 2):
                return self.decision(
                    "clarify",
                    f"not understood ({why}), but {', '.join(options)} plausible",
                    options=tuple(options),
                )
        return self.decision("rephrase", f"not understood ({why})")
