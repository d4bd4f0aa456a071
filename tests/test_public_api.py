"""The packages' public surface is what `__all__` says; changing it is a deliberate act."""

from __future__ import annotations

import engine.packs


def test_public_api_of_engine_packs_is_pinned() -> None:
    assert sorted(engine.packs.__all__) == [
        "CATALOGUE",
        "CheckResult",
        "Diagnostic",
        "Location",
        "Origin",
        "Pack",
        "PackInvalid",
        "Problem",
        "Severity",
        "check_pack",
        "load_pack",
        "pack_json_schema",
        "tests_json_schema",
    ]
    for name in engine.packs.__all__:
        assert hasattr(engine.packs, name), name
