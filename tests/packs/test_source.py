from __future__ import annotations

from pathlib import Path

from engine.packs.source import Location
from engine.packs.yamlfiles import read_yaml

TEXT = """\
intents:
  greet:
    examples:
      - hi
      - hello
flows:
  hello:
    steps:
      - respond: greet
        id: first
"""


def _source(tmp_path: Path, text: str = TEXT):  # type: ignore[no-untyped-def]
    path = tmp_path / "pack.yml"
    path.write_text(text, encoding="utf-8")
    source, problems = read_yaml(path)
    assert problems == []
    assert source is not None
    return source


def test_source_locates_values_keys_and_list_items(tmp_path: Path) -> None:
    source = _source(tmp_path)
    name = source.display
    assert source.locate(("intents", "greet", "examples", 1)) == Location(name, 5, 9)
    assert source.locate(("intents", "greet"), key=True) == Location(name, 2, 3)
    assert source.locate(("flows", "hello", "steps", 0, "id")) == Location(name, 10, 13)
    assert source.locate(("flows", "hello", "steps", 0, "id"), key=True) == Location(name, 10, 9)


def test_source_skips_path_elements_missing_from_the_tree(tmp_path: Path) -> None:
    source = _source(tmp_path)
    # pydantic puts union tags such as "respond step" into error paths; they are not keys.
    assert source.locate(("flows", "hello", "steps", 0, "respond step", "id")) == Location(
        source.display, 10, 13
    )
    assert source.locate(("nothing", "here")) == Location(source.display, 1, 1)


def test_source_line_text_returns_the_line_or_empty(tmp_path: Path) -> None:
    source = _source(tmp_path)
    assert source.line_text(5) == "      - hello"
    assert source.line_text(99) == ""


def test_read_yaml_reports_syntax_errors_with_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("intents:\n  greet: [hi\n", encoding="utf-8")
    source, problems = read_yaml(path)
    assert source is None
    assert [p.code for p in problems] == ["P002"]
    assert problems[0].location is not None and problems[0].location.line >= 2


def test_read_yaml_keeps_a_byte_order_mark_out_of_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "bom.yml"
    path.write_bytes("\ufeffpack: x\n".encode())
    source, problems = read_yaml(path)
    assert problems == [] and source is not None
    assert list(source.root) == ["pack"]
