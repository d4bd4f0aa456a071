"""What of a conversation is personal data, and how it is hidden.

A pack marks slots `pii: true`. Their values are secrets: every value such a slot held, the
values of the entities that fill it, and values given in button payloads. Logs never show them;
the conversation API shows them only when asked (`include_pii=true`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.dialogue.events import Event, SlotSet, UserUttered
from engine.dialogue.handoff import REDACTED
from engine.packs import Pack
from engine.packs.schema import FillFromEntity

#: Shorter values are not treated as secrets: replacing every "12" in a log line would hide
#: more than it protects, and no personal datum (email, phone, address, name) is that short.
MIN_SECRET_CHARS = 3


class Redactor:
    """The PII slots of one pack, and the secrets of its conversations."""

    def __init__(self, pack: Pack) -> None:
        self.slots = frozenset(name for name, slot in pack.slots.items() if slot.pii)
        self.entities = frozenset(
            rule.entity
            for name in self.slots
            for rule in pack.slots[name].fill
            if isinstance(rule, FillFromEntity)
        )

    def secrets(self, events: Iterable[Event], *, text: str | None = None) -> tuple[str, ...]:
        """Values of PII slots and entities in `events` (and `text`, the message of a turn whose
        events may be unknown), longest first so a value inside another does not leave the
        rest of it readable."""
        if not self.slots:
            return ()
        found: set[str] = set()
        for event in events:
            if isinstance(event, SlotSet) and event.name in self.slots:
                found.update(_texts(event.value))
            elif isinstance(event, UserUttered):
                for entity in event.parse_data.get("entities", ()):
                    if isinstance(entity, Mapping) and entity.get("entity") in self.entities:
                        found.update(_texts(entity.get("value")))
                        found.update(_texts(entity.get("text")))
                given = event.parse_data.get("slots") or {}
                for name, value in given.items() if isinstance(given, Mapping) else ():
                    if name in self.slots:
                        found.update(_texts(value))
        if text is not None:
            found.update(_texts(text))
        return tuple(sorted((s for s in found if len(s) >= MIN_SECRET_CHARS), key=len, reverse=True))

    def slot_values(self, slots: Mapping[str, Any]) -> dict[str, Any]:
        """The slots with the values of PII slots replaced (unset ones stay None)."""
        return {
            name: REDACTED if name in self.slots and value is not None else value
            for name, value in slots.items()
        }

    def tracker_json(self, data: Mapping[str, Any], secrets: Iterable[str]) -> dict[str, Any]:
        """A tracker in Rasa's JSON shape with PII slots and every occurrence of a secret replaced."""
        ordered = sorted(set(secrets), key=len, reverse=True)
        redacted: dict[str, Any] = _scrub(dict(data), ordered)
        if isinstance(redacted.get("slots"), dict):
            redacted["slots"] = self.slot_values(redacted["slots"])
        redacted["events"] = [self.event_json(e, ordered) for e in redacted.get("events", [])]
        return redacted

    def event_json(self, event: Any, secrets: list[str]) -> Any:
        is_slot = isinstance(event, dict) and event.get("event") == "slot"
        if is_slot and event.get("name") in self.slots and event.get("value") is not None:
            return {**event, "value": REDACTED}
        return _scrub(event, secrets)


def _texts(value: Any) -> set[str]:
    """The strings a value may appear as in text (a number as its digits; not booleans)."""
    if isinstance(value, str):
        return {value.strip()} if value.strip() else set()
    if isinstance(value, bool) or value is None:
        return set()
    if isinstance(value, (int, float)):
        return {str(value)}
    if isinstance(value, Mapping):
        return {t for v in value.values() for t in _texts(v)}
    if isinstance(value, (list, tuple)):
        return {t for v in value for t in _texts(v)}
    return set()


def _scrub(value: Any, secrets: list[str]) -> Any:
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, Mapping):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, secrets) for v in value]
    return value
