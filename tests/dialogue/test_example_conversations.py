"""Every conversation test of the example packs passes against its trained model."""

from __future__ import annotations

import pytest

from engine.dialogue.testing import run_tests
from engine.packs import check_pack
from tests.conftest import DOMAINS, Trained


@pytest.mark.parametrize("name", ["retail", "it_helpdesk"])
def test_example_packs_conversation_tests_pass(name: str, request: pytest.FixtureRequest) -> None:
    trained: Trained = request.getfixturevalue(name)
    pack = check_pack(DOMAINS / name, with_tests=True).pack
    assert pack is not None and len(pack.tests) >= 20
    outcomes = run_tests(pack, trained.model)
    failures = [
        f"{o.name} ({o.file}):\n{o.failure}\n  " + "\n  ".join(o.transcript) for o in outcomes if not o.passed
    ]
    assert not failures, f"{len(failures)} of {len(outcomes)} failed:\n\n" + "\n\n".join(failures)
