"""config.yml: what load_config refuses, with the setting's path in the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigError, load_config


def test_config_refuses_two_agents_with_one_token(tmp_path: Path) -> None:
    digest = "ab" * 32
    config = tmp_path / "config.yml"
    config.write_text(
        "handoff:\n  agents:\n"
        f"    alice: {{name: Alice, token_sha256: '{digest}'}}\n"
        f"    bob: {{name: Bob, token_sha256: '{digest}'}}\n",
        encoding="utf-8",
    )

    with pytest.raises(ConfigError) as raised:
        load_config(config)

    assert "handoff.agents" in str(raised.value)
    assert "agents alice and bob have the same token_sha256" in str(raised.value)
    assert "parley agent-token bob" in str(raised.value)


def test_config_refuses_an_empty_policy_list(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("policies: []\n", encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        load_config(config)

    assert "policies" in str(raised.value) and "at least 1 item" in str(raised.value)
