"""Pass 1 details: one broken item never hides the problems of others."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.packs import check_pack

HEAD = "pack: p\nversion: 1.0.0\nlanguage: en\n"
QUIET = (
    "settings: {repair: {digression: false, correction: false, clarification: false, cancel: false, "
    "restart: false, repeat: false, help: false, human: false}}\nresponses:\n  ask_rephrase: Sorry?\n"
)


def _codes(folder: Path) -> list[tuple[str, int]]:
    return [(d.code, d.location.line if d.location else 0) for d in check_pack(folder).diagnostics]


def test_schema_pass_bad_step_does_not_hide_references_in_other_steps(
    write_pack: Callable[..., Path],
) -> None:
    folder = write_pack(
        {
            "pack.yml": HEAD + QUIET + "  done: Done.\n",
            "flows.yml": """\
flows:
  f:
    description: d
    steps:
      - respond: done
      - bogus: 1
      - respond: dnoe
""",
        }
    )
    assert _codes(folder) == [("P107", 6), ("P213", 7)]


def test_schema_pass_union_branches_give_one_diagnostic(write_pack: Callable[..., Path]) -> None:
    folder = write_pack({"pack.yml": HEAD + QUIET + "settings2: 1\n"})
    folder.joinpath("pack.yml").write_text(
        HEAD + QUIET.replace("human: false}}", "human: false}, fallback: {threshold: high}}")
    )
    result = check_pack(folder)
    assert [d.code for d in result.diagnostics] == ["P102"]
    assert "a number or auto" in result.diagnostics[0].message


def test_schema_pass_broken_item_is_not_reported_again_as_missing(write_pack: Callable[..., Path]) -> None:
    folder = write_pack(
        {
            "pack.yml": HEAD + QUIET,
            "slots.yml": "slots:\n  order_id: {type: txt}\n",
            "flows.yml": "flows:\n  f:\n    description: d\n    trigger: {intents: [i]}\n"
            "    steps: [{set: {order_id: A12345}}]\n",
            "nlu.yml": "intents:\n  i: {examples: [a, b, c, d, e, f, g, h, i, j]}\n",
        }
    )
    result = check_pack(folder)
    assert [d.code for d in result.diagnostics] == ["P104"]
    assert "did you mean 'text'" in result.diagnostics[0].message
