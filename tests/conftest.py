"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ROOT / "domains"


@pytest.fixture
def in_repo() -> Iterator[Path]:
    """Run the test from the repository root, as a user running `parley` would."""
    before = Path.cwd()
    os.chdir(ROOT)
    try:
        yield ROOT
    finally:
        os.chdir(before)


@pytest.fixture
def write_pack(tmp_path: Path) -> Callable[..., Path]:
    """Write a pack from {file name: YAML text} into tmp_path/<name>/ and return its folder."""

    def write(files: dict[str, str], name: str = "pack") -> Path:
        folder = tmp_path / name
        for relative, text in files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return folder

    return write
