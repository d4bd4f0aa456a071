"""`parley run`: serve the packs of config.yml over HTTP.

1. validate every pack and train those whose model is stale (unchanged packs are skipped);
2. start the example action server from `action_server.start` unless one already answers on
   `action_server.url` (or `--stub-actions`: custom actions succeed and do nothing);
3. print the URLs of the web chat and the REST channel, and serve on uvicorn: one process by
   default; `--workers N` starts N processes, which needs stores they share (a Redis lock
   store and a tracker store other than memory://).

Logs are JSON lines on stderr. Ctrl-C stops the server and the action server it started.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from engine.cli_nlu import _console, _load, train_pack
from engine.cli_shared import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from engine.config import ACTION_SERVER_URL_VARIABLE, ConfigError, EngineConfig, load_config

if TYPE_CHECKING:
    from engine.packs import Pack

LOG_LEVELS = ("debug", "info", "warning", "error")
#: Largest WebSocket frame uvicorn accepts: a little above the web chat's own 4,096-byte limit.
WS_MAX_SIZE = 8192


def add_commands(commands: Any) -> None:
    """Register `run` on the `parley` sub-command parser."""
    run = commands.add_parser(
        "run", help="train what is stale and serve the packs of config.yml over HTTP (REST, web chat, API)"
    )
    run.add_argument("--host", help="interface to listen on (default: server.host in config.yml, 127.0.0.1)")
    run.add_argument("--port", type=_port, help="port (default: server.port in config.yml, 5005)")
    run.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="worker processes (default 1); more than one needs a Redis lock store and a shared "
        "tracker store",
    )
    run.add_argument(
        "--stub-actions",
        action="store_true",
        help="do not call an action server: custom actions succeed and do nothing",
    )
    run.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="default: info")
    run.set_defaults(handler=_run)

    agent = commands.add_parser(
        "agent-token", help="make a login token for an agent of the console, and its config.yml entry"
    )
    agent.add_argument("agent", type=_agent_id, help="the agent's id (login name), e.g. alice")
    agent.add_argument("--name", help="the name customers see (default: the id, capitalized)")
    agent.set_defaults(handler=_agent_token)


def _agent_id(text: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_.-]{0,63}", text):
        raise argparse.ArgumentTypeError(
            f"an agent id is 1 to 64 lower-case letters, digits and _.- starting with a letter, not {text!r}"
        )
    return text


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {text!r}")
    return int(text)


def _workers(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"workers must be a whole number of at least 1, not {text!r}")
    return int(text)


def workers_problems(config: EngineConfig, workers: int) -> list[str]:
    """Why the stores of config.yml cannot serve `workers` processes (empty when they can)."""
    from engine.stores.factory import is_in_process

    if workers <= 1:
        return []
    problems = []
    if is_in_process(config.stores):
        problems.append(
            f"--workers {workers} needs a lock store that every worker process shares, and the lock store "
            "is in-process: each worker would hold its own locks, so two messages of one conversation "
            "could be processed at once by two workers and events would be lost. Set stores.lock in "
            "config.yml (or PARLEY_LOCK_STORE_URL) to redis://host:port/db, or run one worker."
        )
    if config.stores.tracker_url().startswith("memory://"):
        problems.append(
            f"--workers {workers} needs a tracker store that every worker process shares, and the tracker "
            "store is memory://: each worker would keep its own conversations. Set stores.tracker (or "
            "PARLEY_TRACKER_STORE_URL) to an SQL database, or run one worker."
        )
    return problems


def _run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"parley: {error}", file=sys.stderr)
        return EXIT_USAGE
    problems = workers_problems(config, args.workers)
    if problems:
        for problem in problems:
            print(f"parley run: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not config.packs:
        print(f"parley run: {args.config} lists no packs to serve (packs: [...])", file=sys.stderr)
        return EXIT_USAGE
    console = _console()
    with ExitStack() as stack:
        # uvicorn stops on SIGTERM and then raises the signal again; ending the process there
        # would leave the action server we started running. Turned into SystemExit, it unwinds
        # this stack, which stops it.
        previous = signal.signal(signal.SIGTERM, _terminated)
        stack.callback(signal.signal, signal.SIGTERM, previous)
        packs = _prepare(console, config)
        if packs is None:
            return EXIT_FAILED
        action_url = _action_server(console, config, stack, stub=args.stub_actions)
        return _serve(console, config, args, packs, action_url, stack)


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _prepare(console: Console, config: EngineConfig) -> list[Pack] | None:
    """Every pack validated and its model up to date (trained when stale); None after printing
    what is wrong."""
    from engine.nlu import ModelStore

    store = ModelStore(Path(config.models))
    packs: list[Pack] = []
    for folder in config.packs:
        pack = _load(console, Path(folder))
        if pack is None or not train_pack(console, store, pack):
            return None
        packs.append(pack)
    return packs


def _action_server(console: Console, config: EngineConfig, stack: ExitStack, *, stub: bool) -> str | None:
    """Where custom actions go (None when stubbed); starts the example server when needed."""
    from engine.actions.runner import ensure_action_server

    if stub:
        console.print("custom actions are stubbed: they succeed and do nothing")
        return None
    status = ensure_action_server(config.action_server, stack)
    if status.problem is not None:
        hint = (
            ""
            if config.action_server.start
            else " (start one, set action_server.start, or use --stub-actions)"
        )
        console.print(f"[yellow]{escape(status.problem)}{escape(hint)}[/yellow]")
    elif status.started:
        console.print(
            f"started the action server ({escape(str(config.action_server.start))}) on {status.url}"
        )
    else:
        console.print(f"custom actions go to the action server on {status.url}")
    return status.url


def _serve(
    console: Console,
    config: EngineConfig,
    args: argparse.Namespace,
    packs: list[Pack],
    action_url: str | None,
    stack: ExitStack,
) -> int:
    import uvicorn

    from engine.channels.registry import check_channels
    from engine.server.app import (
        CONFIG_VARIABLE,
        LOG_LEVEL_VARIABLE,
        SETUP_ERRORS,
        STARTUP_FAILURE_VARIABLE,
        STUB_ACTIONS_VARIABLE,
        build_app,
    )
    from engine.server.logs import configure_logging
    from engine.server.metrics import MULTIPROCESS_VARIABLE

    host = args.host or config.server.host
    port = args.port or config.server.port
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{port}" if ":" not in shown else f"http://[{shown}]:{port}"
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,  # our JSON logging, configured below (and in each worker)
        "access_log": False,  # RequestContextMiddleware logs requests, with their ids
        "server_header": False,
        # uvicorn reads a whole WebSocket frame before the web chat can check its size.
        "ws_max_size": WS_MAX_SIZE,
    }
    if args.workers == 1:
        configure_logging(args.log_level)
        try:
            app = build_app(config, packs=packs, stub_actions=args.stub_actions, action_url=action_url)
        except SETUP_ERRORS as error:
            console.print(f"[red]parley run: {escape(str(error))}[/red]")
            return EXIT_FAILED
        _print_urls(console, base, packs, config)
        uvicorn.run(app, **options)
        return EXIT_OK
    # Worker processes build the app themselves from the environment.
    metrics_folder = tempfile.mkdtemp(prefix="parley-metrics-")
    stack.callback(shutil.rmtree, metrics_folder, ignore_errors=True)
    reports = tempfile.mkdtemp(prefix="parley-startup-")
    stack.callback(shutil.rmtree, reports, ignore_errors=True)
    startup_failure = Path(reports) / "failure.txt"
    os.environ.update(
        {
            STARTUP_FAILURE_VARIABLE: str(startup_failure),
            CONFIG_VARIABLE: str(Path(args.config).resolve()),
            LOG_LEVEL_VARIABLE: args.log_level,
            STUB_ACTIONS_VARIABLE: "1" if args.stub_actions else "0",
            MULTIPROCESS_VARIABLE: metrics_folder,
        }
    )
    if action_url is not None:
        os.environ[ACTION_SERVER_URL_VARIABLE] = action_url
    try:  # the workers would each fail on it: say it once, here
        check_channels(config.channels, [pack.name for pack in packs])
    except ValueError as error:
        console.print(f"[red]parley run: {escape(str(error))}[/red]")
        return EXIT_FAILED
    configure_logging(args.log_level)
    _print_urls(console, base, packs, config)
    uvicorn.run("engine.server.app:app_from_environment", factory=True, workers=args.workers, **options)
    if startup_failure.exists():  # a worker could not build the app; uvicorn stopped them all
        console.print(f"[red]parley run: {escape(startup_failure.read_text(encoding='utf-8'))}[/red]")
        return EXIT_FAILED
    return EXIT_OK


def _print_urls(console: Console, base: str, packs: list[Pack], config: EngineConfig) -> None:
    names = ", ".join(pack.name for pack in packs)
    console.print(f"[bold]serving {escape(names)}[/bold] (default: {escape(packs[0].name)})")
    console.print(f"  web chat:      [bold]{base}/[/bold]")
    agents = ", ".join(config.handoff.agents) or "none configured: see `parley agent-token`"
    console.print(f"  agent console: [bold]{base}/console[/bold] (agents: {escape(agents)})")
    console.print(f"  REST channel:  {base}/webhooks/rest/webhook")
    for name in config.channels.enabled():
        console.print(f"  {name + ':':<14} {base}/webhooks/{name}/webhook")
    console.print(f"  API docs:      {base}/docs")
    console.file.flush()


def _agent_token(args: argparse.Namespace) -> int:
    """Print a new login token for an agent, and the config.yml entry that lets them in."""
    from engine.handoff.agents import new_token, token_hash

    token = new_token()
    name = args.name or args.agent.replace("_", " ").title()
    print(f"token for {args.agent} (give it to them; it is not stored anywhere): {token}")
    print("add under handoff.agents in config.yml:")
    print(f"    {args.agent}:")
    print(f"      name: {json.dumps(name)}")
    print(f"      token_sha256: {token_hash(token)}")
    print('      queues: ["*"]')
    return EXIT_OK
