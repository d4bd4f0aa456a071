"""Helpers shared by the `parley` commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from engine.config import load_config
from engine.packs import CheckResult

#: Exit codes of every `parley` command: done, something failed, the command line is wrong.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def pack_folders(args: argparse.Namespace) -> list[Path]:
    """The packs named on the command line, else those in config.yml, else every folder in domains/."""
    if args.packs:
        return list(args.packs)
    config = load_config(args.config)
    if config.packs:
        return [Path(p) for p in config.packs]
    domains = Path("domains")
    return sorted(p for p in domains.iterdir() if p.is_dir()) if domains.is_dir() else []


def print_result(console: Console, result: CheckResult, strict: bool) -> None:
    for diagnostic in result.diagnostics:
        colour = "red" if diagnostic.is_error or strict else "yellow"
        head, *rest = diagnostic.format().split("\n")
        console.print(f"[{colour}]{escape(head)}[/{colour}]")
        for line in rest:
            console.print(escape(line))
    pack = result.pack
    name = f"{pack.name} {pack.version}" if pack else str(result.folder)
    counts = f"{len(result.errors)} error(s), {len(result.warnings)} warning(s)"
    if result.ok(strict=strict):
        summary = ""
        if pack is not None:
            summary = (
                f": {len(pack.intents)} intents, {len(pack.entities)} entities, {len(pack.slots)} slots, "
                f"{len(pack.responses)} responses, {len(pack.flows)} flows, {len(pack.tests)} tests"
            )
        console.print(f"[green]✓ {escape(name)} is valid[/green]{escape(summary)} ({counts})")
    else:
        console.print(f"[red]✗ {escape(name)} is not valid[/red] ({counts})")
