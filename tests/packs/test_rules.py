"""Pass 2 checks added for analysts' common slips; the full table of defects is test_broken_packs.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.packs import check_pack

# A pack with every built-in behaviour switched off, so only the checks under test speak.
QUIET = """\
pack: p
version: 1.0.0
language: en
settings: {repair: {digression: false, correction: false, clarification: false, cancel: false,
  restart: false, repeat: false, help: false, human: false}}
responses:
  ask_rephrase: Sorry?
"""

HEAD = (
    QUIET
    + """\
  ask_order_id: Which order?
  done: Done.
intents:
  track:
    examples: ["track [A12345](order_id)", "track [12](order_id)", "where is my [kettle](product)",
      "where is my [water boiler](product)", "where is my [sofa](product)", a, b, c, d, e]
entities:
  order_id: {regex: '[A-Z]\\d{5}'}
  product: {lookup: [kettle, toaster], synonyms: {kettle: [water boiler]}}
slots:
  order_id: {type: text, fill: [{entity: order_id}]}
  state: {type: categorical, values: [open, closed]}
  product: {type: text, fill: [{entity: product}]}
actions:
  lookup: {slots: [state]}
flows:
  track:
    description: Track
    trigger: {intents: [track]}
    steps: [{collect: order_id}, {action: lookup}, {respond: done}]
"""
)


def _found(folder: Path) -> list[tuple[str, int, str]]:
    return [(d.code, d.location.line if d.location else 0, d.message) for d in check_pack(folder).diagnostics]


def test_rules_annotations_must_be_values_the_entity_finds(write_pack: Callable[..., Path]) -> None:
    found = _found(write_pack({"pack.yml": HEAD}))
    assert [(code, line) for code, line, _ in found] == [("P411", 12), ("P411", 13)]
    assert "'12' as order_id, but its regex does not find exactly that text" in found[0][2]
    assert "'sofa' as product, but it is neither a lookup value nor a synonym" in found[1][2]


def test_rules_out_of_scope_repeats_are_warned(write_pack: Callable[..., Path]) -> None:
    text = HEAD.replace("[12](order_id)", "[B12345](order_id)").replace("[sofa]", "[toaster]")
    folder = write_pack({"pack.yml": text + "out_of_scope:\n  examples: [tell me a joke, Tell me a joke!]\n"})
    assert [(code, line) for code, line, _ in _found(folder)] == [("P403", 29)]


def test_rules_test_slot_values_fit_types_and_stubs_declared_slots(write_pack: Callable[..., Path]) -> None:
    text = HEAD.replace("[12](order_id)", "[B12345](order_id)").replace("[sofa]", "[toaster]")
    tests = """\
tests:
  - name: t
    slots: {state: banana}
    stubs: {lookup: {slots: {state: open, order_id: A12345}}}
    steps:
      - user: track A12345
      - slots: {state: 42}
"""
    found = _found(write_pack({"pack.yml": text, "tests/t.yml": tests}))
    assert [(code, line) for code, line, _ in found] == [("P406", 3), ("P704", 4), ("P406", 7)]
    assert "allowed values are open, closed" in found[0][2]


def test_rules_unknown_test_channel_is_named(write_pack: Callable[..., Path]) -> None:
    text = HEAD.replace("[12](order_id)", "[B12345](order_id)").replace("[sofa]", "[toaster]")
    tests = "tests:\n  - name: t\n    channel: sms\n    steps: [{user: hi}]\n"
    found = _found(write_pack({"pack.yml": text, "tests/t.yml": tests}))
    assert [(code, line) for code, line, _ in found] == [("P218", 3)]
    assert "unknown channel 'sms'" in found[0][2]


def test_rules_a_file_that_does_not_parse_does_not_flood_missing_names(
    write_pack: Callable[..., Path],
) -> None:
    text = HEAD.replace("[12](order_id)", "[B12345](order_id)").replace("[sofa]", "[toaster]")
    broken = "intents:\n  other: [\n"
    found = _found(
        write_pack(
            {
                "pack.yml": text,
                "more.yml": broken,
                "flows2.yml": "flows:\n  g:\n"
                "    description: G\n    trigger: {intents: [other]}\n    steps: [{respond: done}]\n",
            }
        )
    )
    assert [code for code, _, _ in found] == ["P002"]


MINIMAL = (
    QUIET
    + """\
  done: Done.
intents:
  outage:
    examples: ["down for [300](user_count) people", b, c, d, e, f, g, h, i, j]
entities:
  user_count: {regex: '\\d+(?=\\s*people)'}
slots:
  user_count: {type: integer, fill: [{entity: user_count}], validation: {min: 1}}
  ticket: {type: text, fill: [{text: true}], validation: {pattern: 'INC\\d{6}'}}
flows:
  outage:
    description: Outage
    trigger: {intents: [outage]}
    steps: [{respond: done}]
"""
)


def test_rules_regex_annotations_are_checked_in_context(write_pack: Callable[..., Path]) -> None:
    text = MINIMAL + "    # the set step below is valid\n"
    text = text.replace("steps: [{respond: done}]", 'steps: [{respond: done}, {set: {ticket: "INC123456"}}]')
    assert _found(write_pack({"pack.yml": text})) == []


def test_rules_values_in_set_steps_and_buttons_respect_validation(write_pack: Callable[..., Path]) -> None:
    text = MINIMAL.replace("steps: [{respond: done}]", 'steps: [{respond: done}, {set: {ticket: "INC12"}}]')
    text = text.replace(
        "  done: Done.\n",
        "  done:\n    - text: Done.\n      buttons: [{title: Many, payload: '/outage{\"user_count\": 0}'}]\n",
    )
    found = _found(write_pack({"pack.yml": text}))
    assert [code for code, _, _ in found] == ["P406", "P406"]
    assert "below the minimum 1" in found[0][2]
    assert "does not match the slot's pattern" in found[1][2]


def test_rules_flows_that_only_reach_each_other_can_never_start(write_pack: Callable[..., Path]) -> None:
    text = MINIMAL + (
        "  a:\n    description: A\n    steps: [{link: b}]\n  b:\n    description: B\n    steps: [{call: a}]\n"
    )
    found = _found(write_pack({"pack.yml": text}))
    assert [code for code, _, _ in found] == ["P302", "P302"]
