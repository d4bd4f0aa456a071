"""Inline entity annotations in intent examples: `[A12345](order_id)`, `[Paris](city:to)`,
and Rasa's long form `[NYC]{"entity": "city", "role": "to", "value": "New York"}`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_ANNOTATION = re.compile(
    r"\[(?P<text>[^\[\]]+)\]"
    r"(?:\((?P<short>[^()]*)\)|(?P<long>\{[^{}]*\}))"
)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class AnnotationError(ValueError):
    """An example whose annotation markup cannot be read."""


@dataclass(frozen=True)
class EntitySpan:
    """An entity marked in an example: `text[start:end]` is the entity's surface form."""

    start: int
    end: int
    entity: str
    role: str | None
    value: str


@dataclass(frozen=True)
class ParsedExample:
    text: str
    entities: tuple[EntitySpan, ...]


# Escaped brackets (\[ and \]) stand for literal brackets; they are swapped for private-use
# characters while the markup is read, and swapped back in the plain text.
_ESCAPES = {"\\[": "\ue000", "\\]": "\ue001"}


def parse_example(source: str) -> ParsedExample:
    """Strip annotation markup from `source`, returning the plain text and its entity spans.

    A literal bracket is written escaped: `\\[` and `\\]`.
    Raises `AnnotationError` when the markup is malformed (unclosed brackets, bad JSON, bad names).
    """
    if not source.strip():
        raise AnnotationError("an example cannot be empty")
    if "\\" in source:
        for escaped, placeholder in _ESCAPES.items():
            source = source.replace(escaped, placeholder)
        parsed = _parse(source)
        return ParsedExample(
            _unescape(parsed.text),
            tuple(EntitySpan(s.start, s.end, s.entity, s.role, _unescape(s.value)) for s in parsed.entities),
        )
    return _parse(source)


def _unescape(text: str) -> str:
    return text.replace("\ue000", "[").replace("\ue001", "]")


def _parse(source: str) -> ParsedExample:
    pieces: list[str] = []
    spans: list[EntitySpan] = []
    length = 0
    cursor = 0
    for match in _ANNOTATION.finditer(source):
        before = source[cursor : match.start()]
        _reject_stray_markup(before, source)
        pieces.append(before)
        length += len(before)
        surface = match.group("text")
        entity, role, value = _read_reference(match, surface)
        spans.append(EntitySpan(length, length + len(surface), entity, role, value))
        pieces.append(surface)
        length += len(surface)
        cursor = match.end()
    tail = source[cursor:]
    _reject_stray_markup(tail, source)
    pieces.append(tail)
    return ParsedExample("".join(pieces), tuple(spans))


def _read_reference(match: re.Match[str], surface: str) -> tuple[str, str | None, str]:
    short = match.group("short")
    if short is not None:
        entity, _, role = short.strip().partition(":")
        entity, role = entity.strip(), role.strip()
        _check_name(entity, "entity", match.group(0))
        if role:
            _check_name(role, "role", match.group(0))
        return entity, role or None, surface
    try:
        data = json.loads(match.group("long"))
    except json.JSONDecodeError as error:
        raise AnnotationError(f"{match.group(0)!r} is not valid JSON: {error.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("entity"), str):
        raise AnnotationError(f'{match.group(0)!r} needs an "entity" name')
    unknown = set(data) - {"entity", "role", "value"}
    if unknown:
        raise AnnotationError(
            f"{match.group(0)!r} has unknown key(s) {', '.join(sorted(unknown))}; "
            "allowed: entity, role, value"
        )
    entity = data["entity"]
    role = data.get("role")
    value = data.get("value", surface)
    _check_name(entity, "entity", match.group(0))
    if role is not None:
        if not isinstance(role, str):
            raise AnnotationError(f"{match.group(0)!r}: role must be a string")
        _check_name(role, "role", match.group(0))
    if not isinstance(value, str):
        raise AnnotationError(f"{match.group(0)!r}: value must be a string")
    return entity, role, value


def _check_name(name: str, kind: str, markup: str) -> None:
    if not _NAME.match(name):
        raise AnnotationError(f"{markup!r}: {kind} name {name!r} must use lowercase letters, digits and '_'")


def _reject_stray_markup(text: str, example: str) -> None:
    for token in ("](", "]{", "[", "]"):
        if token in text:
            raise AnnotationError(
                f"unbalanced or incomplete annotation near {token!r}; write a literal bracket as \\[ or \\]"
            )
