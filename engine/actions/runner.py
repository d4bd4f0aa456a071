"""The action server of config.yml, as `parley shell` and `parley run` use it: find it running or
start the example one from `action_server.start`, then call it with an `HttpActionRunner`."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from engine.actions.circuit import CircuitBreaker
from engine.actions.client import HttpActionRunner
from engine.actions.process import ActionServerFailed, ActionServerProcess, port_of, server_is_up
from engine.config import ActionServerConfig
from engine.packs import Pack

#: Hosts on which `action_server.start` may start the example action server.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class ActionServerStatus:
    """Where custom actions go. `problem` says why calls will fail (nothing answers there)."""

    url: str
    started: bool = False
    problem: str | None = None


def ensure_action_server(settings: ActionServerConfig, stack: ExitStack) -> ActionServerStatus:
    """The action server at `settings.url` (or PARLEY_ACTION_SERVER_URL) when one answers there;
    otherwise the package `settings.start` started on that port, stopped when `stack` closes.
    Never raises: a server that cannot be reached or started is reported in `problem` (callers add
    what the user can do about it)."""
    url = settings.resolved_url()
    if server_is_up(url):
        return ActionServerStatus(url)
    if settings.start is None:
        return ActionServerStatus(url, problem=f"no action server answers at {url}: custom actions will fail")
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        # A remote server that is down is a problem to report, never a reason to send customers'
        # requests to the demo actions on this machine instead.
        return ActionServerStatus(
            url,
            problem=f"no action server answers at {url}: custom actions will fail "
            f"(action_server.start only runs on this machine, for a 127.0.0.1 or localhost url)",
        )
    server = ActionServerProcess(settings.start, port=port_of(url))
    try:
        stack.enter_context(server)
    except ActionServerFailed as error:
        return ActionServerStatus(url, problem=f"{error}; custom actions will fail")
    return ActionServerStatus(server.webhook_url, started=True)


def circuit_breaker(settings: ActionServerConfig) -> CircuitBreaker:
    """One breaker per action server: share it between the runners that call the same server."""
    return CircuitBreaker(settings.failures_to_open, settings.reset_after_seconds)


def http_action_runner(
    pack: Pack,
    settings: ActionServerConfig,
    url: str,
    *,
    breaker: CircuitBreaker | None = None,
    session: requests.Session | None = None,
    shared: bool = False,
) -> HttpActionRunner:
    """A runner for `pack`'s custom actions on `url`, with the timeouts and breaker of config.yml.
    `shared`: other packs call the same server (the domain is then sent with every call)."""
    return HttpActionRunner(
        pack,
        url,
        timeout=settings.timeout,
        breaker=breaker or circuit_breaker(settings),
        session=session,
        always_send_domain=shared,
    )
