"""Flows compiled to programs (engine/dialogue/flows.py): jumps, blocks, and slots reached by calls."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.dialogue.flows import FlowBook, Program, compile_flow
from engine.packs import Pack

RESPONSES = """\
intents:
  start: {examples: [go]}
responses:
  a: A
  b: B
  c: C
  d: D
  e: E
  f: F
  ask_code: Code?
  ask_email: Email?
  ask_phone: Phone?
actions:
  check: {}
slots:
  code: {fill: [{text: true}]}
  email: {fill: [{text: true}]}
  phone: {fill: [{text: true}]}
  x: {type: bool, initial: false}
  y: {type: bool, initial: false}
"""

NESTED = (
    RESPONSES
    + """\
flows:
  nested:
    description: nested branches
    trigger: {intents: [start]}
    steps:
      - respond: a
      - if: slots.x
        then:
          - if: slots.y
            then:
              - respond: b
            else:
              - respond: c
          - id: inner
            respond: d
        else:
          - respond: e
          - goto: inner
      - respond: f
"""
)

BLOCKS = (
    RESPONSES
    + """\
flows:
  blocks:
    description: failure blocks
    trigger: {intents: [start]}
    steps:
      - collect: code
        on_exhausted:
          - respond: a
      - action: check
        on_failure:
          - respond: b
          - end
      - id: last
        action: check
        on_failure:
          - action: check
            on_failure:
              - goto: last
      - respond: c
"""
)

CALLS = (
    RESPONSES
    + """\
flows:
  main:
    description: the caller
    trigger: {intents: [start]}
    steps:
      - respond: a
      - call: contact
      - collect: code
      - respond: b
  contact:
    description: contact details
    steps:
      - collect: email
      - call: phone_number
  phone_number:
    description: a phone number
    steps:
      - collect: phone
"""
)


def table(program: Program) -> list[tuple[str, str, int | None]]:
    return [(i.op, i.label, i.target) for i in program.instrs]


def test_flows_compile_nested_if_else_into_branches_and_jumps(make_pack: Callable[..., Pack]) -> None:
    program = compile_flow("nested", make_pack(NESTED).flows["nested"])
    assert table(program) == [
        ("respond", "0", None),
        ("branch", "1", 8),  # false: the outer else
        ("branch", "1.then.0", 5),  # false: the inner else
        ("respond", "1.then.0.then.0", None),
        ("jump", "1.then.0", 6),  # the end of the inner then skips the inner else
        ("respond", "1.then.0.else.0", None),
        ("respond", "inner", None),
        ("jump", "1", 10),  # the end of the outer then skips the outer else
        ("respond", "1.else.0", None),
        ("jump", "1.else.1", 6),  # goto inner: an id inside the other branch
        ("respond", "2", None),
        ("end", "end", None),
    ]
    written = [i.written for i in program.instrs]
    assert written == [True, True, True, True, False, True, True, False, True, True, True, False]
    assert program.instrs[6].step_id == "inner" and program.instrs[0].step_id is None


def test_flows_compile_failure_blocks_after_the_main_steps(make_pack: Callable[..., Pack]) -> None:
    program = compile_flow("blocks", make_pack(BLOCKS).flows["blocks"])
    assert table(program) == [
        ("collect", "0", 5),  # retries exhausted: its on_exhausted block
        ("action", "1", 7),  # failed: its on_failure block
        ("action", "last", 10),
        ("respond", "3", None),
        ("end", "end", None),
        ("respond", "0.on_exhausted.0", None),
        ("jump", "0.on_exhausted.end", 1),  # back to the step after the collect
        ("respond", "1.on_failure.0", None),
        ("end", "1.on_failure.1", None),  # the block ends the flow
        ("jump", "1.on_failure.end", 2),
        ("action", "2.on_failure.0", 12),  # a block inside a block
        ("jump", "2.on_failure.end", 3),
        ("jump", "2.on_failure.0.on_failure.0", 2),  # goto last
        ("jump", "2.on_failure.0.on_failure.end", 11),
    ]
    assert program.collects == {"code": (0,)}


def test_flows_book_maps_trigger_intents_to_flows(make_pack: Callable[..., Pack]) -> None:
    pack = make_pack(CALLS)
    book = FlowBook.compile(pack.flows)
    assert book.triggers == {"greet": ("greet",), "start": ("main",)}
    assert "contact" not in {f for flows in book.triggers.values() for f in flows}


@pytest.mark.parametrize(
    ("slot", "before", "expected"),
    [
        pytest.param("code", 4, 2, id="own-collect"),
        pytest.param("code", 2, None, id="own-collect-not-yet-reached"),
        pytest.param("email", 4, 1, id="through-call"),
        pytest.param("phone", 4, 1, id="through-nested-call"),
        pytest.param("email", 1, None, id="call-not-yet-reached"),
        pytest.param("x", 4, None, id="never-collected"),
        pytest.param("code", 99, 2, id="before-past-the-end"),
    ],
)
def test_flows_collects_slot_through_call(
    make_pack: Callable[..., Pack], slot: str, before: int, expected: int | None
) -> None:
    book = FlowBook.compile(make_pack(CALLS).flows)
    assert book.collects_slot("main", slot, before) == expected
