"""The engine's configuration file, config.yml: which packs to serve and how.

Secrets never live here: values such as database URLs with passwords are read from the
environment variables this file names.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

DEFAULT_CONFIG = Path("config.yml")


class ConfigError(Exception):
    """config.yml is missing, malformed or has values that are not allowed."""


class EngineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    packs: list[str] = Field(default_factory=list, description="Pack folders to validate, train and serve.")
    models: str = Field(
        "models", description="Folder where `parley train` writes models (one folder per pack)."
    )
    reports: str = Field("reports", description="Folder where `parley evaluate` writes its reports.")
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
