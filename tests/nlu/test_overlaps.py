"""The overlap rule: longer span, then extractor order, then declared entity, confidence, start."""

from __future__ import annotations

import pytest

from engine.nlu.overlaps import resolve_overlaps
from engine.nlu.types import EntityMatch

TEXT = "fly from New York City to Paris on 12 March"


def match(
    entity: str,
    start: int,
    end: int,
    extractor: str = "regex",
    confidence: float = 1.0,
    value: object = None,
) -> EntityMatch:
    text = TEXT[start:end]
    return EntityMatch(
        entity, text if value is None else value, start, end, text, extractor, None, confidence
    )


def spans(matches: list[EntityMatch]) -> list[tuple[str, str, str]]:
    return [(m.entity, m.text, m.extractor) for m in matches]


def test_overlaps_longer_span_wins_over_extractor_order() -> None:
    shorter = match("city", 9, 17, "regex")  # "New York"
    longer = match("place", 9, 22, "learned")  # "New York City"
    assert spans(resolve_overlaps([shorter, longer])) == [("place", "New York City", "learned")]


@pytest.mark.parametrize(
    ("first", "second", "winner"),
    [
        pytest.param("learned", "regex", "regex", id="regex-beats-learned"),
        pytest.param("system", "lookup", "lookup", id="lookup-beats-system"),
        pytest.param("learned", "system", "system", id="system-beats-learned"),
        pytest.param("lookup", "regex", "regex", id="regex-beats-lookup"),
    ],
)
def test_overlaps_equal_length_prefers_extractor_order(first: str, second: str, winner: str) -> None:
    found = resolve_overlaps([match("a", 26, 31, first), match("b", 26, 31, second)])
    assert [m.extractor for m in found] == [winner]


def test_overlaps_same_extractor_prefers_entity_declared_first() -> None:
    city, airport = match("city", 26, 31, "lookup"), match("airport", 26, 31, "lookup")
    assert spans(resolve_overlaps([city, airport], entity_order=["city", "airport"])) == [
        ("city", "Paris", "lookup")
    ]
    assert spans(resolve_overlaps([city, airport], entity_order=["airport", "city"])) == [
        ("airport", "Paris", "lookup")
    ]


def test_overlaps_undeclared_entities_come_after_declared_ones_in_name_order() -> None:
    found = resolve_overlaps(
        [match("zeta", 26, 31), match("alpha", 26, 31), match("city", 26, 31)], entity_order=["city"]
    )
    assert [m.entity for m in found] == ["city"]
    assert [m.entity for m in resolve_overlaps([match("zeta", 26, 31), match("alpha", 26, 31)])] == ["alpha"]


def test_overlaps_higher_confidence_wins_when_all_else_ties() -> None:
    weak = match("city", 26, 31, "lookup", confidence=0.8, value="Paris")
    strong = match("city", 26, 31, "lookup", confidence=0.9, value="Pari")
    assert resolve_overlaps([weak, strong]) == [strong]


def test_overlaps_earlier_start_wins_when_all_else_ties() -> None:
    # "from New" (4-12) and "New York" (9-17) have the same length and priority.
    earlier, later = match("city", 4, 12), match("city", 9, 17)
    assert resolve_overlaps([later, earlier]) == [earlier]


def test_overlaps_exact_duplicates_collapse() -> None:
    duplicate = match("city", 26, 31, "regex")
    assert resolve_overlaps([duplicate, duplicate, match("city", 26, 31, "regex")]) == [duplicate]


def test_overlaps_keeps_disjoint_matches_sorted_by_start() -> None:
    date = match("date", 35, 43, "system", value="2026-03-12")
    paris = match("city", 26, 31, "lookup")
    new_york = match("city", 9, 22, "lookup")
    assert spans(resolve_overlaps([date, paris, new_york])) == [
        ("city", "New York City", "lookup"),
        ("city", "Paris", "lookup"),
        ("date", "12 March", "system"),
    ]


def test_overlaps_touching_spans_do_not_overlap() -> None:
    left, right = match("a", 9, 13), match("b", 13, 17)  # "New " and "York"
    assert resolve_overlaps([right, left]) == [left, right]


def test_overlaps_a_long_match_removes_every_match_it_covers() -> None:
    parts = [match("word", 9, 12), match("word", 13, 17), match("word", 18, 22)]
    whole = match("city", 9, 22, "learned")
    assert resolve_overlaps([*parts, whole]) == [whole]


def test_overlaps_a_chain_keeps_the_best_and_what_does_not_touch_it() -> None:
    # "from New" (4-12), "New York City" (9-22) and "City to" (18-25): the middle one is longest.
    chain = [match("a", 4, 12), match("b", 9, 22), match("c", 18, 25), match("d", 26, 31)]
    assert [m.entity for m in resolve_overlaps(chain)] == ["b", "d"]


@pytest.mark.parametrize(
    "matches",
    [
        pytest.param([], id="nothing"),
        pytest.param([match("empty", 5, 5)], id="empty-span"),
    ],
)
def test_overlaps_nothing_to_keep(matches: list[EntityMatch]) -> None:
    assert resolve_overlaps(matches) == []


def test_overlaps_accepts_any_iterable_and_unknown_extractors_rank_last() -> None:
    unknown = match("x", 26, 31, "custom")
    learned = match("y", 26, 31, "learned")
    assert resolve_overlaps(iter([unknown, learned])) == [learned]


def test_overlaps_many_matches_resolve_in_order() -> None:
    many = [match("n", start, start + 2) for start in range(0, 40)]
    kept = resolve_overlaps(many)
    assert [m.start for m in kept] == list(range(0, 40, 2))
