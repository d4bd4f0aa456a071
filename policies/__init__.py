"""Dialogue policies. Each decides, for a customer message, what the assistant does next.

Built-in policies, in their default order (`policies:` in config.yml changes it):

- `escalation` (escalation.py): the pack's escalation rules, every turn;
- `repair` (repair.py): talk to a human, cancel, restart, repeat, help, corrections,
  clarification of ambiguous messages, digressions into another flow;
- `flow` (flow.py): answers to the question being asked, and starting flows;
- `fallback` (fallback.py): the fallback ladder for messages not understood.

A new policy subclasses `engine.dialogue.policy.BasePolicy`, is decorated with
`@register_policy("name")`, and is imported here.
"""

from policies import escalation, fallback, flow, repair

__all__ = ["escalation", "fallback", "flow", "repair"]
