"""Slot values: where they come from in a message, and the slot's type they are converted to.
The pack's checks (pattern, min, max, choices) are `engine.packs.rules.slot_value_problem`, the
same the validator applies to values written in the pack; checks by a custom action are run by
the executor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.packs.schema import FillFromEntity, FillFromIntent, FillFromText, Slot

#: Confidence at which an intent that answers the pending question counts, when the NLU is not
#: sure of any intent.
EXPECTED_INTENT_MIN = 0.25


@dataclass(frozen=True)
class Candidate:
    """A value a message offers for a slot, and the fill rule kind that found it."""

    slot: str
    value: Any
    source: str
    #: For intent fill rules: the intent that gave the value.
    intent: str | None = None


class SlotValueError(ValueError):
    """A value that does not fit a slot; the message says why, for logs and the shell."""


def candidates(
    slots: Mapping[str, Slot],
    *,
    intent: str | None,
    entities: Sequence[Mapping[str, Any]],
    text: str,
    asking: str | None,
    given: Mapping[str, Any] | None = None,
    ranking: Mapping[str, float] | None = None,
) -> dict[str, Candidate]:
    """The values this message offers, slot by slot (first matching fill rule wins).

    `asking` is the slot a collect step is waiting for: rules with `only_when_asked` and text
    rules fill only that slot. `given` are values a button payload carries (`/intent{"slot": v}`).

    The question gives context: when the message has no intent the NLU is sure of (`intent` is
    None) but one of the intents that fill the asked slot is plausible (`ranking` gives it at
    least EXPECTED_INTENT_MIN), that intent fills it. "yes please cancel it", asked "Shall I
    cancel order A12345?", is a yes, even if the NLU half-suspects a new cancellation.
    """
    if intent is None and asking is not None and asking in slots and ranking:
        expected = [r.intent for r in slots[asking].fill if isinstance(r, FillFromIntent)]
        best = max(expected, key=lambda name: ranking.get(name, 0.0), default=None)
        if best is not None and ranking.get(best, 0.0) >= EXPECTED_INTENT_MIN:
            contextual = candidates(
                slots, intent=best, entities=entities, text=text, asking=asking, given=given
            )
            if asking in contextual:
                return contextual
    found: dict[str, Candidate] = {}
    for name, value in (given or {}).items():
        if name in slots:
            found[name] = Candidate(name, value, "payload")
    for name, slot in slots.items():
        if name in found:
            continue
        for rule in slot.fill:
            candidate = _from_rule(name, slot, rule, intent, entities, text, asking)
            if candidate is not None:
                found[name] = candidate
                break
    return found


def _from_rule(
    name: str,
    slot: Slot,
    rule: FillFromEntity | FillFromIntent | FillFromText,
    intent: str | None,
    entities: Sequence[Mapping[str, Any]],
    text: str,
    asking: str | None,
) -> Candidate | None:
    asked = asking == name
    if isinstance(rule, FillFromEntity):
        if rule.only_when_asked and not asked:
            return None
        values = [
            e.get("value")
            for e in entities
            if e.get("entity") == rule.entity and (rule.role is None or e.get("role") == rule.role)
        ]
        if not values:
            return None
        return Candidate(name, values if slot.type == "list" else values[0], "entity")
    if isinstance(rule, FillFromIntent):
        if intent != rule.intent or (rule.only_when_asked and not asked):
            return None
        return Candidate(name, rule.value, "intent", rule.intent)
    if asked and text.strip():
        return Candidate(name, text.strip(), "text")
    return None


def coerce(slot: Slot, value: Any) -> Any:
    """`value` as the slot's type; raises `SlotValueError` when it cannot be one."""
    if value is None:
        return None
    kind = slot.type
    if kind == "any":
        return value
    if kind == "list":
        return list(value) if isinstance(value, (list, tuple)) else [value]
    if kind in ("money", "float", "integer"):
        number = _number(value)
        if kind == "integer":
            if number != int(number):
                raise SlotValueError(f"{value!r} is not a whole number")
            return int(number)
        return number
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            return value.strip().lower() in ("true", "yes")
        raise SlotValueError(f"{value!r} is not yes or no")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise SlotValueError(f"{value!r} is not a text")
    text = str(value).strip()
    if kind == "categorical":
        for allowed in slot.values or ():
            if allowed.lower() == text.lower():
                return allowed
        raise SlotValueError(f"{text!r} is not one of {', '.join(slot.values or ())}")
    if kind == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        raise SlotValueError(f"{text!r} is not an email address")
    choices = slot.validation.choices if slot.validation else None
    if choices:  # the value as the pack writes it: "Monday" is the choice "monday"
        text = next((str(c) for c in choices if str(c).lower() == text.lower()), text)
    if kind == "date":
        try:
            date.fromisoformat(text)
        except ValueError:
            raise SlotValueError(f"{text!r} is not a date written YYYY-MM-DD") from None
    return text


def _number(value: Any) -> float:
    if isinstance(value, Mapping) and "amount" in value:  # a money entity
        value = value["amount"]
    if isinstance(value, bool):
        raise SlotValueError(f"{value!r} is not a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", "").strip().lstrip("£$€"))
        except ValueError:
            pass
    raise SlotValueError(f"{value!r} is not a number")
