from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.packs import check_pack
from tests.action_client.fake_server import Answer, Script, fake_action_server
from tests.conftest import DOMAINS


def test_cli_schema_prints_the_pack_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Parley domain pack file"
    assert "flows" in schema["properties"]


def test_cli_schema_tests_prints_the_tests_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--tests"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "Parley conversation tests file"


def test_cli_validate_without_packs_uses_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yml").write_text("packs: [nowhere]\n")
    assert main(["validate"]) == 1
    assert "P001" in capsys.readouterr().out


def test_cli_validate_reports_a_broken_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yml").write_text("packz: [x]\n")
    assert main(["validate"]) == 2
    assert "packz" in capsys.readouterr().err


def test_cli_without_a_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "validate" in capsys.readouterr().out


@pytest.mark.parametrize("output", ["text", "json"])
def test_cli_validate_check_actions_names_what_the_action_server_lacks(
    output: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    retail = check_pack(DOMAINS / "retail").pack
    assert retail is not None
    lacking, *offered = sorted(retail.actions)
    script = Script([Answer(body=[{"name": name} for name in offered])])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yml").write_text("packs: []\n")

    with fake_action_server(script) as url:
        code = main(["validate", "--format", output, "--check-actions", url, str(DOMAINS / "retail")])

    assert code == 1
    out = capsys.readouterr().out
    if output == "json":
        assert json.loads(out)["missing_actions"] == [lacking]  # stdout stays one JSON document
    else:
        assert f"✗ retail: the action server at {url} lacks {lacking}\n" in out
