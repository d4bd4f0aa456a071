"""Templates and conditions: one sandboxed jinja2 environment, and what names they may use.

Conditions (flow guards, `if` steps, escalation rules, response conditions) are jinja2
expressions; response texts are jinja2 templates. Both run in a `SandboxedEnvironment`, so a
pack cannot reach Python internals, and both see the same names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

#: Top-level names visible to templates and conditions, with their meaning.
NAMES: dict[str, str] = {
    "slots": "the conversation's slots, e.g. slots.order_id",
    "intent": "the intent of the latest message",
    "confidence": "the confidence of that intent, 0..1",
    "entities": "entities of the latest message by name, e.g. entities.order_id",
    "text": "the latest message's text",
    "conversation": "counters about the conversation (see conversation.*)",
    "flow": "the name of the active flow, or none",
    "step": "the id of the active step, or none",
    "channel": "the channel the customer writes on, e.g. webchat",
    "context": "values a built-in behaviour passes to its response, e.g. context.options",
}

#: Attributes of `conversation`.
CONVERSATION_FIELDS: dict[str, str] = {
    "turns": "messages the customer has sent in this session",
    "fallbacks": "messages not understood in a row",
    "retries_exhausted": "true when a collect step ran out of retries this turn",
    "frustration": "estimated frustration of the customer, 0..1",
    "action_failures": "custom action failures in a row",
    "failed_action": "the name of the custom action that failed last, or none",
    "escalations": "how often the conversation was escalated",
    "sentiment": "sentiment of the latest message, -1..1",
}


def environment() -> SandboxedEnvironment:
    """A new sandboxed environment configured the way every pack expression runs."""
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=1)
def _shared() -> SandboxedEnvironment:
    return environment()


@dataclass(frozen=True)
class NameUse:
    """A name an expression reads: `slots.order_id` is NameUse('slots', 'order_id')."""

    name: str
    attribute: str | None


def compile_condition(source: str) -> Callable[..., Any]:
    """Compile a condition. Raises `jinja2.TemplateSyntaxError` when it does not compile."""
    return _shared().compile_expression(source, undefined_to_none=False)


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Compile a response template, once per process. Raises `TemplateSyntaxError`."""
    return _shared().from_string(source)


def condition_names(source: str) -> list[NameUse]:
    """The names a condition reads. Raises `TemplateSyntaxError` when it does not compile."""
    compile_condition(source)
    tree = _shared().parse("{{ (" + source + ") }}")
    return list(_name_uses(tree))


def template_names(source: str) -> list[NameUse]:
    """The names a template reads. Raises `TemplateSyntaxError` when it does not compile."""
    tree = _shared().parse(source)
    return list(_name_uses(tree))


def _name_uses(tree: nodes.Template) -> Iterator[NameUse]:
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    parents: dict[int, nodes.Node] = {}
    for node in tree.find_all(nodes.Node):
        for child in node.iter_child_nodes():
            parents[id(child)] = node
    for name in tree.find_all(nodes.Name):
        if name.ctx != "load" or name.name in assigned:
            continue
        parent = parents.get(id(name))
        attribute = None
        if isinstance(parent, nodes.Getattr) and parent.node is name:
            attribute = parent.attr
        elif (
            isinstance(parent, nodes.Getitem)
            and parent.node is name
            and isinstance(parent.arg, nodes.Const)
            and isinstance(parent.arg.value, str)
        ):
            attribute = parent.arg.value
        yield NameUse(name.name, attribute)


__all__ = [
    "CONVERSATION_FIELDS",
    "NAMES",
    "NameUse",
    "TemplateSyntaxError",
    "compile_condition",
    "compile_template",
    "condition_names",
    "environment",
    "template_names",
]
