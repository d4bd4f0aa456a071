"""The learned-entity CRF (engine/nlu/crf.py): tags from annotations, spans from tags, gazetteer, tagger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.nlu.crf import (
    EntityTagger,
    Gazetteer,
    TrainingSpan,
    bio_tags,
    spans_from_tags,
    token_features,
)
from engine.nlu.text import Tokenizer

TOKENIZER = Tokenizer("en")


def _span(text: str, value: str, label: str) -> TrainingSpan:
    start = text.index(value)
    return TrainingSpan(start, start + len(value), label)


# -- tags from annotations -------------------------------------------------------------------
def test_crf_tags_mark_every_token_of_a_span() -> None:
    text = "fly from New York City to Paris today"
    spans = [_span(text, "New York City", "city:origin"), _span(text, "Paris", "city:destination")]
    tags = bio_tags(TOKENIZER.tokens(text), spans)
    assert tags == [
        "O",
        "O",
        "B-city:origin",
        "I-city:origin",
        "I-city:origin",
        "O",
        "B-city:destination",
        "O",
    ]


def test_crf_tags_cover_tokens_a_span_only_touches_and_skip_spans_over_nothing() -> None:
    text = "order  A12345x now"
    tokens = TOKENIZER.tokens(text)
    assert [t.text for t in tokens] == ["order", "A12345x", "now"]
    # A span inside a token tags the whole token; a span over the double space tags nothing.
    assert bio_tags(tokens, [TrainingSpan(7, 13, "order_id")]) == ["O", "B-order_id", "O"]
    assert bio_tags(tokens, [TrainingSpan(5, 7, "order_id")]) == ["O", "O", "O"]
    assert bio_tags([], [TrainingSpan(0, 3, "x")]) == []


@pytest.mark.parametrize(
    ("text", "values"),
    [
        pytest.param("fly from New York City to Paris today", [("New York City", "city:origin")], id="one"),
        pytest.param(
            "from Paris to Berlin", [("Paris", "city:origin"), ("Berlin", "city:destination")], id="two"
        ),
        pytest.param("Paris Berlin", [("Paris", "city"), ("Berlin", "city")], id="adjacent-same-label"),
        pytest.param(
            "New York City", [("New York City", "city:destination")], id="whole-sentence-multi-token"
        ),
        pytest.param("nothing here", [], id="none"),
    ],
)
def test_crf_spans_from_tags_round_trip(text: str, values: list[tuple[str, str]]) -> None:
    tokens = TOKENIZER.tokens(text)
    spans = [_span(text, value, label) for value, label in values]
    tags = bio_tags(tokens, spans)
    found = spans_from_tags(tags, [1.0] * len(tags))
    assert [(tokens[first].start, tokens[last - 1].end, label) for first, last, label, _ in found] == [
        (s.start, s.end, s.label) for s in spans
    ]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        pytest.param(["I-x", "I-x", "O"], [(0, 2, "x")], id="I-without-B-starts-a-span"),
        pytest.param(["O", "I-x"], [(1, 2, "x")], id="I-without-B-at-the-end"),
        pytest.param(["L-x", "O"], [(0, 1, "x")], id="L-without-B"),
        pytest.param(["O", "L-x", "L-x"], [(1, 2, "x"), (2, 3, "x")], id="two-Ls-without-B"),
        pytest.param(["B-x", "I-y", "O"], [(0, 1, "x"), (1, 2, "y")], id="I-of-another-label-splits"),
        pytest.param(["B-x", "B-x"], [(0, 1, "x"), (1, 2, "x")], id="B-after-B-starts-anew"),
        pytest.param(["B-x", "L-x", "I-x"], [(0, 2, "x"), (2, 3, "x")], id="I-after-L-starts-anew"),
        pytest.param(["U-x", "I-x"], [(0, 1, "x"), (1, 2, "x")], id="I-after-U-starts-anew"),
        pytest.param(["B-x"], [(0, 1, "x")], id="B-at-the-end"),
        pytest.param(["B-x", "I-x", "L-x", "U-y"], [(0, 3, "x"), (3, 4, "y")], id="bilou"),
        pytest.param(["O", "O"], [], id="all-outside"),
        pytest.param([], [], id="no-tokens"),
    ],
)
def test_crf_spans_from_tags_tolerates_malformed_sequences(
    tags: list[str], expected: list[tuple[int, int, str]]
) -> None:
    assert [(a, b, label) for a, b, label, _ in spans_from_tags(tags, [1.0] * len(tags))] == expected


def test_crf_span_confidence_is_its_weakest_token() -> None:
    tags = ["O", "B-city", "I-city", "I-city", "B-date"]
    found = spans_from_tags(tags, [0.99, 0.9, 0.6, 0.8, 0.7])
    assert found == [(1, 4, "city", 0.6), (4, 5, "date", 0.7)]


# -- gazetteer and features -------------------------------------------------------------------
def test_crf_gazetteer_marks_known_values_in_any_case() -> None:
    gazetteer = Gazetteer.build(
        [
            ("city", ["New", "York"]),
            ("city:destination", ["Paris"]),
            ("city", ["paris"]),
            ("city", []),  # nothing to mark
            ("city", ["a", "b", "c", "d", "e", "f", "g"]),  # longer than a value can be
        ]
    )
    assert gazetteer.values == {("new", "york"): {"city"}, ("paris",): {"city", "city:destination"}}
    assert gazetteer.features(["fly", "to", "NEW", "York", "or", "Paris"]) == [
        [],
        [],
        ["gaz:city:B"],
        ["gaz:city:L"],
        [],
        ["gaz:city:U", "gaz:city:destination:U"],
    ]
    assert gazetteer.features([]) == []


def test_crf_gazetteer_round_trips_through_json() -> None:
    gazetteer = Gazetteer.build(
        [("city", ["New", "York", "City"]), ("airport", ["Orly"]), ("city", ["Orly"])]
    )
    data = json.loads(json.dumps(gazetteer.to_json()))
    assert Gazetteer.from_json(data).values == gazetteer.values
    assert Gazetteer.from_json(data).to_json() == gazetteer.to_json()


def test_crf_token_features_describe_the_token_and_its_neighbours() -> None:
    words = ["Fly", "to", "A12345"]
    first, middle, last = token_features(words, [["gaz:x:U"], [], []])
    assert {"bias", "w=fly", "shape=Xxx", "title", "w-1=<edge>", "w-2=<edge>", "w+1=to", "w+2=a12345"} <= set(
        first
    )
    assert "gaz:x:U" in first and not any(f.startswith("gaz:") for f in middle + last)
    assert {"w=to", "w-1=fly", "w+1=a12345", "bi-1=fly|to", "bi+1=to|a12345"} <= set(middle)
    assert "title" not in middle and "has_digit" not in middle
    assert {"w=a12345", "shape=Xdd", "has_digit", "w+1=<edge>", "w+2=<edge>"} <= set(last)
    assert token_features(words, None) == [
        [f for f in features if not f.startswith("gaz:")] for features in (first, middle, last)
    ]


# -- the tagger ----------------------------------------------------------------------------------
TRAINING = [
    "fly from Paris to Berlin",
    "fly from London to Rome",
    "a flight from Madrid to Vienna",
    "from Oslo to Dublin please",
    "fly to Lisbon from Prague",
    "i want to go to Helsinki from Brussels",
    "travel from Zurich to Budapest",
    "get me from Athens to Warsaw",
    "book me a seat from Munich to Milan",
    "cancel my booking",
]


def _sentences() -> list[tuple[str, list[TrainingSpan]]]:
    result = []
    for text in TRAINING:
        words = text.split()
        spans = []
        for marker, role in (("from", "origin"), ("to", "destination")):
            if marker in words and words.index(marker) + 1 < len(words):
                value = words[words.index(marker) + 1]
                if value[0].isupper():
                    spans.append(_span(text, value, f"city:{role}"))
        result.append((text, spans))
    return result


def test_crf_tagger_training_is_reproducible_with_a_seed(tmp_path: Path) -> None:
    first = EntityTagger.train(_sentences(), TOKENIZER, tmp_path / "a.crfsuite", seed=5)
    second = EntityTagger.train(_sentences(), TOKENIZER, tmp_path / "b.crfsuite", seed=5)
    assert (tmp_path / "a.crfsuite").read_bytes() == (tmp_path / "b.crfsuite").read_bytes()
    assert first.values == second.values
    assert first.values[("paris",)] == {"city:origin"}


def test_crf_tagger_finds_unseen_values_by_context_with_their_roles(tmp_path: Path) -> None:
    model_file = tmp_path / "cities.crfsuite"
    gazetteer = EntityTagger.train(_sentences(), TOKENIZER, model_file, seed=5)
    tagger = EntityTagger(model_file, gazetteer, TOKENIZER)
    text = "fly from Tokyo to Sydney"
    assert [(s.start, s.end, s.entity, s.role) for s in tagger.tag(text)] == [
        (9, 14, "city", "origin"),
        (18, 24, "city", "destination"),
    ]
    assert all(0 < s.confidence <= 1 for s in tagger.tag(text))
    matches = tagger.matches(text, {"city": {"tokyo": "Tōkyō"}})
    assert [(m.text, m.value, m.extractor, m.role) for m in matches] == [
        ("Tokyo", "Tōkyō", "learned", "origin"),
        ("Sydney", "Sydney", "learned", "destination"),
    ]
    assert tagger.tag("") == []
    assert tagger.tag("   ") == []
    assert tagger.tag("cancel my booking") == []
