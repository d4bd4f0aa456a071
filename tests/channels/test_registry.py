"""config.yml's `channels:` section and the connectors built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.channels.registry import CONNECTORS, ChannelSetupError, build_channels
from engine.config import ConfigError, load_config
from tests.channels.serving import NAMES, platform_module


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_listed_connectors_are_on_unless_switched_off(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "packs: [domains/retail]\nchannels:\n  telegram: {pack: retail}\n  twilio: {enabled: false}\n",
        )
    )

    assert list(config.channels.enabled()) == ["telegram"]
    assert config.channels.telegram is not None and config.channels.telegram.pack == "retail"


def test_an_unknown_connector_or_setting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"channels\.viber"):
        load_config(write(tmp_path, "channels:\n  viber: {}\n"))
    with pytest.raises(ConfigError, match=r"channels\.slack\.signing_secret"):
        load_config(write(tmp_path, "channels:\n  slack: {signing_secret: s3cret}\n"))


def test_every_connector_builds_from_its_settings_and_environment_without_calling_out(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    for name in NAMES:
        environ.update(platform_module(name).ENVIRON)
    sections = "".join(f"  {name}: {{}}\n" for name in NAMES)
    # botframework needs keys to check tokens: its test settings name a JWKS file.
    config = load_config(write(tmp_path, f"channels:\n{sections}")).channels.model_copy(
        update={"botframework": platform_module("botframework").config("http://127.0.0.1:9")}
    )

    built = build_channels(config, ["retail"], environ)

    assert sorted(built) == sorted(CONNECTORS)
    assert {channel.pack for channel in built.values()} == {"retail"}
    for channel in built.values():
        channel.close()


def test_missing_credentials_and_unserved_packs_are_named_all_at_once(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "channels:\n  telegram: {}\n  slack: {pack: billing}\n  twilio: {account_sid: AC1}\n")
    ).channels

    with pytest.raises(ChannelSetupError) as raised:
        build_channels(config, ["retail"], environ={"PARLEY_TELEGRAM_TOKEN": "1:abc"})

    message = str(raised.value)
    assert "channels.telegram: the environment variable PARLEY_TELEGRAM_SECRET_TOKEN is not set" in message
    assert "channels.slack.pack: 'billing' is not served here (config.yml packs: retail)" in message
    assert "PARLEY_TWILIO_AUTH_TOKEN" in message


def test_a_setting_a_connector_cannot_use_is_named_with_the_other_problems(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    text = f"channels:\n  botframework: {{jwks_file: '{missing}'}}\n  twilio: {{}}\n"
    config = load_config(write(tmp_path, text)).channels
    environ = dict(platform_module("botframework").ENVIRON)

    with pytest.raises(ChannelSetupError) as raised:
        build_channels(config, ["retail"], environ)

    message = str(raised.value)
    assert f"channels.botframework.jwks_file: cannot read {missing}" in message
    assert "PARLEY_TWILIO_ACCOUNT_SID" in message
