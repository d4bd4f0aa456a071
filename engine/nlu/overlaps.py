"""One answer per stretch of text: the rule that settles overlapping entity matches.

Several extractors may claim the same words: "Paris" can be a lookup city and a learned
destination, "12" a number and part of a regex order id. `resolve_overlaps` keeps at most one match
for every character of the message:

1. the **longer** match wins ("New York City" beats "New York");
2. on equal length, the **extractor** earlier in `EXTRACTORS` wins: regex, then lookup, then system,
   then learned (what an analyst wrote down beats what was learned);
3. then the **entity declared earlier** in the pack (`entity_order`; entities not listed come after
   the listed ones, in name order);
4. then the **higher confidence**;
5. then the **earlier start**.

Matches that do not overlap are all kept. Exact duplicates (same entity, span and value, e.g. from
two regexes of one entity) collapse into one by the same rule. Empty matches (start == end) name no
text and are dropped. The result is sorted by start.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

from engine.nlu.types import EXTRACTORS, EntityMatch

__all__ = ["resolve_overlaps"]

_PriorityKey = tuple[int, int, int, str, float, int]


def resolve_overlaps(matches: Iterable[EntityMatch], entity_order: Sequence[str] = ()) -> list[EntityMatch]:
    """Keep the best match wherever matches overlap (the rule is in the module docstring).

    `entity_order` lists entity names in the order the pack declares them. Runs in O(n log n).
    """
    entity_rank = {name: index for index, name in enumerate(entity_order)}
    ranked = sorted(
        (match for match in matches if match.end > match.start),
        key=lambda match: _priority(match, entity_rank),
    )
    kept: list[EntityMatch] = []  # non-overlapping, so sorted by start and by end at once
    starts: list[int] = []
    for match in ranked:
        slot = bisect_right(starts, match.start)
        if _overlaps_neighbours(kept, slot, match):
            continue
        kept.insert(slot, match)
        starts.insert(slot, match.start)
    return kept


def _priority(match: EntityMatch, entity_rank: dict[str, int]) -> _PriorityKey:
    """Sort key: the best match comes first."""
    extractor_rank = EXTRACTORS.index(match.extractor) if match.extractor in EXTRACTORS else len(EXTRACTORS)
    declared = entity_rank.get(match.entity, len(entity_rank))
    return (-match.length, extractor_rank, declared, match.entity, -match.confidence, match.start)


def _overlaps_neighbours(kept: list[EntityMatch], slot: int, match: EntityMatch) -> bool:
    """Whether `match` overlaps the kept match before or after its insertion point."""
    before = kept[slot - 1] if slot > 0 else None
    after = kept[slot] if slot < len(kept) else None
    return (before is not None and before.end > match.start) or (
        after is not None and after.start < match.end
    )
