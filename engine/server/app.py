"""The HTTP app: `create_app` wires a registry of assistants and the stores into FastAPI;
`build_app` builds all of it from config.yml; `app_from_environment` is the import-string
factory uvicorn's worker processes call (`parley run --workers N`)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread
import requests
from fastapi import FastAPI

from engine import __version__
from engine.config import ConfigError, EngineConfig, HandoffConfig, load_config
from engine.dialogue.actions import ActionResult, ActionRunner
from engine.dialogue.policy import build_policies
from engine.dialogue.runtime import Assistant
from engine.dialogue.tracker import Tracker
from engine.handoff.agents import AgentDirectory
from engine.handoff.desk import HandoffDesk
from engine.handoff.live import LiveChannels
from engine.handoff.store import InMemoryTicketStore, TicketStore
from engine.handoff.webhook import WebhookDispatcher
from engine.nlu import ModelError, ModelStore, NluModel
from engine.packs import Pack, PackInvalid
from engine.server import api, channels, console, health, rest
from engine.server.boundary import BodyGuardMiddleware, RequestContextMiddleware
from engine.server.channels import ChannelHub, ChannelSetup
from engine.server.errors import install_error_handlers
from engine.server.logs import configure_logging
from engine.server.metrics import Metrics
from engine.server.registry import AssistantRegistry, Served, load_served_pack
from engine.server.service import ConversationService
from engine.server.turns import TURN_THREADS, TurnRunner
from engine.stores.base import LockStore, StoreError, TrackerStore

log = logging.getLogger("engine.server")

#: Environment of the worker processes of `parley run --workers N` (read by app_from_environment).
CONFIG_VARIABLE = "PARLEY_CONFIG"
STUB_ACTIONS_VARIABLE = "PARLEY_STUB_ACTIONS"
LOG_LEVEL_VARIABLE = "PARLEY_LOG_LEVEL"
#: A file a worker process that cannot build the app writes the reason to, for `parley run`.
STARTUP_FAILURE_VARIABLE = "PARLEY_STARTUP_FAILURE_FILE"
#: What `build_app` (and reading config.yml) raise for a setup that cannot be served.
SETUP_ERRORS: tuple[type[Exception], ...] = (ConfigError, ModelError, PackInvalid, StoreError, ValueError)
#: uvicorn's exit code for a worker that failed before serving: its supervisor then stops instead
#: of starting the worker again (uvicorn.config.STARTUP_FAILURE).
UVICORN_STARTUP_FAILURE = 3
WEBCHAT_MODULE = "engine.server.webchat"

DESCRIPTION = """\
Parley serves the assistants of its packs.

