"""The engine's configuration file, config.yml: which packs to serve and how.

Secrets never live here: values such as database URLs with passwords are read from the
environment variables this file names.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from engine.channels.settings import ChannelsConfig

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


class AgentConfig(BaseModel):
    """A person who works the agent console. The token itself is never stored: only its
    SHA-256 (`parley agent-token <id>` makes a token and prints the line to paste)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="The name customers and colleagues see, e.g. 'Alice'.")
    token_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="Hex SHA-256 of the agent's login token."
    )
    queues: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Queues the agent works (a queue name, 'pack/queue', or '*' for every queue).",
    )


class WebhookConfig(BaseModel):
    """A helpdesk (Zendesk-like) told about tickets: JSON POSTs signed with a shared secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="Where the notifications are POSTed (http or https).")
    secret_variable: str = Field(
        "PARLEY_HANDOFF_WEBHOOK_SECRET",
        description="Environment variable holding the shared secret the body is signed with.",
    )
    events: list[str] = Field(
        default_factory=lambda: ["ticket.created"],
        description="Which ticket events to send: ticket.created, ticket.claimed, ticket.transferred, "
        "ticket.reprioritized, ticket.handed_back, ticket.closed, ticket.expired, or '*'.",
    )
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds to wait for the receiver.")
    max_attempts: int = Field(
        20, ge=1, le=40, description="Attempts before a notification is given up (20: about 2.5 hours)."
    )


#: The dialogue policies, in the order they are asked, when config.yml names none.
DEFAULT_POLICIES = ("escalation", "repair", "flow", "fallback")

DEFAULT_RESOLUTIONS = {
    "resolved": "The customer's problem was solved.",
    "follow_up": "Solved for now; the team follows up outside the chat.",
    "redirected": "The customer was sent elsewhere (phone, email, a store).",
    "no_response": "The customer stopped answering.",
    "duplicate": "Another ticket covers the same request.",
    "spam": "Not a real request.",
}


class HandoffConfig(BaseModel):
    """The handoff desk: agents of the console, ticket expiry, and the outbound webhook."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agents: dict[str, AgentConfig] = Field(
        default_factory=dict, description="Agent id (the login name) -> the agent."
    )
    expire_after_hours: float = Field(
        72.0, gt=0, description="A ticket nobody claimed for this long expires and the bot takes over."
    )
    sweep_seconds: float = Field(
        15.0, gt=0, le=3600, description="How often waiting tickets are checked against their limits."
    )
    resolutions: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_RESOLUTIONS),
        description="Resolution codes an agent closes a ticket with -> what each means.",
    )
    webhook: WebhookConfig | None = Field(None, description="An external helpdesk told about tickets.")

    @field_validator("agents")
    @classmethod
    def _one_token_per_agent(cls, agents: dict[str, AgentConfig]) -> dict[str, AgentConfig]:
        # The console knows an agent by their token: two with one token would both act as the first.
        owners: dict[str, str] = {}
        for agent_id, agent in agents.items():
            other = owners.setdefault(agent.token_sha256, agent_id)
            if other != agent_id:
                raise ValueError(
                    f"agents {other} and {agent_id} have the same token_sha256: give each their own "
                    f"(`parley agent-token {agent_id}` makes one)"
                )
        return agents


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
    handoff: HandoffConfig = Field(
        default_factory=HandoffConfig, description="Human handoff: the agent console and tickets."
    )
    channels: ChannelsConfig = Field(
        default_factory=ChannelsConfig,
        description="Messenger connectors (telegram, slack, facebook, whatsapp, botframework, twilio).",
    )
    policies: list[str] = Field(
        default_factory=lambda: list(DEFAULT_POLICIES),
        min_length=1,
        description="Dialogue policies by name, in the order they are asked; the first that decides wins "
        "(at least one; the default is escalation, repair, flow, fallback).",
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
