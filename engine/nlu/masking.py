"""Entity masking: the intent classifier reads `where is order ent_order_id` instead of
`where is order A12345`.

Order numbers, emails, ticket ids, amounts and dates are what makes each customer's message
unique, and they say little about the intent: what matters is that *an* order number is there.
Before intent features are built, the spans that the regex and system extractors find are
replaced by one placeholder word per entity, at training time and at parse time alike, so a
handful of examples generalizes to every order number. A lookup value is kept and followed by
its placeholder (`globalprotect ent_application`): which app or product it is often says which
intent it is. Learned entities
are not masked: the tagger's guesses on its own training examples would be too good to be true.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.nlu.types import EntityMatch

#: Extractors whose matches are masked.
MASKED_EXTRACTORS = frozenset({"regex", "lookup", "system"})


def placeholder(entity: str) -> str:
    return f"ent_{entity}"


def mask_entities(text: str, matches: Iterable[EntityMatch]) -> str:
    """`text` with each rule-based match replaced by its placeholder (matches do not overlap)."""
    spans = sorted((m for m in matches if m.extractor in MASKED_EXTRACTORS), key=lambda m: m.start)
    if not spans:
        return text
    parts, position = [], 0
    for match in spans:
        if match.start < position:
            continue
        # A lookup value (an app, a product) also says something about the intent: keep it.
        kept = f"{text[match.start : match.end]} " if match.extractor == "lookup" else ""
        parts += [text[position : match.start], kept + placeholder(match.entity)]
        position = match.end
    parts.append(text[position:])
    return "".join(parts)
