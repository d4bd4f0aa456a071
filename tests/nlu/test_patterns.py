"""Regex and lookup entities: spans, values, synonyms, typos, JSON round trips and messy input."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from engine.nlu.patterns import COMMON_WORDS, LookupExtractor, LookupTable, RegexExtractor
from engine.nlu.types import EntityMatch

Found = list[tuple[str, Any, str]]


def found(matches: list[EntityMatch]) -> Found:
    return [(m.entity, m.value, m.text) for m in matches]


def assert_offsets(text: str, matches: list[EntityMatch]) -> None:
    for m in matches:
        assert text[m.start : m.end] == m.text


# -- regex ---------------------------------------------------------------------------------------
REGEX = RegexExtractor(
    {
        "order_id": [r"\b[A-Z]\d{5}\b"],
        "tracking": [r"\b1Z[0-9A-Z]{16}\b", r"\bJD\d{18}\b"],
        "ticket": [r"ticket #?(?P<value>\d+)"],
        "colour": [r"(?i)\b(?:red|blue)\b"],
        "postcode": [r"(?<=postcode )\w+"],
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("where is A12345?", [("order_id", "A12345", "A12345")], id="order-id"),
        pytest.param("where is a12345?", [], id="case-sensitive-as-written"),
        pytest.param("where is A123456", [], id="word-boundary-in-pattern"),
        pytest.param(
            "1Z999AA10123456784 and JD014600006567812345",
            [
                ("tracking", "1Z999AA10123456784", "1Z999AA10123456784"),
                ("tracking", "JD014600006567812345", "JD014600006567812345"),
            ],
            id="two-patterns-of-one-entity",
        ),
        pytest.param("about ticket #4521", [("ticket", "4521", "ticket #4521")], id="value-group"),
        pytest.param("a RED one", [("colour", "RED", "RED")], id="inline-ignore-case"),
        pytest.param("my postcode SW1A please", [("postcode", "SW1A", "SW1A")], id="lookbehind-context"),
        pytest.param(
            "A12345 is red",
            [("order_id", "A12345", "A12345"), ("colour", "red", "red")],
            id="sorted-by-start",
        ),
        pytest.param("", [], id="empty"),
        pytest.param("🙂🙂🙂", [], id="emoji-only"),
    ],
)
def test_regex_finds_spans_and_values(text: str, expected: Found) -> None:
    matches = REGEX.extract(text)
    assert found(matches) == expected
    assert all(m.extractor == "regex" and m.confidence == 1.0 for m in matches)
    assert_offsets(text, matches)


def test_regex_value_group_that_did_not_take_part_gives_the_whole_match() -> None:
    extractor = RegexExtractor({"size": [r"size (?:(?P<value>\d+)|small)"]})
    assert found(extractor.extract("size small or size 9")) == [
        ("size", "size small", "size small"),
        ("size", "9", "size 9"),
    ]


def test_regex_same_span_from_two_patterns_is_reported_once_with_the_first_value() -> None:
    extractor = RegexExtractor({"code": [r"AB(?P<value>\d\d)", r"AB\d\d"]})
    assert found(extractor.extract("code AB12")) == [("code", "12", "AB12")]


def test_regex_skips_empty_matches() -> None:
    extractor = RegexExtractor({"digits": [r"\d*"]})
    assert found(extractor.extract("a 42 b")) == [("digits", "42", "42")]


def test_regex_json_round_trip() -> None:
    data = json.loads(json.dumps(REGEX.to_json()))
    rebuilt = RegexExtractor.from_json(data)
    text = "A12345, ticket 7, blue, postcode E1"
    assert rebuilt.extract(text) == REGEX.extract(text)
    assert rebuilt.to_json() == REGEX.to_json()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="no-patterns"),
        pytest.param({"patterns": ["x"]}, id="patterns-not-a-mapping"),
        pytest.param({"patterns": {"e": "x"}}, id="pattern-list-is-text"),
        pytest.param({"patterns": {"e": [1]}}, id="pattern-not-text"),
    ],
)
def test_regex_from_json_rejects_other_shapes(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="regex"):
        RegexExtractor.from_json(data)


def test_regex_a_pattern_that_does_not_compile_raises() -> None:
    with pytest.raises(re.error):
        RegexExtractor({"broken": ["(unclosed"]})


# -- lookup: exact -------------------------------------------------------------------------------
CITIES = (
    "London", "Paris", "Berlin", "New York", "York", "New York City", "Paris, Texas", "Москва", "東京",
)  # fmt: skip
APPS = (
    "Microsoft Teams", "Teams", "Outlook", "Thunderbird", "Mail", "VPN", "HDMI", "C++", "C#", "iPhone 15",
    "e-mail", "Wi-Fi", "Café Nero", "Form",
)  # fmt: skip
LOOKUP = LookupExtractor(
    {
        "city": LookupTable(
            CITIES, {"New York": ["NYC", "the big apple"], "Berlin": ["BER"]}, typo_tolerance=True
        ),
        "app": LookupTable(APPS, {"Outlook": ["hotmail"]}, typo_tolerance=True),
        "vehicle": LookupTable(("car", "van"), {}, typo_tolerance=False),
        "store": LookupTable(("London",), {}, typo_tolerance=False),
        "product": LookupTable(("headphones", "laptop", "notebook"), {"laptop": ["notebook"]}, False),
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("I flew to paris", [("city", "Paris", "paris")], id="ignores-case"),
        pytest.param("my car broke", [("vehicle", "car", "car")], id="single-word"),
        pytest.param("my scarf and caravan", [], id="never-inside-a-word"),
        pytest.param("from new york", [("city", "New York", "new york")], id="multi-word"),
        pytest.param("from New   York!", [("city", "New York", "New   York")], id="extra-spaces"),
        pytest.param("in New York City now", [("city", "New York City", "New York City")], id="longest-wins"),
        pytest.param("NYC please", [("city", "New York", "NYC")], id="synonym-to-canonical"),
        pytest.param("The Big Apple", [("city", "New York", "The Big Apple")], id="multi-word-synonym"),
        pytest.param("my hotmail", [("app", "Outlook", "hotmail")], id="synonym-of-app"),
        pytest.param("a notebook", [("product", "laptop", "notebook")], id="synonym-beats-own-value"),
        pytest.param("send an email", [("app", "e-mail", "email")], id="joined-word"),
        pytest.param("send an e mail", [("app", "e-mail", "e mail")], id="split-word"),
        pytest.param("no wifi", [("app", "Wi-Fi", "wifi")], id="hyphen-dropped"),
        pytest.param("at cafe nero", [("app", "Café Nero", "cafe nero")], id="accents-ignored"),
        pytest.param("I write C++ and c", [("app", "C++", "C++")], id="plus-belongs-to-word"),
        pytest.param("or C#?", [("app", "C#", "C#")], id="hash-belongs-to-word"),
        pytest.param("my iphone 15", [("app", "iPhone 15", "iphone 15")], id="letters-and-digits"),
        pytest.param("my iPhone 150", [], id="digits-are-words-too"),
        pytest.param("Microsoft, Teams", [("app", "Teams", "Teams")], id="comma-separates-values"),
        pytest.param(
            "Paris, Texas", [("city", "Paris, Texas", "Paris, Texas")], id="value-written-with-comma"
        ),
        pytest.param("Москва!", [("city", "Москва", "Москва")], id="cyrillic"),
        pytest.param("東京 and back", [("city", "東京", "東京")], id="cjk-as-its-own-word"),
        pytest.param(
            "London calling",
            [("city", "London", "London"), ("store", "London", "London")],
            id="two-entities-same-words",
        ),
        pytest.param("", [], id="empty"),
        pytest.param("🙂🙂🙂", [], id="emoji-only"),
        pytest.param("\x00Paris\x07\x1b", [("city", "Paris", "Paris")], id="control-characters"),
        pytest.param(
            "Berlin🙂Paris", [("city", "Berlin", "Berlin"), ("city", "Paris", "Paris")], id="emoji-between"
        ),
    ],
)
def test_lookup_finds_values_exactly(text: str, expected: Found) -> None:
    matches = LOOKUP.extract(text)
    assert found(matches) == expected
    assert all(m.extractor == "lookup" and m.confidence == 1.0 for m in matches)
    assert_offsets(text, matches)


# -- lookup: typos -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value", "written", "confidence"),
    [
        pytest.param("outlok crashed", "Outlook", "outlok", 1 - 1 / 7, id="missing-letter"),
        pytest.param("Outlooks", "Outlook", "Outlooks", 1 - 1 / 8, id="extra-letter"),
        pytest.param("otulook", "Outlook", "otulook", 1 - 1 / 7, id="swapped-letters"),
        pytest.param(
            "Microsft Teams", "Microsoft Teams", "Microsft Teams", 1 - 1 / 14, id="typo-in-first-word"
        ),
        pytest.param(
            "microsoft team", "Microsoft Teams", "microsoft team", 1 - 1 / 14, id="typo-in-last-word"
        ),
        pytest.param("Thundrbrd", "Thunderbird", "Thundrbrd", 1 - 2 / 11, id="two-typos-in-long-word"),
        pytest.param("mial", "Mail", "mial", 0.75, id="swap-in-four-letters"),
        pytest.param("Parris", "Paris", "Parris", 1 - 1 / 6, id="city"),
        pytest.param("iphnoe 15", "iPhone 15", "iphnoe 15", 1 - 1 / 8, id="typo-beside-digits"),
    ],
)
def test_lookup_finds_values_with_a_small_typo(
    text: str, value: str, written: str, confidence: float
) -> None:
    matches = LOOKUP.extract(text)
    assert [(m.value, m.text) for m in matches] == [(value, written)]
    assert matches[0].confidence == pytest.approx(confidence)
    assert matches[0].confidence < 1.0
    assert_offsets(text, matches)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("the main thing", id="wrong-letter-in-four-letters"),
        pytest.param("Thundrbd", id="three-typos"),
        pytest.param("outlk", id="two-typos-in-short-word"),
        pytest.param("Xutlook", id="first-letter-wrong"),
        pytest.param("VPM", id="short-value"),
        pytest.param("HDMO", id="acronym"),
        pytest.param("iphone 14", id="different-number"),
        pytest.param("it came from here", id="common-word"),
        pytest.param("cars and vans", id="typo-tolerance-off"),
        pytest.param("Parisian", id="too-many-extra-letters"),
        pytest.param("Microsoft Teams Room", id="fuzzy-needs-same-word-count"),
    ],
)
def test_lookup_no_typo_match_where_the_rule_does_not_clearly_hold(text: str) -> None:
    typo_matches = [m for m in LOOKUP.extract(text) if m.confidence < 1.0]
    assert typo_matches == []


def test_lookup_common_words_are_four_letters_or_longer() -> None:
    assert "from" in COMMON_WORDS
    assert min(len(word) for word in COMMON_WORDS) >= 4


def test_lookup_exact_beats_typo_on_the_same_words() -> None:
    # "team" is one typo from "Teams", but "Team" is a value of its own.
    extractor = LookupExtractor({"app": LookupTable(("Teams", "Team"), {}, typo_tolerance=True)})
    assert [(m.value, m.confidence) for m in extractor.extract("the team")] == [("Team", 1.0)]


def test_lookup_longer_typo_match_beats_shorter_exact_match() -> None:
    # "Teams" is found exactly, inside the longer "Microsft Teams" read with a typo.
    assert found(LOOKUP.extract("Microsft Teams call")) == [("app", "Microsoft Teams", "Microsft Teams")]


# -- lookup: JSON and large inputs ---------------------------------------------------------------
def test_lookup_json_round_trip_rebuilds_the_same_extractor() -> None:
    data = json.loads(json.dumps(LOOKUP.to_json()))
    rebuilt = LookupExtractor.from_json(data)
    text = "from NYC to Parris with my outlok e mail on the iphone 15, then London"
    assert rebuilt.extract(text) == LOOKUP.extract(text)
    assert rebuilt.to_json() == data


def test_lookup_table_json_keeps_every_field() -> None:
    table = LookupTable(("a", "b"), {"a": ["x"]}, typo_tolerance=False)
    assert table.to_json() == {"values": ["a", "b"], "synonyms": {"a": ["x"]}, "typo_tolerance": False}
    assert LookupTable.from_json(table.to_json(), "letters") == table


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="no-tables"),
        pytest.param({"tables": {"city": ["Paris"]}}, id="table-not-a-mapping"),
        pytest.param({"tables": {"city": {"values": "Paris"}}}, id="values-not-a-list"),
        pytest.param(
            {"tables": {"city": {"values": ["Paris"], "synonyms": ["x"]}}}, id="synonyms-not-a-mapping"
        ),
        pytest.param(
            {"tables": {"city": {"values": ["Paris"], "typo_tolerance": "yes"}}}, id="flag-not-bool"
        ),
    ],
)
def test_lookup_from_json_rejects_other_shapes(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"lookup|synonyms|typo"):
        LookupExtractor.from_json(data)


def test_lookup_with_thousands_of_values_finds_exact_and_typo_matches() -> None:
    products = tuple(f"Model {chr(65 + i % 26)}{i} Speaker" for i in range(3000)) + ("Soundbar Deluxe",)
    extractor = LookupExtractor({"product": LookupTable(products, {}, typo_tolerance=True)})
    assert found(extractor.extract("my model B1 speaker and a sounbar deluxe")) == [
        ("product", "Model B1 Speaker", "model B1 speaker"),
        ("product", "Soundbar Deluxe", "sounbar deluxe"),
    ]


def test_lookup_handles_a_100_kb_message() -> None:
    sentence = "I moved from New York to Paris 🙂 and my outlok broke; "
    text = (sentence * (100_000 // len(sentence) + 1))[:100_000]
    matches = LOOKUP.extract(text)
    assert_offsets(text, matches)
    assert {m.value for m in matches} == {"New York", "Paris", "Outlook"}
    assert len(matches) >= 3 * (100_000 // len(sentence))


def test_lookup_empty_tables_and_values_without_words_find_nothing() -> None:
    assert LookupExtractor({}).extract("Paris") == []
    assert LookupExtractor({"odd": LookupTable(("", "!!", "—"))}).extract("!! — ") == []
