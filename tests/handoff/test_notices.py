"""The handoff desk's notices: every one has a built-in text, and the pack validator knows them."""

from __future__ import annotations

from engine.handoff.desk import DEFAULT_NOTICES
from engine.packs.rules import DESK_RESPONSES


def test_notices_the_desk_says_are_the_ones_the_validator_counts_as_used() -> None:
    assert set(DEFAULT_NOTICES) == DESK_RESPONSES
