from __future__ import annotations

import json

from engine.packs import jsonschema
from engine.packs.jsonschema import PACK_SCHEMA_FILE, TESTS_SCHEMA_FILE, pack_json_schema, render


def test_jsonschema_committed_files_match_the_models() -> None:
    # Regenerate with `make schema` after changing engine/packs/schema.py or testcases.py.
    assert PACK_SCHEMA_FILE.read_text(encoding="utf-8") == render(pack_json_schema())
    assert TESTS_SCHEMA_FILE.read_text(encoding="utf-8") == render(jsonschema.tests_json_schema())


def test_jsonschema_forbids_unknown_keys_everywhere() -> None:
    schema = pack_json_schema()
    objects = [schema, *schema["$defs"].values()]
    open_objects = [
        o.get("title")
        for o in objects
        if o.get("type") == "object" and o.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_jsonschema_accepts_the_shorthands_analysts_write() -> None:
    text = json.dumps(pack_json_schema())
    # A response may be one string; a step may be the bare word "end"; examples are strings.
    assert '"const": "end"' in text
    responses = pack_json_schema()["properties"]["responses"]
    assert responses["additionalProperties"] is False  # only valid names as keys
    (response,) = responses["patternProperties"].values()
    assert {"type": "string"} in response["anyOf"]


def test_jsonschema_describes_every_property() -> None:
    schema = pack_json_schema()
    missing = [
        f"{name}.{key}"
        for name, definition in schema["$defs"].items()
        for key, prop in definition.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert missing == []
