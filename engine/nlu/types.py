"""What the NLU tells about one message: intent ranking, entities, out-of-scope decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The pseudo-intent reported for a message the model does not understand well enough.
OUT_OF_SCOPE = "out_of_scope"

#: Extractor names, in the order they win a tie between overlapping matches of equal length.
EXTRACTORS: tuple[str, ...] = ("regex", "lookup", "system", "learned")


@dataclass(frozen=True)
class EntityMatch:
    """An entity found in a message: `text[start:end]` is what the customer wrote.

    `value` is the normalized value: a lookup's canonical value, a number as int/float, money as
    {"amount": ..., "currency": ...}, a date as an ISO string, and so on.
    """

    entity: str
    value: Any
    start: int
    end: int
    text: str
    extractor: str
    role: str | None = None
    confidence: float = 1.0

    @property
    def length(self) -> int:
        return self.end - self.start

    def overlaps(self, other: EntityMatch) -> bool:
        return self.start < other.end and other.start < self.end

    def to_json(self) -> dict[str, Any]:
        """Rasa's entity shape (entity, start, end, value, extractor, role, confidence_entity)."""
        data: dict[str, Any] = {
            "entity": self.entity,
            "start": self.start,
            "end": self.end,
            "value": self.value,
            "text": self.text,
            "extractor": self.extractor,
            "confidence_entity": round(self.confidence, 4),
        }
        if self.role is not None:
            data["role"] = self.role
        return data


@dataclass(frozen=True)
class IntentScore:
    name: str
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class ParseResult:
    """The NLU's reading of one message.

    `intent` is the top intent, or OUT_OF_SCOPE when the message is out of scope (its top
    confidence is under the threshold, or an out-of-scope example matched best).
    `ranking` always holds the real intents, best first, with calibrated confidences.
    """

    text: str
    intent: str
    confidence: float
    ranking: tuple[IntentScore, ...]
    entities: tuple[EntityMatch, ...] = ()
    out_of_scope: bool = False
    ambiguous: bool = False
    threshold: float = 0.0
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def top(self) -> IntentScore | None:
        return self.ranking[0] if self.ranking else None

    def to_json(self) -> dict[str, Any]:
        """Rasa's parse shape, plus Parley's out_of_scope/ambiguous/threshold/reason fields."""
        return {
            "text": self.text,
            "intent": {"name": self.intent, "confidence": round(self.confidence, 4)},
            "intent_ranking": [score.to_json() for score in self.ranking],
            "entities": [entity.to_json() for entity in self.entities],
            "out_of_scope": self.out_of_scope,
            "ambiguous": self.ambiguous,
            "threshold": round(self.threshold, 4),
            "reason": self.reason,
        }
