"""The conversation test runner (engine/dialogue/testing.py): readable failures and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.dialogue.testing import TestOutcome as Outcome
from engine.dialogue.testing import junit_xml, run_tests
from engine.packs import Pack
from tests.dialogue.conftest import ORDER_READINGS, ORDERS, READINGS, FakeParser

CASES = """\
tests:
  - name: passes
    stubs:
      lookup_order: {slots: {order_state: dispatched}}
    steps:
      - user: where is my order
        intent: order_status
      - bot: ask_order_id
      - user: A12345
        entities: {order_id: A12345}
      - action: lookup_order
      - slots: {order_id: A12345, order_state: dispatched}
      - bot_text: is dispatched
      - flow_completed: order_status
      - no_escalation: true
  - name: wrong response
    steps:
      - user: where is my order
      - bot: ask_email
  - name: wrong slot
    stubs:
      lookup_order: {slots: {order_state: processing}}
    steps:
      - user: where is order A12345
      - slots: {order_state: dispatched}
  - name: no such flow
    steps:
      - user: hi
      - flow_started: order_status
  - name: wrong intent
    steps:
      - user: hi
        intent: order_status
  - name: escalated differently
    steps:
      - user: a person please
      - escalated: {queue: general, reason: frustration}
  - name: said nothing more
    steps:
      - user: hi
      - bot: greet
      - bot: greet
"""

FAILURES = {
    "wrong response": (
        "step 2: the bot should say response 'ask_email'\n"
        "  - expected: response 'ask_email'\n"
        "  + actual:   response 'ask_order_id': 'Which order?'"
    ),
    "wrong slot": "step 2: slots differ\n  order_state: expected 'dispatched', actual 'processing'",
    "no such flow": (
        "step 2: flow 'order_status' should start in this turn; "
        "this turn: flow_started greet, flow_completed greet"
    ),
    "wrong intent": "step 1: 'hi' should be read as intent 'order_status', but was read as 'greet' (0.95)",
    "escalated differently": (
        "step 2: escalated differently\n"
        "  - expected: queue general, reason frustration, priority normal\n"
        "  + actual:   queue general, reason customer_request, priority normal"
    ),
    "said nothing more": "step 3: the bot should say response 'greet', but it said nothing more this turn",
}


@pytest.fixture
def outcomes(make_pack: Callable[..., Pack]) -> list[Outcome]:
    pack = make_pack(ORDERS, files={"tests/cases.yml": CASES})
    assert len(pack.tests) == 7
    return run_tests(pack, FakeParser({**READINGS, **ORDER_READINGS}))


def test_testing_runs_every_test_and_passes_a_good_one(outcomes: list[Outcome]) -> None:
    assert [o.name for o in outcomes] == ["passes", *FAILURES]
    first = outcomes[0]
    assert (first.passed, first.failure, first.file) == (True, None, "cases.yml")
    assert "customer: where is my order    (order_status 0.95)" in first.transcript
    assert "bot [order_state]: Order A12345 is dispatched." in first.transcript


def test_testing_failures_name_the_step_the_expected_and_the_actual(outcomes: list[Outcome]) -> None:
    failed = {o.name: o.failure for o in outcomes if not o.passed}
    assert failed == FAILURES


def test_testing_transcript_stops_at_the_failure(outcomes: list[Outcome]) -> None:
    wrong = next(o for o in outcomes if o.name == "wrong response")
    assert wrong.transcript[0] == "customer: where is my order    (order_status 0.95)"
    assert wrong.transcript[-1] == "bot [ask_order_id]: Which order?"


def test_testing_stubs_are_per_test(make_pack: Callable[..., Pack]) -> None:
    pack = make_pack(ORDERS, files={"tests/cases.yml": CASES})
    only = [t for t in pack.tests if t.name in ("passes", "wrong slot")]
    results = run_tests(pack, FakeParser({**READINGS, **ORDER_READINGS}), tests=only)
    assert [(o.name, o.passed) for o in results] == [("passes", True), ("wrong slot", False)]
    assert run_tests(pack, FakeParser({}), tests=[]) == []  # an empty selection is not "all"


def test_testing_junit_xml_has_a_testcase_per_test_and_failure_elements(
    outcomes: list[Outcome], tmp_path: Path
) -> None:
    path = tmp_path / "reports" / "junit.xml"
    junit_xml({"shop": outcomes, "empty": []}, path)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [(s.get("name"), s.get("tests"), s.get("failures")) for s in suites] == [
        ("shop", "7", "6"),
        ("empty", "0", "0"),
    ]
    cases = suites[0].findall("testcase")
    assert [c.get("name") for c in cases] == [o.name for o in outcomes]
    assert {c.get("classname") for c in cases} == {"shop.cases"}
    assert cases[0].find("failure") is None
    for case in cases[1:]:
        failure = case.find("failure")
        assert failure is not None
        expected = FAILURES[case.get("name") or ""]
        assert failure.get("message") == expected.splitlines()[0]
        assert (failure.text or "").startswith(expected + "\n\ncustomer: ")
    assert float(cases[0].get("time") or "-1") >= 0
