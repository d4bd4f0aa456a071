"""Fixtures of the server tests.

- `make_server(...)` builds the app in-process on the dialogue tests' small packs (`make_pack`
  with the ORDERS body: a PII `email` slot, an order lookup action, a general queue) and the fake
  NLU, with in-memory stores; `Server.client` is a TestClient, `Server.post(...)` sends a
  REST-channel message.
- `SHOP` is a tiny pack the real NLU trains in a fraction of a second (`write_shop`), for hot
  reload and the real server.
- `BrokenStore`: a tracker store whose writes and checks fail.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.10 prefers the httpx2 package for its TestClient; httpx (the dev extra) still works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from engine.config import AgentConfig
from engine.dialogue.actions import ActionRunner, ActionStub, StubActionRunner
from engine.dialogue.events import Event
from engine.dialogue.runtime import Assistant
from engine.handoff.agents import AgentDirectory, token_hash
from engine.packs import Pack
from engine.server import AssistantRegistry, ServerSettings, create_app
from engine.server.app import HandoffSetup
from engine.server.logs import json_handler
from engine.stores.base import StoreError
from engine.stores.memory import InMemoryTrackerStore, InProcessLockStore
from tests.dialogue.conftest import (  # noqa: F401 (fixtures)
    ORDER_READINGS,
    ORDERS,
    READINGS,
    FakeClock,
    FakeParser,
    Reading,
    clock,
    make_pack,
)
from tests.server.browser import chromium  # noqa: F401 (the browser tests' fixture)

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: Agents of the console (id -> token) in `make_server`'s apps.
AGENTS = {"alice": "alice-token", "bob": "bob-token"}

#: A pack small enough to train in well under a second; `{greeting}` is the greet response.
SHOP = """\
pack: shop
version: 1.0.0
language: en
settings:
  repair: {{digression: false, correction: false, clarification: false, cancel: false,
    restart: false, repeat: false, help: false, human: false}}
  fallback: {{threshold: 0.3}}
intents:
  greet:
    examples: [hi, hello, hey there, good morning, hello bot, hi there, good evening, hey]
  order_status:
    examples: [where is my order, track my parcel, has my order shipped, when will my order arrive,
      where is my parcel, status of my order, my delivery is late, track order]
responses:
  ask_rephrase: Sorry?
  greet: {greeting}
  order_state: Your order is on its way.
flows:
  greet:
    description: say hello
    trigger: {{intents: [greet]}}
    steps:
      - respond: greet
  order_status:
    description: check an order
    trigger: {{intents: [order_status]}}
    steps:
      - respond: order_state
"""


def write_shop(folder: Path, greeting: str = "Hello!") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yml").write_text(SHOP.format(greeting=greeting), encoding="utf-8")
    return folder


class BrokenStore(InMemoryTrackerStore):
    """Reads work; writes and checks fail, as with a database that went read-only."""

    def append(self, pack: str, sender_id: str, events: Sequence[Event], *, expected: int) -> None:
        raise StoreError("tracker store sqlite:///x: database is locked")

    def check(self) -> None:
        raise StoreError("tracker store sqlite:///x: database is locked")


@dataclass
class Server:
    client: TestClient
    assistants: list[Assistant]
    trackers: InMemoryTrackerStore
    locks: InProcessLockStore
    logs: io.StringIO = field(default_factory=io.StringIO)

    def post(self, sender: str, message: str, *, pack: str | None = None, **body: Any) -> Any:
        """A REST-channel message; returns the response."""
        path = f"/packs/{pack}/webhooks/rest/webhook" if pack else "/webhooks/rest/webhook"
        return self.client.post(path, json={"sender": sender, "message": message, **body})

    def say(self, sender: str, message: str, *, pack: str | None = None) -> list[str | None]:
        """The bot's texts for a message (which must succeed)."""
        response = self.post(sender, message, pack=pack)
        assert response.status_code == 200, response.text
        return [m.get("text") for m in response.json()]

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.logs.getvalue().splitlines() if line.strip()]


@pytest.fixture
def make_server(make_pack: Callable[..., Pack], clock: FakeClock) -> Iterator[Callable[..., Server]]:  # noqa: F811
    """`make_server(names=..., stubs=..., token=..., trackers=..., **ServerSettings)`: the app on
    packs of the ORDERS body (or `body`), named `names` (the first is the default)."""
    clients: list[TestClient] = []
    handlers: list[logging.Handler] = []
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)

    def make(
        *,
        names: tuple[str, ...] = ("shop",),
        stubs: Mapping[str, ActionStub] | None = None,
        actions: ActionRunner | None = None,
        readings: Mapping[str, Reading | tuple[Any, ...]] | None = None,
        token: str | None = TOKEN,
        body: str = ORDERS,
        trackers: InMemoryTrackerStore | None = None,
        agents: Mapping[str, str] | None = None,
        **settings: Any,
    ) -> Server:
        assistants = [
            Assistant(
                make_pack(body, name=name),
                FakeParser({**READINGS, **ORDER_READINGS, **(readings or {})}),
                actions=actions or StubActionRunner(stubs or {}),
                seed=7,
                clock=clock,
            )
            for name in names
        ]
        trackers = trackers or InMemoryTrackerStore()
        locks = InProcessLockStore()
        app = create_app(
            AssistantRegistry.fixed(assistants),
            trackers,
            locks,
            ServerSettings(api_token=token, reload_interval=None, **settings),
            handoff=HandoffSetup(
                agents=AgentDirectory(
                    {
                        agent_id: AgentConfig(name=agent_id.title(), token_sha256=token_hash(agent_token))
                        for agent_id, agent_token in (agents or AGENTS).items()
                    }
                ),
                clock=clock,
            ),
        )
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        server = Server(client, assistants, trackers, locks)
        handler = json_handler(server.logs)
        root.addHandler(handler)
        handlers.append(handler)
        return server

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(level)
