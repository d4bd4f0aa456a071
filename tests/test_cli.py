from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main


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
