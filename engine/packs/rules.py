"""Pass 2 of validation: references between parts of a pack, and the invariants a pack keeps.

Each rule is one function taking the merged pack and yielding diagnostics; `RULES` lists them in
the order they run. Items that failed the schema pass are known by name (`Check.broken`), so a
reference to them is not reported a second time. How responses show on the messengers a pack is
served on is checked in `engine.packs.channel_rules`, whose rules register here too.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import TemplateSyntaxError

from engine.packs import errors
from engine.packs.errors import Diagnostic, Problem, did_you_mean
from engine.packs.expressions import (
    CONVERSATION_FIELDS,
    NAMES,
    NameUse,
    condition_names,
    environment,
    template_names,
)
from engine.packs.pack import Pack
from engine.packs.schema import (
    WEEKDAYS,
    ActionStep,
    AnyStep,
    CallStep,
    CollectStep,
    EndStep,
    EscalateStep,
    FillFromEntity,
    FillFromIntent,
    Flow,
    GotoStep,
    IfStep,
    LinkStep,
    RespondStep,
    SetStep,
    Slot,
)
from engine.packs.source import Location

__all__ = [
    "RULES",
    "SYSTEM_RESPONSES",
    "Check",
    "SystemResponse",
    "run_rules",
    "slot_value_problem",
    "walk_steps",
]

_ALLOWED_GLOBALS = frozenset(environment().globals) | {"loop", "self", "varargs", "kwargs"}


@dataclass(frozen=True)
class Check:
    """What a rule sees: the pack, and the items known to exist but broken."""

    pack: Pack
    broken: frozenset[tuple[str, str]]

    @property
    def incomplete(self) -> bool:
        """True when a file of the pack could not be read: what it defines is unknown."""
        return any(section == "file" for section, _ in self.broken)

    def exists(self, section: str, name: str) -> bool:
        mapping = getattr(self.pack, section)
        return name in mapping or (section, name) in self.broken or self.incomplete

    def known(self, section: str) -> list[str]:
        return list(getattr(self.pack, section)) + [n for s, n in self.broken if s == section]


Rule = Callable[[Check], Iterable[Diagnostic]]
RULES: list[Rule] = []
#: Rules that judge the pack as a whole (is X used anywhere?): they would give false alarms
#: while some items are broken and left out, so they run only when nothing is.
WHOLE_PACK_RULES: set[Rule] = set()


def rule(function: Rule) -> Rule:
    RULES.append(function)
    return function


def whole_pack_rule(function: Rule) -> Rule:
    WHOLE_PACK_RULES.add(function)
    return rule(function)


def run_rules(pack: Pack, broken: frozenset[tuple[str, str]] = frozenset()) -> list[Diagnostic]:
    """Run every rule on the pack; returns all diagnostics."""
    check = Check(pack, broken)
    found: list[Diagnostic] = []
    for each in RULES:
        if broken and each in WHOLE_PACK_RULES:
            continue
        found.extend(each(check))
    return found


def _ref(
    check: Check, section: str, name: str, problem: Problem, location: Location | None, where: str
) -> Iterator[Diagnostic]:
    if not check.exists(section, name):
        yield problem(location, where=where, name=name, hint=did_you_mean(name, check.known(section)))


@dataclass(frozen=True)
class SystemResponse:
    """A response a built-in behaviour says, and the switch that turns the behaviour off."""

    feature: str
    needed: Callable[[Pack], bool]
    switch_off: str


#: Responses that built-in behaviours say, by name.
SYSTEM_RESPONSES: dict[str, SystemResponse] = {
    "ask_rephrase": SystemResponse("the fallback ladder", lambda p: True, ""),
    "clarify": SystemResponse(
        "clarification", lambda p: p.settings.repair.clarification, "settings.repair.clarification: false"
    ),
    "flow_cancelled": SystemResponse(
        "cancelling", lambda p: p.settings.repair.cancel is not False, "settings.repair.cancel: false"
    ),
    "help": SystemResponse(
        "help", lambda p: p.settings.repair.help is not False, "settings.repair.help: false"
    ),
    "restarted": SystemResponse(
        "restarting", lambda p: p.settings.repair.restart is not False, "settings.repair.restart: false"
    ),
    "handoff_requested": SystemResponse(
        "human handoff",
        lambda p: bool(p.queues) or p.settings.repair.human is not False,
        "settings.repair.human: false and define no escalation queues",
    ),
    "flow_resumed": SystemResponse(
        "digression", lambda p: p.settings.repair.digression, "settings.repair.digression: false"
    ),
}


#: Responses the handoff desk says (engine/handoff/desk.py); a pack without them gets short
#: built-in texts, so they are never missing, and a pack that defines them uses them.
DESK_RESPONSES = frozenset(
    {
        "handoff_queue_position",
        "handoff_waiting",
        "handoff_agent_joined",
        "handoff_transferred",
        "handoff_returned",
        "handoff_closed",
        "handoff_expired",
    }
)


# -- intents and training data ---------------------------------------------------------------
def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


@rule
def intents_have_enough_examples(check: Check) -> Iterator[Diagnostic]:
    minimum = check.pack.settings.nlu.min_examples
    for name, intent in check.pack.intents.items():
        if not intent.examples:
            yield errors.INTENT_NO_EXAMPLES(intent.at("examples", key=True), intent=name)
        elif len(intent.examples) < minimum and check.pack.defined_here("intents", name):
            yield errors.FEW_EXAMPLES(
                intent.at("examples", key=True), intent=name, count=len(intent.examples), minimum=minimum
            )


@rule
def examples_belong_to_one_intent(check: Check) -> Iterator[Diagnostic]:
    # Locations are looked up only for examples that are reported: packs have thousands.
    seen: dict[str, tuple[str, int]] = {}
    intents = check.pack.intents
    for name, intent in intents.items():
        in_intent: set[str] = set()
        for index, example in enumerate(intent.examples):
            key = _normalize(example.text)
            if key in in_intent:
                yield errors.REPEATED_EXAMPLE(intent.at("examples", index), example=example.text, intent=name)
                continue
            in_intent.add(key)
            if key in seen and seen[key][0] != name:
                other, other_index = seen[key]
                yield errors.SHARED_EXAMPLE(
                    intent.at("examples", index),
                    example=example.text,
                    intent=name,
                    other=other,
                    where=str(intents[other].at("examples", other_index)),
                )
            else:
                seen.setdefault(key, (name, index))
    out_of_scope: set[str] = set()
    own_files = check.pack.files
    # Imported blocks first, so a repeat is reported in the pack that repeats.
    for block in sorted(check.pack.out_of_scope, key=lambda b: b.source in own_files):
        for index, text in enumerate(block.examples):
            key = _normalize(text)
            if key in out_of_scope:
                if block.source in own_files:
                    yield errors.REPEATED_EXAMPLE(
                        block.at("examples", index), example=text, intent="out_of_scope"
                    )
                continue
            out_of_scope.add(key)
            if key in seen:
                other, other_index = seen[key]
                yield errors.SHARED_EXAMPLE(
                    block.at("examples", index),
                    example=text,
                    intent="out_of_scope",
                    other=other,
                    where=str(intents[other].at("examples", other_index)),
                )


@rule
def annotations_name_known_entities(check: Check) -> Iterator[Diagnostic]:
    pack = check.pack
    for name, intent in pack.intents.items():
        for index, example in enumerate(intent.examples):
            if not example.entities:
                continue
            location = intent.at("examples", index)
            for span in example.entities:
                where = f"example of intent '{name}'"
                if not check.exists("entities", span.entity):
                    yield from _ref(check, "entities", span.entity, errors.UNKNOWN_ENTITY, location, where)
                    continue
                yield from _role(check, span.entity, span.role, location, where)


def _role(
    check: Check, entity_name: str, role: str | None, location: Location | None, where: str
) -> Iterator[Diagnostic]:
    entity = check.pack.entities.get(entity_name)
    if role is not None and entity is not None and role not in entity.roles:
        yield errors.UNKNOWN_ROLE(location, where=where, role=role, entity=entity_name, roles=entity.roles)


@rule
def annotations_are_what_entities_find(check: Check) -> Iterator[Diagnostic]:
    """An annotated value that the entity's own regex or lookup list would not find teaches the
    model one thing and the extractor another."""
    pack = check.pack
    for name, intent in pack.intents.items():
        if not pack.defined_here("intents", name):
            continue
        for index, example in enumerate(intent.examples):
            for span in example.entities:
                entity = pack.entities.get(span.entity)
                if entity is None:
                    continue
                surface = example.text[span.start : span.end]
                reason = _extraction_problem(
                    pack, span.entity, example.text, span.start, span.end, span.value
                )
                if reason:
                    yield errors.ANNOTATION_NOT_EXTRACTED(
                        intent.at("examples", index),
                        intent=name,
                        value=surface,
                        entity=span.entity,
                        reason=reason,
                        extend="regex" if entity.kind == "regex" else "lookup values or synonyms",
                    )


def _extraction_problem(pack: Pack, name: str, text: str, start: int, end: int, value: str) -> str | None:
    entity = pack.entities[name]
    surface = text[start:end]
    if entity.kind == "regex":
        # Run over the whole example, as extraction will: patterns may look at the context.
        spans = {m.span() for pattern in entity.patterns for m in re.finditer(pattern, text)}
        if (start, end) not in spans:
            return "its regex does not find exactly that text in the example"
    elif entity.kind == "lookup" and name in pack.lookups:
        known = {_normalize(v) for v in pack.lookups[name]}
        for canonical, variants in entity.synonyms.items():
            known.add(_normalize(canonical))
            known.update(_normalize(v) for v in variants)
        if _normalize(surface) not in known and _normalize(value) not in known:
            return "it is neither a lookup value nor a synonym"
    return None


@whole_pack_rule
def learned_entities_are_annotated(check: Check) -> Iterator[Diagnostic]:
    annotated = {
        span.entity
        for intent in check.pack.intents.values()
        for ex in intent.examples
        for span in ex.entities
    }
    for name, entity in check.pack.entities.items():
        if entity.kind == "learned" and name not in annotated:
            yield errors.ENTITY_NEVER_EXTRACTED(check.pack.location("entities", name), name=name)


# -- slots -----------------------------------------------------------------------------------
_TEXT_LIKE = {"text", "email", "phone", "any", "categorical"}
_NUMERIC = {"integer", "float", "money"}


@rule
def slot_options_fit_types(check: Check) -> Iterator[Diagnostic]:
    for name, slot in check.pack.slots.items():
        here = slot.at(key=False)
        if slot.type == "categorical" and not slot.values:
            yield errors.SLOT_OPTION_FOR_TYPE(
                slot.at("type"),
                slot=name,
                type=slot.type,
                problem="categorical slots need 'values'",
                fix="list the allowed values under 'values:'",
            )
        if slot.type != "categorical" and slot.values is not None:
            yield errors.SLOT_OPTION_FOR_TYPE(
                slot.at("values", key=True),
                slot=name,
                type=slot.type,
                problem="'values' only applies to categorical slots",
                fix="use 'type: categorical', or 'validation: {choices: [...]}' to restrict values",
            )
        validation = slot.validation
        if validation is not None:
            if (validation.min is not None or validation.max is not None) and slot.type not in _NUMERIC:
                yield errors.SLOT_OPTION_FOR_TYPE(
                    validation.at(key=True) or here,
                    slot=name,
                    type=slot.type,
                    problem="'min'/'max' only apply to integer, float and money slots",
                    fix="remove them, or change the slot's type",
                )
            if validation.pattern is not None and slot.type not in _TEXT_LIKE:
                yield errors.SLOT_OPTION_FOR_TYPE(
                    validation.at("pattern", key=True),
                    slot=name,
                    type=slot.type,
                    problem="'pattern' only applies to text-like slots",
                    fix="remove it, or use min/max for numbers",
                )
            if validation.action is not None:
                yield from _ref(
                    check,
                    "actions",
                    validation.action,
                    errors.UNKNOWN_ACTION,
                    validation.at("action"),
                    f"slot '{name}' validation",
                )
        if slot.has_initial and slot.initial is not None:
            reason = slot_value_problem(slot, slot.initial)
            if reason:
                yield errors.SLOT_VALUE_TYPE(
                    slot.at("initial"),
                    where=f"slot '{name}' initial",
                    value=slot.initial,
                    slot=name,
                    type=slot.type,
                    reason=reason,
                )


@rule
def slot_fill_rules_resolve(check: Check) -> Iterator[Diagnostic]:
    for name, slot in check.pack.slots.items():
        for fill in slot.fill:
            where = f"slot '{name}' fill rule"
            if isinstance(fill, FillFromEntity):
                location = fill.at("entity")
                if not check.exists("entities", fill.entity):
                    yield from _ref(check, "entities", fill.entity, errors.UNKNOWN_ENTITY, location, where)
                else:
                    yield from _role(check, fill.entity, fill.role, fill.at("role"), where)
            elif isinstance(fill, FillFromIntent):
                yield from _ref(
                    check, "intents", fill.intent, errors.UNKNOWN_INTENT, fill.at("intent"), where
                )
                reason = slot_value_problem(slot, fill.value)
                if reason:
                    yield errors.SLOT_VALUE_TYPE(
                        fill.at("value"),
                        where=where,
                        value=fill.value,
                        slot=name,
                        type=slot.type,
                        reason=reason,
                    )


@whole_pack_rule
def slots_are_filled_somewhere(check: Check) -> Iterator[Diagnostic]:
    pack = check.pack
    filled: set[str] = set()
    for flow in pack.flows.values():
        for step, _ in walk_steps(flow.steps):
            if isinstance(step, CollectStep):
                filled.add(step.collect)
            elif isinstance(step, SetStep):
                filled.update(step.set)
    for action in pack.actions.values():
        filled.update(action.slots)
    for name, slot in pack.slots.items():
        if not (slot.fill or slot.has_initial or name in filled):
            yield errors.SLOT_NEVER_FILLED(pack.location("slots", name), name=name)


def slot_value_problem(slot: Slot, value: Any) -> str | None:
    """Why `value` cannot be a value of `slot`, or None when it can."""
    kind = slot.type
    if value is None or kind == "any" or (kind == "categorical" and not slot.values):
        return None  # a categorical slot without values is reported once, by slot_options_fit_types
    checks: dict[str, Callable[[Any], bool]] = {
        "text": lambda v: isinstance(v, str),
        "email": lambda v: isinstance(v, str) and "@" in v,
        "phone": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "money": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "list": lambda v: isinstance(v, list),
        "date": lambda v: isinstance(v, date) or (isinstance(v, str) and _is_iso_date(v)),
        "categorical": lambda v: isinstance(v, str) and v in (slot.values or []),
    }
    if not checks[kind](value):
        if kind == "categorical":
            return f"allowed values are {', '.join(slot.values or [])}"
        article = "an" if kind[0] in "aeiou" else "a"
        return f"expected {article} {kind} value, found {type(value).__name__} {value!r}"
    validation = slot.validation
    if validation is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if validation.min is not None and value < validation.min:
            return f"below the minimum {validation.min:g}"
        if validation.max is not None and value > validation.max:
            return f"above the maximum {validation.max:g}"
    if (
        validation.pattern is not None
        and isinstance(value, str)
        and not re.fullmatch(validation.pattern, value)
    ):
        return f"it does not match the slot's pattern {validation.pattern}"
    if validation.choices is not None and value not in validation.choices:
        return f"allowed values are {', '.join(str(c) for c in validation.choices)}"
    return None


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


# -- responses -------------------------------------------------------------------------------
@rule
def response_templates_compile(check: Check) -> Iterator[Diagnostic]:
    for variations in check.pack.responses.values():
        for variation in variations:
            if variation.text is not None:
                yield from _template(check, variation.text, variation.at("text"))
            if variation.condition is not None:
                yield from _condition(check, variation.condition, variation.at("condition"))
            for field_name in ("buttons", "quick_replies"):
                for index, button in enumerate(getattr(variation, field_name)):
                    yield from _payload(check, button.payload, variation.at(field_name, index, "payload"))


@rule
def system_responses_exist(check: Check) -> Iterator[Diagnostic]:
    if ("settings", "repair") in check.broken:
        return
    for name, system in SYSTEM_RESPONSES.items():
        if system.needed(check.pack) and not check.exists("responses", name):
            location = _settings_location(check.pack) if system.switch_off else check.pack.start()
            off = f", or turn {system.feature} off with '{system.switch_off}'" if system.switch_off else ""
            yield errors.MISSING_SYSTEM_RESPONSE(location, feature=system.feature, name=name, off=off)


_PAYLOAD = re.compile(r"^/(?P<intent>[^{\s]+)(?P<data>\{.*\})?$", re.DOTALL)


def _payload(check: Check, payload: str, location: Location | None) -> Iterator[Diagnostic]:
    match = _PAYLOAD.match(payload.strip())
    if not match:
        return  # a plain-text payload is sent as if the customer typed it
    where = "button payload"
    yield from _ref(check, "intents", match["intent"], errors.UNKNOWN_INTENT, location, where)
    if match["data"]:
        try:
            data = json.loads(match["data"])
        except json.JSONDecodeError as error:
            yield errors.BAD_VALUE(
                location,
                where=where,
                problem=f"the data after the intent is not JSON: {error.msg}",
                fix='write it as /intent{"slot_name": "value"}',
            )
            return
        if not isinstance(data, dict):
            yield errors.BAD_VALUE(
                location,
                where=where,
                problem="the data must be a JSON object",
                fix='write it as /intent{"slot_name": "value"}',
            )
            return
        for key, value in data.items():
            if not check.exists("slots", key) and not check.exists("entities", key):
                yield errors.UNKNOWN_SLOT(
                    location, where=where, name=key, hint=did_you_mean(key, check.known("slots"))
                )
            elif key in check.pack.slots:
                slot = check.pack.slots[key]
                reason = slot_value_problem(slot, value)
                if reason:
                    yield errors.SLOT_VALUE_TYPE(
                        location, where=where, value=value, slot=key, type=slot.type, reason=reason
                    )


def _template(check: Check, text: str, location: Location | None) -> Iterator[Diagnostic]:
    try:
        uses = template_names(text)
    except TemplateSyntaxError as error:
        yield errors.TEMPLATE_SYNTAX(location, reason=error.message or str(error))
        return
    yield from _names(check, uses, location, errors.TEMPLATE_NAME)


def _condition(check: Check, text: str, location: Location | None) -> Iterator[Diagnostic]:
    try:
        uses = condition_names(text)
    except TemplateSyntaxError as error:
        yield errors.CONDITION_SYNTAX(location, condition=text, reason=error.message or str(error))
        return
    yield from _names(check, uses, location, errors.CONDITION_NAME)


def _names(
    check: Check, uses: list[NameUse], location: Location | None, problem: Problem
) -> Iterator[Diagnostic]:
    known = ", ".join(sorted(NAMES))
    for use in uses:
        if use.name in _ALLOWED_GLOBALS:
            continue
        if use.name not in NAMES:
            yield problem(location, name=use.name, hint=did_you_mean(use.name, NAMES), known=known)
        elif use.name == "slots" and use.attribute is not None and not check.exists("slots", use.attribute):
            yield problem(
                location,
                name=f"slots.{use.attribute}",
                hint=did_you_mean(use.attribute, check.known("slots")),
                known="the pack's slots",
            )
        elif (
            use.name == "conversation"
            and use.attribute is not None
            and use.attribute not in CONVERSATION_FIELDS
        ):
            yield problem(
                location,
                name=f"conversation.{use.attribute}",
                hint=did_you_mean(use.attribute, CONVERSATION_FIELDS),
                known=", ".join(f"conversation.{f}" for f in CONVERSATION_FIELDS),
            )
        elif (
            use.name == "entities"
            and use.attribute is not None
            and not check.exists("entities", use.attribute)
        ):
            yield problem(
                location,
                name=f"entities.{use.attribute}",
                hint=did_you_mean(use.attribute, check.known("entities")),
                known="the pack's entities",
            )


# -- actions ---------------------------------------------------------------------------------
@rule
def actions_are_consistent(check: Check) -> Iterator[Diagnostic]:
    for name, action in check.pack.actions.items():
        where = f"action '{name}'"
        for index, slot in enumerate(action.slots):
            yield from _ref(check, "slots", slot, errors.UNKNOWN_SLOT, action.at("slots", index), where)
        if action.failure_response is not None:
            yield from _ref(
                check,
                "responses",
                action.failure_response,
                errors.UNKNOWN_RESPONSE,
                action.at("failure_response"),
                where,
            )
        if action.retries and not action.idempotent:
            yield errors.RETRY_UNSAFE(action.at("retries"), name=name, retries=action.retries)


# -- flows -----------------------------------------------------------------------------------
def walk_steps(steps: Iterable[AnyStep], depth: int = 0) -> Iterator[tuple[AnyStep, int]]:
    """Every step of a step list, nested branches included, with its nesting depth."""
    for step in steps:
        yield step, depth
        for branch in _branches(step):
            yield from walk_steps(branch, depth + 1)


def _branches(step: AnyStep) -> list[list[Any]]:
    if isinstance(step, IfStep):
        return [step.then, step.else_]
    if isinstance(step, CollectStep):
        return [step.on_exhausted]
    if isinstance(step, ActionStep):
        return [step.on_failure]
    return []


@rule
def flow_references_resolve(check: Check) -> Iterator[Diagnostic]:
    pack = check.pack
    for flow_name, flow in pack.flows.items():
        where = f"flow '{flow_name}'"
        if flow.trigger is not None:
            for index, intent in enumerate(flow.trigger.intents):
                yield from _ref(
                    check, "intents", intent, errors.UNKNOWN_INTENT, flow.trigger.at("intents", index), where
                )
        if flow.guard is not None:
            yield from _condition(check, flow.guard, flow.at("guard"))
        for index, slot in enumerate(flow.reset_slots):
            yield from _ref(check, "slots", slot, errors.UNKNOWN_SLOT, flow.at("reset_slots", index), where)
        for step, _ in walk_steps(flow.steps):
            yield from _step_references(check, flow_name, step)


def _step_references(check: Check, flow_name: str, step: AnyStep) -> Iterator[Diagnostic]:
    where = f"flow '{flow_name}'"
    if isinstance(step, CollectStep):
        yield from _ref(check, "slots", step.collect, errors.UNKNOWN_SLOT, step.at("collect"), where)
        if step.ask is None and not check.exists("slots", step.collect):
            return  # the slot's name is wrong: its default question would be a second, misleading error
        ask = step.ask or f"ask_{step.collect}"
        ask_where = where if step.ask else f"{where} (the default question for slot '{step.collect}')"
        yield from _ref(
            check,
            "responses",
            ask,
            errors.UNKNOWN_RESPONSE,
            step.at("ask" if step.ask else "collect"),
            ask_where,
        )
        if step.reprompt is not None:
            yield from _ref(
                check, "responses", step.reprompt, errors.UNKNOWN_RESPONSE, step.at("reprompt"), where
            )
    elif isinstance(step, ActionStep):
        yield from _ref(check, "actions", step.action, errors.UNKNOWN_ACTION, step.at("action"), where)
    elif isinstance(step, RespondStep):
        yield from _ref(check, "responses", step.respond, errors.UNKNOWN_RESPONSE, step.at("respond"), where)
    elif isinstance(step, SetStep):
        for slot_name, value in step.set.items():
            location = step.at("set", slot_name, key=True)
            if not check.exists("slots", slot_name):
                yield from _ref(check, "slots", slot_name, errors.UNKNOWN_SLOT, location, where)
            elif slot_name in check.pack.slots:
                reason = slot_value_problem(check.pack.slots[slot_name], value)
                if reason:
                    yield errors.SLOT_VALUE_TYPE(
                        step.at("set", slot_name),
                        where=where,
                        value=value,
                        slot=slot_name,
                        type=check.pack.slots[slot_name].type,
                        reason=reason,
                    )
    elif isinstance(step, IfStep):
        yield from _condition(check, step.if_, step.at("if"))
    elif isinstance(step, (LinkStep, CallStep)):
        target = step.link if isinstance(step, LinkStep) else step.call
        field_name = "link" if isinstance(step, LinkStep) else "call"
        yield from _ref(check, "flows", target, errors.UNKNOWN_FLOW, step.at(field_name), where)
    elif isinstance(step, EscalateStep):
        if not check.pack.queues and not any(s == "queues" for s, _ in check.broken) and not check.incomplete:
            yield errors.NO_QUEUES(step.at("escalate"), where=where)
        else:
            yield from _ref(check, "queues", step.escalate, errors.UNKNOWN_QUEUE, step.at("escalate"), where)


@rule
def step_ids_are_unique_and_gotos_resolve(check: Check) -> Iterator[Diagnostic]:
    for flow_name, flow in check.pack.flows.items():
        ids: dict[str, AnyStep] = {}
        for step, _ in walk_steps(flow.steps):
            if step.id is None:
                continue
            if step.id in ids:
                yield errors.DUPLICATE_STEP_ID(step.at("id"), name=step.id, flow=flow_name)
            ids.setdefault(step.id, step)
        if ("flows", flow_name) in check.broken:
            continue  # steps were left out, and with them perhaps the ids gotos name
        for step, _ in walk_steps(flow.steps):
            if isinstance(step, GotoStep) and step.goto not in ids:
                yield errors.UNKNOWN_STEP_ID(
                    step.at("goto"), name=step.goto, flow=flow_name, hint=did_you_mean(step.goto, ids)
                )


@rule
def no_unreachable_steps(check: Check) -> Iterator[Diagnostic]:
    for name, flow in check.pack.flows.items():
        if ("flows", name) in check.broken:
            continue  # some of its steps were left out: what follows them is not known
        targets = {s.goto for s, _ in walk_steps(flow.steps) if isinstance(s, GotoStep)}
        yield from _unreachable(flow.steps, targets)


def _unreachable(steps: list[Any], targets: set[str]) -> Iterator[Diagnostic]:
    """Report the first step after a step that never lets the flow continue (per run of steps)."""
    blocked: str | None = None
    for step in steps:
        for branch in _branches(step):
            yield from _unreachable(branch, targets)
        if blocked is not None and step.id not in targets:
            yield errors.UNREACHABLE_STEP(step.at(key=False), reason=blocked)
            blocked = None
            continue
        blocked = _terminal(step)


def _terminal(step: AnyStep) -> str | None:
    """Why the flow cannot go on after `step`, or None when it can."""
    if isinstance(step, EndStep):
        return "ends the flow"
    if isinstance(step, LinkStep):
        return "links to another flow"
    if isinstance(step, GotoStep):
        return "jumps to another step"
    if isinstance(step, IfStep) and step.else_ and _list_terminal(step.then) and _list_terminal(step.else_):
        return "ends or jumps away in every branch"
    return None


def _list_terminal(steps: list[Any]) -> bool:
    return bool(steps) and _terminal(steps[-1]) is not None


@whole_pack_rule
def flows_can_start(check: Check) -> Iterator[Diagnostic]:
    """Every flow is reachable: triggered, or linked or called from a flow that is reachable."""
    pack = check.pack
    targets: dict[str, set[str]] = {}
    for name, flow in pack.flows.items():
        targets[name] = {
            step.link if isinstance(step, LinkStep) else step.call
            for step, _ in walk_steps(flow.steps)
            if isinstance(step, (LinkStep, CallStep))
        }
    reachable: set[str] = set()
    frontier = [name for name, flow in pack.flows.items() if flow.trigger is not None]
    while frontier:
        name = frontier.pop()
        if name not in reachable:
            reachable.add(name)
            frontier.extend(targets.get(name, ()))
    for name in pack.flows:
        if name not in reachable:
            yield errors.ORPHAN_FLOW(pack.location("flows", name), name=name)


@rule
def flows_do_not_call_in_cycles(check: Check) -> Iterator[Diagnostic]:
    calls: dict[str, list[tuple[str, CallStep]]] = {}
    for name, flow in check.pack.flows.items():
        calls[name] = [(s.call, s) for s, _ in walk_steps(flow.steps) if isinstance(s, CallStep)]
    reported: set[frozenset[str]] = set()
    for start in calls:
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack:
            current, trail = stack.pop()
            for target, step in calls.get(current, []):
                if target == start:
                    cycle = frozenset(trail)
                    if cycle not in reported:
                        reported.add(cycle)
                        yield errors.CALL_CYCLE(step.at("call"), cycle=" -> ".join(trail + [start]))
                elif target not in trail:
                    stack.append((target, trail + [target]))


@rule
def intents_trigger_one_flow(check: Check) -> Iterator[Diagnostic]:
    owners: dict[str, tuple[str, Flow]] = {}
    for name, flow in check.pack.flows.items():
        if flow.trigger is None:
            continue
        for index, intent in enumerate(flow.trigger.intents):
            if intent in owners:
                first_name, first = owners[intent]
                if first.guard is None and flow.guard is None:
                    yield errors.TRIGGER_CONFLICT(
                        flow.trigger.at("intents", index), intent=intent, first=first_name, second=name
                    )
            else:
                owners[intent] = (name, flow)


# -- escalation and settings -----------------------------------------------------------------
@rule
def escalation_resolves(check: Check) -> Iterator[Diagnostic]:
    pack = check.pack
    for rule_ in pack.rules:
        yield from _condition(check, rule_.when, rule_.at("when"))
        yield from _ref(check, "queues", rule_.to, errors.UNKNOWN_QUEUE, rule_.at("to"), "escalation rule")
    origin = pack.origins.get(("escalation", "default_queue"))
    if pack.default_queue is not None and not check.exists("queues", pack.default_queue):
        location = origin.location(key=False) if origin else None
        yield from _ref(
            check, "queues", pack.default_queue, errors.UNKNOWN_QUEUE, location, "escalation default_queue"
        )
    for name, queue in pack.queues.items():
        where = f"queue '{name}'"
        for field_name in ("closed_message", "timeout_message"):
            value = getattr(queue, field_name)
            if value is not None:
                yield from _ref(
                    check, "responses", value, errors.UNKNOWN_RESPONSE, queue.at(field_name), where
                )
        if queue.hours is not None:
            yield from _hours(name, queue.hours)


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def _hours(queue: str, hours: Any) -> Iterator[Diagnostic]:
    try:
        ZoneInfo(hours.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield errors.BAD_HOURS(
            hours.at("timezone"),
            where=f"queue '{queue}' hours",
            problem=f"unknown timezone '{hours.timezone}'",
        )
    for day in WEEKDAYS:
        spec = getattr(hours, day)
        if spec is None or spec.strip() == "closed":
            continue
        for part in spec.split(","):
            found = hour_range(part)
            if isinstance(found, str):
                yield errors.BAD_HOURS(hours.at(day), where=f"queue '{queue}' hours on {day}", problem=found)


def hour_range(part: str) -> tuple[int, int] | str:
    """One 'HH:MM-HH:MM' range of business hours as minutes since midnight, or what is wrong
    with it."""
    start, dash, end = part.partition("-")
    if not dash:
        return f"'{part.strip()}' is not a range like 09:00-17:00"
    first, last = _clock_minutes(start), _clock_minutes(end)
    if first is None or last is None:
        return f"'{part.strip()}' has a time that is not HH:MM"
    if first >= last:
        return f"'{part.strip()}' ends before it starts"
    return first, last


def open_minutes(spec: str | None) -> list[tuple[int, int]]:
    """A day's business hours ('09:00-12:00, 13:00-17:00', 'closed', or None for a day without
    any) as minute ranges; ranges the validator refuses (P601) are left out."""
    if spec is None or spec.strip() == "closed":
        return []
    return [found for found in map(hour_range, spec.split(",")) if not isinstance(found, str)]


def _clock_minutes(text: str) -> int | None:
    match = _CLOCK.match(text.strip())
    if not match:
        return None
    hours, minutes = int(match[1]), int(match[2])
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        return None
    return hours * 60 + minutes


def _settings_location(pack: Pack) -> Location | None:
    """Where a pack-wide setting is reported: its `settings:` section, or the pack's main file."""
    for node in (pack.settings.repair, pack.settings):
        if node.source is not None and node.source in pack.files:
            return node.at(key=True)
    return pack.start()


