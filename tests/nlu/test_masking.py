"""Entity masking before intent features: ids and amounts generalize, lookup values stay."""

from __future__ import annotations

import numpy as np

from engine.nlu.masking import mask_entities, placeholder
from engine.nlu.types import EntityMatch
from tests.conftest import Trained


def match(entity: str, start: int, end: int, extractor: str, text: str) -> EntityMatch:
    return EntityMatch(entity, text[start:end], start, end, text[start:end], extractor)


def test_masking_replaces_regex_and_system_matches_with_one_word_each() -> None:
    text = "order A12345 cost £20"
    matches = [match("order_id", 6, 12, "regex", text), match("amount", 18, 21, "system", text)]
    assert mask_entities(text, matches) == f"order {placeholder('order_id')} cost {placeholder('amount')}"


def test_masking_keeps_a_lookup_value_before_its_placeholder() -> None:
    text = "globalprotect keeps dropping"
    masked = mask_entities(text, [match("application", 0, 13, "lookup", text)])
    assert masked == "globalprotect ent_application keeps dropping"


def test_masking_leaves_learned_entities_and_plain_text_alone() -> None:
    text = "fly to Paris"
    assert mask_entities(text, [match("city", 7, 12, "learned", text)]) == text
    assert mask_entities(text, []) == text


def test_two_order_numbers_read_the_same_after_masking(retail: Trained) -> None:
    retail_model = retail.model
    first, second = retail_model.probabilities(["where is order A12345", "where is order Z98765"])
    assert np.allclose(first, second)
    assert (
        retail_model.parse("where is order A12345").intent
        == retail_model.parse("where is order Z98765").intent
    )
