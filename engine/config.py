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
        description="A Python package of rasa_sdk actions that `parley shell` and `parley run` start "
        "on `url`'s port when nothing answers there and the url is 127.0.0.1 or localhost, for "
        "local development (e.g. `actions`).",
    )

    def resolved_url(self) -> str:
        return os.environ.get(ACTION_SERVER_URL_VARIABLE) or self.url


ACTION_SERVER_URL_VARIABLE = "PARLEY_ACTION_SERVER_URL"
TRACKER_STORE_URL_VARIABLE = "PARLEY_TRACKER_STORE_URL"
LOCK_STORE_URL_VARIABLE = "PARLEY_LOCK_STORE_URL"


class StoresConfig(BaseModel):
    """Where conversations are kept and how their messages are serialized. URLs with passwords
    belong in the environment variables, not here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tracker: str = Field(
        "sqlite:///data/parley.sqlite",
        description="Tracker store: an SQLAlchemy URL (sqlite:///path, postgresql+psycopg://...) "
        "or memory:// (lost on restart). PARLEY_TRACKER_STORE_URL overrides it.",
    )
    lock: str = Field(
        "in-process",
        description="Lock store: in-process (one worker) or redis://host:port/db (several workers "
        "or machines). PARLEY_LOCK_STORE_URL overrides it.",
    )
    lock_wait_seconds: float = Field(
        10.0, gt=0, le=300, description="How long a message waits for its conversation's lock."
    )

    def tracker_url(self) -> str:
        return os.environ.get(TRACKER_STORE_URL_VARIABLE) or self.tracker

    def lock_url(self) -> str:
        return os.environ.get(LOCK_STORE_URL_VARIABLE) or self.lock


class ServerConfig(BaseModel):
    """The HTTP server of `parley run`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Interface to listen on (0.0.0.0 for every one).")
    port: int = Field(5005, ge=1, le=65535, description="Port (Rasa's 5005 by default).")
    max_body_bytes: int = Field(
        65536, ge=1024, description="Largest request body accepted; larger ones get 413."
    )
    token_variable: str = Field(
        "PARLEY_API_TOKEN",
        description="Environment variable holding the token of the conversation API "
        "(Authorization: Bearer <token>); without it the API answers 503.",
    )


class EngineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    packs: list[str] = Field(default_factory=list, description="Pack folders to validate, train and serve.")
    models: str = Field(
        "models", description="Folder where `parley train` writes models (one folder per pack)."
    )
    reports: str = Field("reports", description="Folder where `parley evaluate` writes its reports.")
    server: ServerConfig = Field(default_factory=ServerConfig, description="The HTTP server.")
    stores: StoresConfig = Field(default_factory=StoresConfig, description="Tracker and lock stores.")
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
