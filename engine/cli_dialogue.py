"""The dialogue commands of `parley`: test (conversation tests) and shell (chat in the terminal).

Both use the pack's current NLU model, training it first when the pack changed since (the same
skip-when-unchanged training as `parley train`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from engine.cli_nlu import _console, _load, _progress_bar
from engine.cli_shared import EXIT_FAILED, EXIT_OK, EXIT_USAGE, pack_folders
from engine.config import ConfigError, EngineConfig, load_config
from engine.packs import Pack, PackInvalid

if TYPE_CHECKING:
    from engine.dialogue.actions import ActionRunner
    from engine.dialogue.runtime import Assistant, TurnResult
    from engine.dialogue.testing import TestOutcome
    from engine.nlu import NluModel


def add_commands(commands: Any) -> None:
    """Register test and shell on the `parley` sub-command parser."""
    test = commands.add_parser("test", help="run the conversation tests in packs' tests/ folders")
    test.add_argument(
        "packs", nargs="*", type=Path, metavar="PACK_DIR", help="default: the packs in config.yml"
    )
    test.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML for CI")
    test.add_argument("-k", dest="select", metavar="TEXT", help="only tests whose name contains TEXT")
    test.add_argument(
        "-v", "--verbose", action="store_true", help="show every conversation, not only failures"
    )
    test.set_defaults(handler=_test)

    shell = commands.add_parser("shell", help="chat with a pack's assistant in the terminal")
    shell.add_argument("pack", type=Path, metavar="PACK_DIR")
    shell.add_argument("--channel", default="rest", help="the channel to pretend to be (default: rest)")
    shell.add_argument("--quiet", action="store_true", help="no debug line per turn")
    shell.add_argument(
        "--stub-actions",
        action="store_true",
        help="do not call the action server: custom actions succeed and do nothing",
    )
    shell.set_defaults(handler=_shell)


def _model(console: Console, config: EngineConfig, pack: Pack) -> NluModel | None:
    """The pack's current model, trained first when the pack changed."""
    from engine.nlu import ModelError, ModelStore

    store = ModelStore(Path(config.models))
    try:
        with _progress_bar(console, f"training {pack.name}") as report:
            outcome = store.train(pack, progress=report)  # skipped when the pack has not changed
        if not outcome.skipped:
            console.print(f"[dim]trained {escape(pack.name)}: {escape(str(outcome.folder))}[/dim]")
        return store.load(pack.name)
    except PackInvalid as error:
        for diagnostic in error.diagnostics:
            console.print(f"[red]{escape(diagnostic.format())}[/red]")
    except ModelError as error:
        console.print(f"[red]parley: {escape(str(error))}[/red]")
    return None


def _policies(config: EngineConfig) -> Any:
    from engine.dialogue.policy import build_policies

    names = list(config.policies)
    build_policies(names)  # fail early, with the list of known policies
    return lambda: build_policies(names)


# -- test ----------------------------------------------------------------------------------
def _test(args: argparse.Namespace) -> int:
    # Stubbed failures are what the tests are about: no warning lines between the results.
    runtime_log = logging.getLogger("engine.dialogue")
    level = runtime_log.level
    runtime_log.setLevel(logging.ERROR)
    try:
        return _run_tests(args)
    finally:
        runtime_log.setLevel(level)


