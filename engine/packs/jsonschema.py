"""The JSON Schema of pack files and test files, generated from the schema models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.packs.schema import PackFile
from engine.packs.testcases import TestFile

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"
PACK_SCHEMA_FILE = SCHEMA_DIR / "pack.schema.json"
TESTS_SCHEMA_FILE = SCHEMA_DIR / "tests.schema.json"


def pack_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft-07) for one YAML file of a pack."""
    schema = PackFile.model_json_schema(by_alias=True, mode="validation")
    return _decorate(schema, "Parley domain pack file", "pack.schema.json")


def tests_json_schema() -> dict[str, Any]:
    """The JSON Schema for a file in a pack's tests/ folder."""
    schema = TestFile.model_json_schema(by_alias=True, mode="validation")
    return _decorate(schema, "Parley conversation tests file", "tests.schema.json")


def _decorate(schema: dict[str, Any], title: str, name: str) -> dict[str, Any]:
    _close_named_maps(schema)
    return {
        # Draft-07 is what most YAML language servers implement; $defs references resolve as
        # plain JSON pointers there too.
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": f"https://parley.dev/schema/{name}",
        **schema,
        "title": title,
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def _close_named_maps(node: Any) -> None:
    """Name-keyed sections (intents, slots, ...) accept only valid names as keys, as the validator does."""
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_named_maps(value)
    elif isinstance(node, list):
        for item in node:
            _close_named_maps(item)
