"""The example packs are valid, complete, and a broken copy reports every defect at once."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from engine.cli import main
from engine.packs import check_pack
from engine.packs.rules import walk_steps
from engine.packs.schema import STEP_KINDS
from tests.conftest import DOMAINS

PACKS = ["common", "retail", "it_helpdesk"]


@pytest.mark.parametrize("name", PACKS)
def test_example_packs_are_valid_without_warnings(name: str) -> None:
    result = check_pack(DOMAINS / name)
    assert [d.format() for d in result.diagnostics] == []
    assert result.ok(strict=True)


@pytest.mark.parametrize("name", ["retail", "it_helpdesk"])
def test_example_packs_use_every_step_kind(name: str) -> None:
    pack = check_pack(DOMAINS / name).pack
    assert pack is not None
    used = {
        type(step).__name__.removesuffix("Step").lower()
        for flow in pack.flows.values()
        for step, _ in walk_steps(flow.steps)
    }
    assert used == set(STEP_KINDS)


@pytest.mark.parametrize("name", PACKS)
def test_example_packs_have_twenty_examples_per_own_intent(name: str) -> None:
    pack = check_pack(DOMAINS / name).pack
    assert pack is not None
    small = {
        intent: len(definition.examples)
        for intent, definition in pack.intents.items()
        if pack.defined_here("intents", intent) and len(definition.examples) < 20
    }
    assert small == {}


def test_example_packs_ship_at_least_forty_conversation_tests() -> None:
    total = 0
    for name in PACKS:
        pack = check_pack(DOMAINS / name).pack
        assert pack is not None
        total += len(pack.tests)
    assert total >= 40


@pytest.mark.parametrize("name", PACKS)
def test_example_packs_point_editors_at_the_schema(name: str) -> None:
    for path in (DOMAINS / name).rglob("*.y*ml"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        expected = (
            "tests.schema.json" if "tests" in path.relative_to(DOMAINS / name).parts else "pack.schema.json"
        )
        assert first.startswith("# yaml-language-server: $schema=") and first.endswith(expected), path


FIVE_DEFECTS = [
    # (file, old, new, code): five different mistakes an analyst makes, in different places.
    ("flows_refunds.yml", "respond: ", "respnd: ", "P107"),
    ("slots.yml", "type: text", "type: txet", "P104"),
    ("entities.yml", "regex: '\\b[A-Z]", "regex: '\\b[A-Z", "P105"),
    ("flows_orders.yml", "collect: order_id", "collect: order_number", "P212"),
    ("escalation.yml", "to: billing", "to: biling", "P216"),
]


def test_example_packs_retail_copy_with_five_defects_reports_five_diagnostics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(DOMAINS, tmp_path / "domains")
    retail = tmp_path / "domains" / "retail"
    for file, old, new, _ in FIVE_DEFECTS:
        path = retail / file
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{file} no longer contains {old!r}: update the defect table"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert main(["validate", str(retail)]) == 1
    out = capsys.readouterr().out
    reported = re.findall(r"^(\S+):(\d+):(\d+): error (P\d{3}):", out, flags=re.MULTILINE)
    assert sorted(code for *_, code in reported) == sorted(code for *_, code in FIVE_DEFECTS)
    assert all(Path(file).parent == retail for file, *_ in reported)
