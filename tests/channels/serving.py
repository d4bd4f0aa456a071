"""The retail assistant served with messenger connectors pointed at a local fake platform.

`serve(names, ...)` builds the app (real stores on a SQLite file, stubbed custom actions, the
connectors built from their `<name>_platform.config(...)` and test environment exactly as
`parley run` builds them) and returns a `Messengers` to post platform deliveries with and wait
for the replies the fake platform received.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from engine.channels.inbox import SqlInbox
from engine.channels.registry import Channel, channel
from engine.channels.sender import Sender
from engine.config import AgentConfig
from engine.dialogue.actions import ActionStub, StubActionRunner
from engine.dialogue.runtime import Assistant
from engine.handoff.agents import AgentDirectory, token_hash
from engine.handoff.sql import SqlTicketStore
from engine.server import AssistantRegistry, ServerSettings, create_app
from engine.server.app import HandoffSetup
from engine.server.channels import ChannelHub, ChannelSetup
from engine.stores.memory import InProcessLockStore
from engine.stores.sql import SqlTrackerStore
from tests.channels.fake_platform import Captured, Delivery, FakePlatform
from tests.conftest import Trained

BASE = "http://testserver"
NAMES = ("telegram", "slack", "facebook", "whatsapp", "botframework", "twilio")
AGENT_ID, AGENT_TOKEN = "alice", "alice-console-token"
STUBS: dict[str, ActionStub] = {
    "validate_order_id": ActionStub(),
    "action_verify_customer": ActionStub(slots={"customer_verified": True}),
    "action_lookup_order": ActionStub(
        slots={
            "order_state": "dispatched",
            "carrier": "DPD",
            "delivery_eta": "2026-11-24",
            "order_total": 59.99,
        }
    ),
}


def platform_module(name: str) -> ModuleType:
    return importlib.import_module(f"tests.channels.{name}_platform")


@dataclass
class Messengers:
    client: TestClient
    platform: FakePlatform
    hub: ChannelHub
    trackers: SqlTrackerStore
    sleeps: list[float] = field(default_factory=list)

    def deliver(self, name: str, delivery: Delivery) -> httpx.Response:
        """POST (or GET) a platform's delivery to its webhook; waits until what it started is done."""
        url = f"/webhooks/{name}/webhook{delivery.path_and_query}"
        response = self.client.request(
            delivery.method, url, content=delivery.body, headers=dict(delivery.headers)
        )
        self.settle()
        return response

    def settle(self) -> None:
        """Wait for the messages being processed and relayed."""
        portal = self.client.portal
        assert portal is not None
        portal.call(self.hub.idle)

    def say(self, name: str, sender: str, text: str, message_id: str) -> list[Captured]:
        """The customer writes `text`; returns the API calls it caused."""
        module = platform_module(name)
        before = len(self.platform.calls)
        delivery = module.customer_text(
            sender,
            text,
            message_id,
            now=time.time(),
            webhook_url=BASE + module.WEBHOOK,
            api_url=self.platform.url,
        )
        response = self.deliver(name, delivery)
        assert response.status_code == 200, response.text
        return self.platform.calls[before:]

    def click(self, name: str, sender: str, title: str, payload: str, message_id: str) -> list[Captured]:
        module = platform_module(name)
        before = len(self.platform.calls)
        delivery = module.customer_click(
            sender,
            title,
            payload,
            message_id,
            now=time.time(),
            webhook_url=BASE + module.WEBHOOK,
            api_url=self.platform.url,
        )
        response = self.deliver(name, delivery)
        assert response.status_code == 200, response.text
        return self.platform.calls[before:]


def texts(name: str, calls: list[Captured]) -> list[str]:
    module = platform_module(name)
    return [text for call in calls for text in module.sent_texts(call)]


def buttons(name: str, calls: list[Captured]) -> list[tuple[str, str]]:
    module = platform_module(name)
    return [button for call in calls for button in module.sent_buttons(call)]


def rotating(retail: Trained) -> Assistant:
    """The retail assistant saying each response's variations in order (exact texts in tests)."""
    settings = retail.pack.settings
    responses = settings.responses.model_copy(update={"selection": "rotate"})
    pack = dataclasses.replace(retail.pack, settings=settings.model_copy(update={"responses": responses}))
    return Assistant(pack, retail.model, actions=StubActionRunner(STUBS), seed=1)


@pytest.fixture
def serve(
    retail: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Messengers]]:
    """`serve(names=NAMES, clock=time.time, max_attempts=4, environ=None, lock_wait=10)`: the
    app with those connectors on (`environ` adds to the platforms' test credentials)."""
    made: list[tuple[TestClient, FakePlatform]] = []

    def make(
        names: tuple[str, ...] = NAMES,
        *,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 4,
        environ: Mapping[str, str] | None = None,
        lock_wait: float = 10.0,
    ) -> Messengers:
        platform = FakePlatform()
        trackers = SqlTrackerStore(f"sqlite:///{tmp_path / 'parley.sqlite'}")
        sleeps: list[float] = []
        channels: dict[str, Channel] = {}
        for name in names:
            module = platform_module(name)
            settings = module.config(platform.url).model_copy(update={"max_attempts": max_attempts})
            built = channel(name, settings, "retail", {**module.ENVIRON, **(environ or {})})
            sender = Sender(
                built.sender.session, max_attempts=max_attempts, max_retry_after=30.0, sleep=sleeps.append
            )
            channels[name] = dataclasses.replace(built, sender=sender)
            if name == "botframework":
                platform.script(200, module.token_answer(), path="/token")
        agents = AgentDirectory({AGENT_ID: AgentConfig(name="Alice", token_sha256=token_hash(AGENT_TOKEN))})
        app = create_app(
            AssistantRegistry.fixed([rotating(retail_trained)]),
            trackers,
            InProcessLockStore(),
            ServerSettings(reload_interval=None, lock_wait=lock_wait),
            handoff=HandoffSetup(tickets=SqlTicketStore(trackers), agents=agents),
            messengers=ChannelSetup(channels, SqlInbox(trackers), clock=clock, sweep_seconds=3600),
        )
        client = TestClient(app, base_url=BASE, raise_server_exceptions=False)
        client.__enter__()
        made.append((client, platform))
        return Messengers(client, platform, app.state.channels, trackers, sleeps)

    retail_trained = retail
    yield make
    for client, platform in made:
        client.__exit__(None, None, None)
        platform.close()


def console_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {AGENT_TOKEN}"}


def json_of(calls: list[Captured]) -> list[Any]:
    return [call.json() if call.body.startswith(b"{") else call.form() for call in calls]