@rule
def repair_intents_exist(check: Check) -> Iterator[Diagnostic]:
    if ("settings", "repair") in check.broken:
        return
    repair = check.pack.settings.repair
    for field_name in ("cancel", "restart", "repeat", "help", "human"):
        intent = getattr(repair, field_name)
        if intent is False:
            continue
        location = (
            repair.at(field_name) if field_name in repair.model_fields_set else _settings_location(check.pack)
        )
        where = f"settings.repair.{field_name}" + (
            "" if field_name in repair.model_fields_set else " (default)"
        )
        yield from _ref(check, "intents", intent, errors.UNKNOWN_INTENT, location, where)


@rule
def session_carry_over_slots_exist(check: Check) -> Iterator[Diagnostic]:
    session = check.pack.settings.session
    if isinstance(session.carry_over, list):
        for index, slot in enumerate(session.carry_over):
            yield from _ref(
                check,
                "slots",
                slot,
                errors.UNKNOWN_SLOT,
                session.at("carry_over", index),
                "settings.session.carry_over",
            )


@whole_pack_rule
def nothing_unused(check: Check) -> Iterator[Diagnostic]:
    """Warn about responses and actions this pack defines that nothing uses."""
    pack = check.pack
    used_responses = set(SYSTEM_RESPONSES) | DESK_RESPONSES
    used_actions: set[str] = set()
    for flow in pack.flows.values():
        for step, _ in walk_steps(flow.steps):
            if isinstance(step, RespondStep):
                used_responses.add(step.respond)
            elif isinstance(step, CollectStep):
                used_responses.update(r for r in (step.ask or f"ask_{step.collect}", step.reprompt) if r)
            elif isinstance(step, ActionStep):
                used_actions.add(step.action)
    for action in pack.actions.values():
        if action.failure_response:
            used_responses.add(action.failure_response)
    for queue in pack.queues.values():
        used_responses.update(r for r in (queue.closed_message, queue.timeout_message) if r)
    for slot in pack.slots.values():
        if slot.validation and slot.validation.action:
            used_actions.add(slot.validation.action)
    for name in pack.responses:
        if name not in used_responses and pack.defined_here("responses", name):
            yield errors.UNUSED_ITEM(pack.location("responses", name), kind="response", name=name)
    for name in pack.actions:
        if name not in used_actions and pack.defined_here("actions", name):
            yield errors.UNUSED_ITEM(pack.location("actions", name), kind="action", name=name)