**REST channel** (Rasa's): `POST /webhooks/rest/webhook` with `{"sender", "message", "metadata"?}`
answers the bot's messages `[{"recipient_id", "text"?, "buttons"?, "image"?, "custom"?}]`, after
storing every event of the turn. `/webhooks/rest/webhook` goes to the default pack (the first of
config.yml), `/packs/{pack}/webhooks/rest/webhook` to a named one. Messages may have up to 4,000
characters; the NLU reads the first 1,000. An optional `message_id` (Parley's addition) makes
retries safe: a message sent again with the same id is answered from the stored turn.

**Conversation API** (`/api/...`): `Authorization: Bearer <token>`, the token being the value of
the environment variable `server.token_variable` names (PARLEY_API_TOKEN). PII slot values are
`[redacted]` unless `include_pii=true`.

**Errors** are JSON: `{"error": {"code", "message", ...}}`. Bodies are checked before anything
reads them: 413 `body_too_large`, 415 `unsupported_media_type` (send application/json; a body
without a content type is taken as JSON), 400 `invalid_json` / `invalid_utf8`, 422
`invalid_request` (missing fields, wrong types, too long). A message whose conversation stays
busy gets 503 `conversation_busy` with `Retry-After`: it was not processed, send it again.

**Models** are swapped in while serving when `parley train` makes a new one current; a model that
fails to load never replaces the one serving. A changed pack is served once it is trained.
"""


@dataclass(frozen=True)
class ServerSettings:
    """How the app behaves (config.yml's server section and the environment, resolved)."""

    max_body_bytes: int = 65536
    #: The conversation API's bearer token; None disables the API (503).
    api_token: str | None = None
    token_variable: str = "PARLEY_API_TOKEN"
    #: Seconds a message waits for its conversation's lock before 503.
    lock_wait: float = 10.0
    #: Seconds between checks for new models; None: only /ready checks.
    reload_interval: float | None = 1.0
    turn_threads: int = TURN_THREADS


@dataclass(frozen=True)
class HandoffSetup:
    """The handoff desk's parts: where tickets are kept, the agents of the console, how customers'
    open connections hear of agents' messages, and config.yml's handoff section."""

    tickets: TicketStore = field(default_factory=InMemoryTicketStore)
    agents: AgentDirectory = field(default_factory=lambda: AgentDirectory({}))
    live: LiveChannels = field(default_factory=LiveChannels)
    config: HandoffConfig = field(default_factory=HandoffConfig)
    #: Delivers the outbound webhook's notifications (None: no webhook configured).
    webhook: WebhookDispatcher | None = None
    #: The desk's clock (tests give the assistants' fake one).
    clock: Callable[[], float] = time.time


def create_app(
    registry: AssistantRegistry,
    trackers: TrackerStore,
    locks: LockStore,
    settings: ServerSettings | None = None,
    *,
    handoff: HandoffSetup | None = None,
    messengers: ChannelSetup | None = None,
    on_close: Sequence[Callable[[], None]] = (),
) -> FastAPI:
    """The app serving `registry`'s assistants. The stores (and `on_close`) are closed when the
    app shuts down. `app.state` holds `conversations` (the ConversationService), `turns` (the
    TurnRunner channels use), `desk` (the HandoffDesk), `channels` (the messenger connectors'
    ChannelHub), `registry`, `metrics` and `settings`."""
    settings = settings or ServerSettings()
    handoff = handoff or HandoffSetup()
    messengers = messengers or ChannelSetup()
    metrics = Metrics()
    service = ConversationService(
        registry.assistant, registry.names, trackers, locks, lock_wait=settings.lock_wait
    )
    desk = HandoffDesk(
        handoff.tickets,
        service,
        handoff.agents,
        live=handoff.live,
        resolutions=handoff.config.resolutions,
        expire_after_seconds=handoff.config.expire_after_hours * 3600,
        webhook=handoff.config.webhook,
        clock=handoff.clock,
    )
    service.desk = desk  # the desk's hooks run around every customer turn
    turns = TurnRunner(service, metrics, threads=settings.turn_threads)
    hub = ChannelHub(messengers, turns, metrics)
    if hub.channels:
        desk.relay = hub.relay  # agents' messages reach customers on messengers too
    for name in registry.names:
        metrics.serving(name, registry.served(name).model_id)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The models, packs and libraries loaded so far live as long as the process: keep them
        # out of the garbage collector's full passes, which would otherwise walk hundreds of
        # thousands of objects and stall a turn for tens of milliseconds now and then.
        gc.collect()
        gc.freeze()
        tasks = [asyncio.create_task(_sweep_tickets(desk, handoff.config.sweep_seconds))]
        if settings.reload_interval:
            tasks.append(asyncio.create_task(_watch_models(registry, metrics, settings.reload_interval)))
        if hub.channels:
            tasks.append(asyncio.create_task(hub.run_sweeper()))
        if handoff.webhook is not None:
            handoff.webhook.start()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await hub.stop()
            stop_webhook = [handoff.webhook.stop] if handoff.webhook is not None else []
            closing = (
                *stop_webhook,
                handoff.live.close,
                handoff.tickets.close,
                messengers.inbox.close,
                trackers.close,
                locks.close,
            )
            for close in (*closing, *on_close):
                try:
                    close()
                except Exception:
                    log.exception("closing %s failed", getattr(close, "__qualname__", close))

    app = FastAPI(title="Parley", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.conversations = service
    app.state.desk = desk
    app.state.channels = hub
    app.state.turns = turns
    app.state.registry = registry
    app.state.metrics = metrics
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(rest.router)
    app.include_router(channels.router)  # after REST's: /webhooks/rest/webhook is REST's own
    app.include_router(api.router)
    app.include_router(console.analytics_router)
    app.include_router(console.page_router)
    app.include_router(console.router)
    _include_webchat(app)
    app.add_middleware(BodyGuardMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)  # outermost: ids on every answer
    return app


def _include_webchat(app: FastAPI) -> None:
    try:
        webchat = importlib.import_module(WEBCHAT_MODULE)
    except ModuleNotFoundError as error:
        if error.name != WEBCHAT_MODULE:
            raise
        return
    app.include_router(webchat.router)


async def _sweep_tickets(desk: HandoffDesk, interval: float) -> None:
    """Apply the queues' wait limits and expire abandoned tickets, every `interval` seconds."""
    while True:
        await asyncio.sleep(interval)
        try:
            report = await anyio.to_thread.run_sync(desk.sweep)
        except Exception:
            log.exception("checking waiting tickets failed (tried again in %g s)", interval)
            continue
        if report.reprioritized or report.expired:
            log.info("waiting tickets: %d reprioritized, %d expired", report.reprioritized, report.expired)


async def _watch_models(registry: AssistantRegistry, metrics: Metrics, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            # Not on the turns' threads: a slow reload must not take a thread from customers.
            reloads = await anyio.to_thread.run_sync(registry.refresh)
        except Exception:
            log.exception("checking for new models failed")
            continue
        health.record_reloads(metrics, registry, reloads)


# -- from config.yml -------------------------------------------------------------------------
class SucceedingActions:
    """Custom actions stubbed for `parley run --stub-actions`: each succeeds and does nothing.
    (StubActionRunner records every call, which a long-running server must not.)"""

    def run(self, action: str, tracker: Tracker) -> ActionResult:
        return ActionResult()


def build_app(
    config: EngineConfig,
    *,
    packs: Sequence[Pack] | None = None,
    stub_actions: bool = False,
    action_url: str | None = None,
    reload_interval: float | None = 1.0,
) -> FastAPI:
    """The app for config.yml's packs with their current models and the configured stores.

    `packs`: the packs already loaded (else read from config.packs); `action_url`: where the
    action server answers (default: action_server.url or PARLEY_ACTION_SERVER_URL). Raises
    `PackInvalid`, `ModelError` (a pack without a usable model), `StoreError` and `ValueError`
    (unknown policy names, no packs).
    """
    from engine.actions.runner import circuit_breaker, http_action_runner
    from engine.stores.factory import lock_store, tracker_store

    if packs is None:
        packs = [load_served_pack(Path(folder)) for folder in config.packs]
    if not packs:
        raise ValueError("no packs to serve: list pack folders under `packs:` in config.yml")
    policy_names = list(config.policies)
    build_policies(policy_names)  # unknown names fail now, with the list of known ones
    settings = config.action_server
    url = action_url or settings.resolved_url()
    breaker = circuit_breaker(settings)
    sessions: list[requests.Session] = []

    def actions_for(pack: Pack, previous: Served | None) -> ActionRunner:
        if stub_actions:
            return SucceedingActions()
        if previous is not None and previous.pack is pack:
            return previous.assistant.actions  # same pack, same domain: keep the runner
        runner = http_action_runner(
            pack,
            settings,
            url,
            breaker=breaker,
            session=sessions[0] if sessions else None,
            shared=len(packs) > 1,
        )
        if not sessions:
            sessions.append(runner.session)
        return runner

    def build(pack: Pack, model: NluModel, previous: Served | None) -> Assistant:
        return Assistant(
            pack, model, actions=actions_for(pack, previous), policies=build_policies(policy_names)
        )

    registry = AssistantRegistry.from_models(packs, ModelStore(Path(config.models)), build)
    trackers = tracker_store(config.stores)
    try:
        locks = lock_store(config.stores)
    except Exception:
        trackers.close()
        raise
    server = config.server
    app_settings = ServerSettings(
        max_body_bytes=server.max_body_bytes,
        api_token=os.environ.get(server.token_variable) or None,
        token_variable=server.token_variable,
        lock_wait=config.stores.lock_wait_seconds,
        reload_interval=reload_interval,
    )

    def close_sessions() -> None:
        for session in sessions:
            session.close()

    try:
        handoff = handoff_setup(config, trackers)
    except Exception:
        trackers.close()
        locks.close()
        raise
    try:
        messengers = messenger_setup(config, trackers, registry.names)
    except Exception:
        for close in (handoff.live.close, handoff.tickets.close, trackers.close, locks.close):
            close()
        raise
    return create_app(
        registry,
        trackers,
        locks,
        app_settings,
        handoff=handoff,
        messengers=messengers,
        on_close=[close_sessions],
    )


def messenger_setup(config: EngineConfig, trackers: TrackerStore, packs: Sequence[str]) -> ChannelSetup:
    """The connectors config.yml switches on, their inbox in the tracker store's database (in
    memory beside a memory:// tracker store). Raises `ChannelSetupError` (a credential missing
    from the environment, a pack not served)."""
    from engine.channels.inbox import Inbox, InMemoryInbox, SqlInbox
    from engine.channels.registry import build_channels
    from engine.stores.sql import SqlTrackerStore

    built = build_channels(config.channels, packs)
    inbox: Inbox = SqlInbox(trackers) if isinstance(trackers, SqlTrackerStore) else InMemoryInbox()
    return ChannelSetup(built, inbox)


def handoff_setup(config: EngineConfig, trackers: TrackerStore) -> HandoffSetup:
    """Tickets in the tracker store's database (in memory beside a memory:// tracker store);
    live pushes through Redis when the lock store is Redis (several workers), else in-process;
    the webhook when config.yml has one. Raises `ValueError` for a webhook without its secret."""
    from engine.handoff.agents import AgentDirectory
    from engine.stores.factory import is_in_process
    from engine.stores.sql import SqlTrackerStore

    tickets: TicketStore
    if isinstance(trackers, SqlTrackerStore):
        from engine.handoff.sql import SqlTicketStore

        tickets = SqlTicketStore(trackers)
    else:
        tickets = InMemoryTicketStore()
    live: LiveChannels
    if is_in_process(config.stores):
        live = LiveChannels()
    else:
        from engine.handoff.live import RedisLiveChannels

        live = RedisLiveChannels(config.stores.lock_url())
    settings = config.handoff
    webhook = WebhookDispatcher.from_config(tickets, settings.webhook) if settings.webhook else None
    return HandoffSetup(tickets, AgentDirectory(settings.agents), live, settings, webhook)


def app_from_environment() -> FastAPI:
    """The app of PARLEY_CONFIG (default config.yml), for uvicorn's worker processes; logs JSON at
    PARLEY_LOG_LEVEL; PARLEY_STUB_ACTIONS=1 stubs custom actions. A setup that cannot be served
    ends the process with uvicorn's start-up failure code, the reason in PARLEY_STARTUP_FAILURE_FILE."""
    configure_logging(os.environ.get(LOG_LEVEL_VARIABLE, "INFO"))
    try:
        config = load_config(Path(os.environ.get(CONFIG_VARIABLE, "config.yml")))
        return build_app(config, stub_actions=os.environ.get(STUB_ACTIONS_VARIABLE) == "1")
    except SETUP_ERRORS as error:
        # Every worker would fail the same way: say why and stop, instead of being restarted.
        log.error("the server cannot start: %s", error)
        report = os.environ.get(STARTUP_FAILURE_VARIABLE)
        if report:
            Path(report).write_text(str(error), encoding="utf-8")
        sys.exit(UVICORN_STARTUP_FAILURE)
