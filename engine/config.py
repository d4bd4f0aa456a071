"""The engine's configuration file, config.yml: which packs to serve and how.

Secrets never live here: values such as database URLs with passwords are read from the
environment variables this file names.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

DEFAULT_CONFIG = Path("config.yml")


class ConfigError(Exception):
    """config.yml is missing, malformed or has values that are not allowed."""


class ActionServerConfig(BaseModel):
    """Where custom actions run, and how patiently they are called."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        "http://127.0.0.1:5055/webhook",
        description="The action server's webhook; the environment variable PARLEY_ACTION_SERVER_URL "
        "overrides it.",
    )
    timeout: float = Field(10.0, gt=0, le=300, description="Seconds to wait when a pack action gives none.")
    failures_to_open: int = Field(
        5, ge=1, description="Failures in a row after which the server is not called for a while."
    )
    reset_after_seconds: float = Field(30.0, gt=0, description="How long a failing server is left alone.")
    start: str | None = Field(
        None,
        description="A Python package of rasa_sdk actions that `parley shell` starts as the action "
        "server on `url`'s port, for local development (e.g. `actions`).",
    )

    def resolved_url(self) -> str:
        return os.environ.get(ACTION_SERVER_URL_VARIABLE) or self.url


ACTION_SERVER_URL_VARIABLE = "PARLEY_ACTION_SERVER_URL"


class EngineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    packs: list[str] = Field(default_factory=list, description="Pack folders to validate, train and serve.")
    models: str = Field(
        "models", description="Folder where `parley train` writes models (one folder per pack)."
    )
    reports: str = Field("reports", description="Folder where `parley evaluate` writes its reports.")
    action_server: ActionServerConfig = Field(
        default_factory=ActionServerConfig, description="The custom action server (Rasa SDK protocol)."
    )
    policies: list[str] = Field(
        default_factory=lambda: ["escalation", "repair", "flow", "fallback"],
        description="Dialogue policies by name, in the order they are asked; the first that decides wins.",
    )


def load_config(path: Path = DEFAULT_CONFIG) -> EngineConfig:
    """Read config.yml. A missing file gives the defaults; a broken one raises ConfigError."""
    if not path.exists():
        return EngineConfig()
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except (OSError, YAMLError) as error:
        raise ConfigError(f"{path}: cannot read configuration: {error}") from None
    try:
        return EngineConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise ConfigError(f"{path}: {problems}") from None
