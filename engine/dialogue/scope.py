"""What conditions and templates see, and how conditions are evaluated.

The names are those documented in the pack language (`slots`, `intent`, `confidence`,
`entities`, `text`, `conversation`, `flow`, `step`, `channel`, `context`). Values are plain data
(dicts, strings, numbers): jinja2 reads `slots.order_id` from a dict, and a sandboxed
environment never evaluates a value as a template, so a customer who types `{{ 7*7 }}` sees
exactly that text back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from engine.dialogue.flows import FlowBook
from engine.dialogue.tracker import DialogueState
from engine.packs.expressions import compile_condition

log = logging.getLogger(__name__)

Scope = dict[str, Any]


def build_scope(
    state: DialogueState,
    *,
    entity_names: tuple[str, ...],
    flows: FlowBook,
    channel: str,
    context: Mapping[str, Any] | None = None,
) -> Scope:
    latest = state.latest
    parse = latest.parse_data if latest else {}
    intent = parse.get("intent") or {}
    entities: dict[str, Any] = dict.fromkeys(entity_names)
    for entity in parse.get("entities", ()):
        name = entity.get("entity")
        if name in entities and entities[name] is None:
            entities[name] = entity.get("value")
    top = state.top
    step = None
    if top is not None and top.flow in flows.programs:
        program = flows[top.flow]
        if top.pc < len(program):
            step = program.instrs[top.pc].step_id
    return {
        "slots": dict(state.slots),
        "intent": intent.get("name"),
        "confidence": float(intent.get("confidence") or 0.0),
        "entities": entities,
        "text": latest.text if latest else "",
        "conversation": {
            "turns": state.turns,
            "fallbacks": state.fallbacks,
            "retries_exhausted": state.retries_exhausted,
            "frustration": state.frustration,
            "action_failures": state.action_failures,
            "failed_action": state.failed_action,
            "escalations": state.escalations,
            "sentiment": state.sentiment,
        },
        "flow": top.flow if top else None,
        "step": step,
        "channel": channel,
        "context": dict(context or {}),
    }


@lru_cache(maxsize=4096)
def _compiled(source: str) -> Callable[..., Any]:
    return compile_condition(source)


class Conditions:
    """Compiles each condition once (per process) and evaluates it against a scope.

    A condition that fails at run time (comparing a missing value with a number, say) counts as
    false and is logged with its text, so one bad condition cannot break a conversation.
    """

    def holds(self, source: str, scope: Scope) -> bool:
        compiled = _compiled(source)
        try:
            return bool(compiled(**scope))
        except Exception as error:  # a pack condition must never crash a turn
            log.warning(
                "condition %r could not be evaluated (%s: %s); taken as false",
                source,
                type(error).__name__,
                error,
            )
            return False
