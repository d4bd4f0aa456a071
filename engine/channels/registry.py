"""The connectors config.yml switches on, built with their credentials from the environment."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.channels.base import Connector
from engine.channels.sender import POOL_SIZE, Sender
from engine.channels.settings import ChannelConfig, ChannelsConfig, MissingCredential
from engine.http import pooled_session

#: Connector name (its webhook is /webhooks/<name>/webhook) -> module and class.
CONNECTORS: dict[str, tuple[str, str]] = {
    "telegram": ("engine.channels.telegram", "TelegramConnector"),
    "slack": ("engine.channels.slack", "SlackConnector"),
    "facebook": ("engine.channels.facebook", "FacebookConnector"),
    "whatsapp": ("engine.channels.whatsapp", "WhatsAppConnector"),
    "botframework": ("engine.channels.botframework", "BotFrameworkConnector"),
    "twilio": ("engine.channels.twilio", "TwilioConnector"),
}


class ChannelSetupError(ValueError):
    """A connector that is on cannot start: a missing credential, a pack not served."""


@dataclass(frozen=True)
class Channel:
    """A connector that is on: the pack it serves and the sender of its replies."""

    name: str
    pack: str
    connector: Connector
    sender: Sender

    def close(self) -> None:
        self.connector.close()
        self.sender.session.close()


def connector_class(name: str) -> Any:
    module, cls = CONNECTORS[name]
    return getattr(importlib.import_module(module), cls)


def channel(
    name: str, settings: ChannelConfig, pack: str, environ: Mapping[str, str] | None = None
) -> Channel:
    """One connector with a pooled session of its own; raises `MissingCredential`."""
    session = pooled_session(POOL_SIZE)
    try:
        connector = connector_class(name).from_config(settings, session, environ)
    except Exception:
        session.close()
        raise
    sender = Sender(
        session,
        max_attempts=settings.max_attempts,
        max_retry_after=settings.max_retry_after,
        timeout=settings.timeout,
    )
    return Channel(name, pack, connector, sender)


def build_channels(
    config: ChannelsConfig, packs: Sequence[str], environ: Mapping[str, str] | None = None
) -> dict[str, Channel]:
    """The connectors that are on; raises `ChannelSetupError` naming every problem at once."""
    built: dict[str, Channel] = {}
    problems: list[str] = []
    for name, settings in config.enabled().items():
        pack = settings.pack or (packs[0] if packs else "")
        if pack not in packs:
            problems.append(
                f"channels.{name}.pack: '{pack}' is not served here (config.yml packs: {', '.join(packs)})"
            )
            continue
        try:
            built[name] = channel(name, settings, pack, environ)
        except (MissingCredential, ValueError) as error:  # ValueError: a setting it cannot use
            problems.append(str(error))
    if problems:
        for made in built.values():
            made.close()
        raise ChannelSetupError("; ".join(problems))
    return built


def check_channels(
    config: ChannelsConfig, packs: Sequence[str], environ: Mapping[str, str] | None = None
) -> None:
    """Raise `ChannelSetupError` when a connector that is on could not start."""
    for made in build_channels(config, packs, environ).values():
        made.close()
