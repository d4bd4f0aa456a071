"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.nlu import ModelStore, NluModel, TrainOutcome
from engine.packs import Pack, load_pack

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


@dataclass(frozen=True)
class Trained:
    pack: Pack
    outcome: TrainOutcome
    model: NluModel


@pytest.fixture(scope="session")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The retail pack, trained once for the whole session. Tests must not change its folder."""
    store = ModelStore(tmp_path_factory.mktemp("retail-models"))
    pack = load_pack(DOMAINS / "retail")
    outcome = store.train(pack)
    return Trained(pack, outcome, store.load(pack.name))


@pytest.fixture(scope="session")
def it_helpdesk(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The it_helpdesk pack, trained once for the whole session. Tests must not change its folder."""
    store = ModelStore(tmp_path_factory.mktemp("it-helpdesk-models"))
    pack = load_pack(DOMAINS / "it_helpdesk")
    outcome = store.train(pack)
    return Trained(pack, outcome, store.load(pack.name))
