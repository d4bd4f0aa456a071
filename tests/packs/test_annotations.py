from __future__ import annotations

import pytest

from engine.packs.annotations import AnnotationError, EntitySpan, parse_example


def test_annotations_short_form_gives_text_and_span() -> None:
    parsed = parse_example("refund for [A12345](order_id) please")
    assert parsed.text == "refund for A12345 please"
    assert parsed.entities == (EntitySpan(11, 17, "order_id", None, "A12345"),)
    assert parsed.text[11:17] == "A12345"


def test_annotations_role_and_several_entities() -> None:
    parsed = parse_example("from [Paris](city:origin) to [Rome](city:destination)")
    assert parsed.text == "from Paris to Rome"
    assert [(s.entity, s.role, parsed.text[s.start : s.end]) for s in parsed.entities] == [
        ("city", "origin", "Paris"),
        ("city", "destination", "Rome"),
    ]


def test_annotations_long_form_carries_a_normalized_value() -> None:
    parsed = parse_example('fly to [NYC]{"entity": "city", "role": "to", "value": "New York"}')
    assert parsed.text == "fly to NYC"
    assert parsed.entities == (EntitySpan(7, 10, "city", "to", "New York"),)


def test_annotations_plain_text_has_no_entities() -> None:
    assert parse_example("where's my parcel?!").entities == ()


@pytest.mark.parametrize(
    ("example", "fragment"),
    [
        pytest.param("", "cannot be empty", id="empty"),
        pytest.param("refund [A12345(order_id)", "unbalanced", id="unclosed-bracket"),
        pytest.param("refund [A12345]", "unbalanced", id="no-entity"),
        pytest.param("refund [A12345](Order-Id)", "lowercase", id="bad-entity-name"),
        pytest.param('x [a]{"entity": 3}', "needs an", id="json-without-entity"),
        pytest.param('x [a]{"entity": "e", "colour": "red"}', "unknown key", id="json-unknown-key"),
        pytest.param('x [a]{"entity": "e",}', "not valid JSON", id="bad-json"),
    ],
)
def test_annotations_reject_malformed_markup(example: str, fragment: str) -> None:
    with pytest.raises(AnnotationError, match=fragment):
        parse_example(example)


def test_annotations_escaped_brackets_are_literal_text() -> None:
    parsed = parse_example(r"is there a travel alert for \[country\] near [Lyon](city)")
    assert parsed.text == "is there a travel alert for [country] near Lyon"
    (span,) = parsed.entities
    assert parsed.text[span.start : span.end] == "Lyon"
