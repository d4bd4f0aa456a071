"""The pack-language reference covers every key of the schema and every error code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from engine.packs.errors import CATALOGUE
from engine.packs.jsonschema import PACK_SCHEMA_FILE, TESTS_SCHEMA_FILE
from tests.conftest import ROOT

REFERENCE = ROOT / "docs" / "pack-language.md"


def _property_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _property_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _property_names(item)


def test_docs_reference_names_every_schema_key() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    keys = set()
    for path in (PACK_SCHEMA_FILE, TESTS_SCHEMA_FILE):
        keys |= set(_property_names(json.loads(path.read_text(encoding="utf-8"))))
    missing = sorted(key for key in keys if f"`{key}`" not in text)
    assert missing == [], f"docs/pack-language.md does not describe: {missing}"


def test_docs_reference_lists_every_error_code() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert [code for code in CATALOGUE if code not in text] == []