def _run_tests(args: argparse.Namespace) -> int:
    from engine.dialogue.testing import junit_xml, run_tests

    console = _console()
    try:
        config = load_config(args.config)
        folders = pack_folders(args)
        policies = _policies(config)
    except (ConfigError, ValueError) as error:
        print(f"parley: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not folders:
        print("parley: no packs given and none listed in config.yml", file=sys.stderr)
        return EXIT_USAGE
    results: dict[str, list[TestOutcome]] = {}
    failed = False
    for folder in folders:
        pack = _load(console, folder, with_tests=True)
        model = _model(console, config, pack) if pack is not None else None
        if pack is None or model is None:
            failed = True
            continue
        tests = [t for t in pack.tests if not args.select or args.select.lower() in t.name.lower()]
        if not tests and args.select:
            results[pack.name] = []  # none selected here: said once, below, if none anywhere
            continue
        outcomes = run_tests(pack, model, tests=tests, policies=policies)
        results[pack.name] = outcomes
        _print_outcomes(console, pack.name, outcomes, verbose=args.verbose)
        failed = failed or not all(o.passed for o in outcomes)
    if args.select and not failed and not any(results.values()):
        names = ", ".join(results)
        print(f"parley: no conversation test of {names} has '{args.select}' in its name", file=sys.stderr)
        return EXIT_USAGE
    if args.junit is not None:
        junit_xml(results, args.junit)
        console.print(f"JUnit XML written to {escape(str(args.junit))}")
    return EXIT_FAILED if failed else EXIT_OK


def _print_outcomes(console: Console, pack: str, outcomes: list[TestOutcome], *, verbose: bool) -> None:
    for outcome in outcomes:
        if outcome.passed and not verbose:
            continue
        mark = "[green]✓[/green]" if outcome.passed else "[red]✗[/red]"
        console.print(
            f"{mark} {escape(pack)}: {escape(outcome.name)} [dim]({escape(outcome.file or '')})[/dim]"
        )
        if not outcome.passed:
            for line in (outcome.failure or "").splitlines():
                style = (
                    "red"
                    if line.lstrip().startswith("+")
                    else "green"
                    if line.lstrip().startswith("-")
                    else ""
                )
                console.print(f"    [{style}]{escape(line)}[/{style}]" if style else f"    {escape(line)}")
        if not outcome.passed or verbose:
            console.print("    [dim]conversation:[/dim]")
            for line in outcome.transcript:
                console.print(f"      [dim]{escape(line)}[/dim]")
    passed = sum(o.passed for o in outcomes)
    seconds = sum(o.seconds for o in outcomes)
    colour = "green" if passed == len(outcomes) else "red"
    console.print(
        f"[{colour}]{escape(pack)}: {passed} of {len(outcomes)} conversation tests passed[/{colour}] "
        f"[dim]in {seconds:.2f} s[/dim]"
    )


# -- shell ---------------------------------------------------------------------------------
def _shell(args: argparse.Namespace) -> int:
    from engine.dialogue.runtime import Assistant

    console = _console()
    try:
        config = load_config(args.config)
        policies = _policies(config)
    except (ConfigError, ValueError) as error:
        print(f"parley: {error}", file=sys.stderr)
        return EXIT_USAGE
    pack = _load(console, args.pack)
    model = _model(console, config, pack) if pack is not None else None
    if pack is None or model is None:
        return EXIT_FAILED
    with ExitStack() as stack:
        actions, where = _action_runner(console, config, pack, stack, stub=args.stub_actions)
        assistant = Assistant(pack, model, policies=policies(), actions=actions)
        console.print(
            f"[bold]{escape(pack.name)}[/bold] {escape(pack.version)}: type a message; "
            f"[dim]/restart starts again, /slots shows the slots, Ctrl-D quits. {escape(where)}[/dim]"
        )
        _chat(console, assistant, args)
    return EXIT_OK


def _action_runner(
    console: Console, config: EngineConfig, pack: Pack, stack: ExitStack, *, stub: bool
) -> tuple[ActionRunner, str]:
    """The action server of config.yml: running already, or started from `action_server.start`;
    stubs when asked for or when there is none."""
    from engine.actions.runner import ensure_action_server, http_action_runner
    from engine.dialogue.actions import StubActionRunner

    if stub:
        return StubActionRunner(), "Custom actions are stubbed (they succeed and do nothing)."
    status = ensure_action_server(config.action_server, stack)
    if status.problem is not None and config.action_server.start is None:
        console.print(
            f"[yellow]{escape(status.problem)} (start one, set action_server.start in config.yml, or "
            "use --stub-actions)[/yellow]"
        )
    elif status.problem is not None:
        console.print(f"[red]{escape(status.problem)}[/red]")
    runner = http_action_runner(pack, config.action_server, status.url)
    stack.callback(runner.close)
    return runner, f"Custom actions run on {status.url}."


def _chat(console: Console, assistant: Assistant, args: argparse.Namespace) -> None:
    tracker = assistant.tracker(f"shell-{uuid.uuid4().hex[:8]}")
    for text in _lines(console):
        if text == "/slots":
            filled = {k: v for k, v in tracker.state.slots.items() if v is not None}
            console.print(f"[dim]{escape(str(filled))}[/dim]")
            continue
        if text == "/restart":
            tracker = assistant.tracker(f"shell-{uuid.uuid4().hex[:8]}")
            console.print("[dim]new conversation[/dim]")
            continue
        result = assistant.handle(tracker, text, channel=args.channel)
        if not args.quiet:
            console.print(f"[dim]{escape(debug_line(result, tracker.state.slots))}[/dim]")
        for message in result.messages:
            console.print(f"[bold cyan]bot:[/bold cyan] {escape(message.text or '')}")
            for button in message.data.get("buttons", []) + message.data.get("quick_replies", []):
                console.print(
                    f"     [cyan][{escape(button['title'])}][/cyan] [dim]{escape(button['payload'])}[/dim]"
                )
        if tracker.state.paused:
            console.print(
                "[yellow]the conversation is now with a person (handoff); /restart to start again[/yellow]"
            )


def debug_line(result: TurnResult, slots: dict[str, Any]) -> str:
    """intent, confidence, entities, the policy decision and the filled slots of one turn."""
    from engine.dialogue.events import UserUttered

    user = next((e for e in result.events if isinstance(e, UserUttered)), None)
    parse = user.parse_data if user else {}
    intent = parse.get("intent", {})
    entities = ", ".join(f"{e['entity']}={e['value']!r}" for e in parse.get("entities", [])) or "-"
    decision = result.decision
    decided = f"{decision.policy}: {decision.describe()} ({decision.reason})" if decision else "-"
    filled = ", ".join(f"{k}={v!r}" for k, v in slots.items() if v is not None) or "-"
    frustration = parse.get("frustration", 0.0)
    return (
        f"intent {intent.get('name')} {intent.get('confidence', 0.0):.2f} · entities {entities} · "
        f"frustration {frustration:.2f} · {decided} · slots {filled}"
    )


def _lines(console: Console) -> Iterator[str]:
    while True:
        try:
            text = console.input("[bold]you:[/bold] ") if sys.stdin.isatty() else input()
        except EOFError:
            return
        if text.strip():
            yield text
