"""`parley test` and `parley shell` (engine/cli_dialogue.py), run through `main`.

The pack is the billing pack of tests/nlu/conftest.py with flows, a regex entity and slot
`invoice_id`, and three conversation tests, one of them failing. It is trained once per module
into a tmp folder that the config file's `models:` points at, so the commands find it up to date.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.cli import main
from engine.nlu import ModelStore
from engine.packs import load_pack
from tests.nlu.conftest import BODIES, HEADER

DIALOGUE = """\
entities:
  invoice_id:
    regex: '\\bINV\\d{4}\\b'
slots:
  invoice_id: {fill: [{entity: invoice_id}]}
responses:
  pay_info: "You can pay online.{% if slots.invoice_id %} Invoice {{ slots.invoice_id }}.{% endif %}"
  hours_info: We are open 9 to 5.
  reset_info: Use the reset link.
flows:
  pay_bill:
    description: pay a bill
    trigger: {intents: [pay_bill]}
    steps:
      - respond: pay_info
  opening_hours:
    description: our opening hours
    trigger: {intents: [opening_hours]}
    steps:
      - respond: hours_info
  reset_password:
    description: reset your password
    trigger: {intents: [reset_password]}
    steps:
      - respond: reset_info
"""

CASES = """\
tests:
  - name: pays a bill
    steps:
      - user: i want to pay my bill
        intent: pay_bill
      - bot: pay_info
  - name: asks the hours
    steps:
      - user: what are your opening hours
        intent: opening_hours
      - bot: hours_info
  - name: broken expectation
    steps:
      - user: what are your opening hours
      - bot: pay_info
"""


@dataclass(frozen=True)
class Setup:
    pack: Path
    config: Path


@pytest.fixture(scope="module")
def billing(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    """The pack, trained into root/models, and a config whose `models:` is that folder."""
    root = tmp_path_factory.mktemp("billing-dialogue")
    folder = root / "billing"
    (folder / "tests").mkdir(parents=True)
    head = HEADER.format(name="billing", fallback="{}", nlu="{}")
    (folder / "pack.yml").write_text(head, encoding="utf-8")
    (folder / "nlu.yml").write_text(BODIES["billing"], encoding="utf-8")
    (folder / "dialogue.yml").write_text(DIALOGUE, encoding="utf-8")
    (folder / "tests" / "cases.yml").write_text(CASES, encoding="utf-8")
    ModelStore(root / "models").train(load_pack(folder))
    config = root / "config.yml"
    config.write_text(
        f"packs: {json.dumps([str(folder)])}\nmodels: {json.dumps(str(root / 'models'))}\n", encoding="utf-8"
    )
    return Setup(folder, config)


@pytest.fixture(autouse=True)
def _plain_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output as in a pipe: no colours, whatever the environment asks for."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- parley test -----------------------------------------------------------------------------
def test_cli_test_exits_1_and_shows_the_failure(billing: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", billing.config, "test", billing.pack)
    assert code == 1
    assert "trained billing" not in out  # the model in the config's models folder is up to date
    assert "✗ billing: broken expectation (cases.yml)" in out
    assert "    step 2: the bot should say response 'pay_info'" in out
    assert "      - expected: response 'pay_info'" in out
    assert "      + actual:   response 'hours_info': 'We are open 9 to 5.'" in out
    assert "      customer: what are your opening hours    (opening_hours " in out
    assert "billing: 2 of 3 conversation tests passed" in out
    assert "pays a bill" not in out  # passing tests are only listed with -v


def test_cli_test_exits_0_when_all_selected_pass(billing: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", billing.config, "test", "-k", "PAYS", billing.pack)
    assert code == 0
    assert "billing: 1 of 1 conversation tests passed" in out
    assert "✗" not in out


def test_cli_test_selection_that_matches_nothing_runs_nothing_and_says_so(
    billing: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--config", billing.config, "test", "-k", "no such test", billing.pack)
    assert code == 2
    assert err == "parley: no conversation test of billing has 'no such test' in its name\n"
    assert "conversation tests passed" not in out


def test_cli_test_packs_from_the_config(billing: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", billing.config, "test", "-k", "hours", "-v")
    assert code == 0
    assert "✓ billing: asks the hours (cases.yml)" in out
    assert "bot [hours_info]: We are open 9 to 5." in out
    assert "billing: 1 of 1 conversation tests passed" in out


def test_cli_test_writes_junit(billing: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "out" / "junit.xml"
    code, out, _ = run(capsys, "--config", billing.config, "test", "--junit", path, billing.pack)
    assert code == 1
    assert f"JUnit XML written to {path}" in out
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None and (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "billing",
        "3",
        "1",
    )
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed == ["broken expectation"]


def test_cli_test_bad_usage_exits_2(
    billing: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("packz: [x]\n", encoding="utf-8")
    code, out, err = run(capsys, "--config", broken, "test", billing.pack)
    assert (code, out) == (2, "")
    assert "packz" in err

    unknown = tmp_path / "policies.yml"
    unknown.write_text("policies: [escalation, telepathy]\n", encoding="utf-8")
    code, _, err = run(capsys, "--config", unknown, "test", billing.pack)
    assert code == 2
    assert "unknown policy 'telepathy'" in err and "known: escalation, fallback, flow, repair" in err

    monkeypatch.chdir(tmp_path)  # no config.yml packs and no domains/ folder here
    empty = tmp_path / "empty.yml"
    empty.write_text("packs: []\n", encoding="utf-8")
    code, _, err = run(capsys, "--config", empty, "test")
    assert code == 2
    assert "no packs given and none listed in config.yml" in err

    with pytest.raises(SystemExit) as stopped:
        main(["test", "--no-such-option"])
    assert stopped.value.code == 2


def test_cli_test_invalid_pack_fails(
    billing: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "pack.yml").write_text("pack: bad\nversion: 1.0.0\nlanguage: en\nbogus: 1\n", encoding="utf-8")
    code, out, _ = run(capsys, "--config", billing.config, "test", folder)
    assert code == 1
    assert "P101" in out


# -- parley shell ----------------------------------------------------------------------------
def test_cli_shell_reads_stdin_and_prints_replies_and_debug_lines(
    billing: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = "i want to pay my bill INV1234\n/slots\n\nwhat are your opening hours\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    code, out, _ = run(capsys, "--config", billing.config, "shell", "--stub-actions", billing.pack)
    assert code == 0
    assert "bot: You can pay online. Invoice INV1234." in out
    assert "bot: We are open 9 to 5." in out
    debug = [line for line in out.splitlines() if line.startswith("intent ")]
    assert len(debug) == 2
    first = debug[0]
    assert re.match(r"intent pay_bill [01]\.\d\d · ", first)
    assert "· entities invoice_id='INV1234' ·" in first
    assert "· frustration 0.00 ·" in first
    assert "· flow: start_flow pay_bill (intent 'pay_bill' (" in first
    assert first.endswith("· slots invoice_id='INV1234'")
    assert "{'invoice_id': 'INV1234'}" in out  # /slots
    assert debug[1].startswith("intent opening_hours ") and "· entities - ·" in debug[1]


def test_cli_shell_quiet_has_no_debug_line(
    billing: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("what are your opening hours\n"))
    code, out, _ = run(capsys, "--config", billing.config, "shell", "--stub-actions", "--quiet", billing.pack)
    assert code == 0
    assert "bot: We are open 9 to 5." in out
    assert not [line for line in out.splitlines() if line.startswith("intent ")]
