"""The `parley` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from engine import __version__, cli_dialogue, cli_nlu, cli_serve
from engine.cli_shared import EXIT_FAILED, EXIT_OK, EXIT_USAGE, pack_folders, print_result
from engine.config import ConfigError, load_config
from engine.packs import CheckResult, check_pack
from engine.packs.jsonschema import (
    PACK_SCHEMA_FILE,
    TESTS_SCHEMA_FILE,
    pack_json_schema,
    render,
    tests_json_schema,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "command", None) == "parse":
        # Messages after an option (`parley parse PACK --format json "text"`) are still messages;
        # after `--`, anything is a message, even "-5".
        cut = extra.index("--") if "--" in extra else len(extra)
        options = [e for e in extra[:cut] if e.startswith("-")]
        if options:
            parser.error(f"unrecognized arguments: {' '.join(options)}")
        args.texts = [*args.texts, *extra[:cut], *extra[cut + 1 :]]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    handler = args.handler
    result: int = handler(args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description="Parley: declarative support assistants.")
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    parser.add_argument("--config", type=Path, default=Path("config.yml"), help="engine configuration file")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    validate = commands.add_parser("validate", help="check packs and report every problem")
    validate.add_argument(
        "packs",
        nargs="*",
        type=Path,
        metavar="PACK_DIR",
        help="pack folders (default: the packs in config.yml)",
    )
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    validate.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    validate.add_argument(
        "--check-actions",
        nargs="?",
        const="",
        metavar="URL",
        help="also ask the action server (default: action_server.url in config.yml) for the custom "
        "actions the packs name, and report those it lacks",
    )
    validate.set_defaults(handler=_validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of pack files")
    schema.add_argument("--tests", action="store_true", help="the schema of conversation test files instead")
    schema.add_argument(
        "--write", action="store_true", help=f"write both schemas to {PACK_SCHEMA_FILE.parent}/"
    )
    schema.set_defaults(handler=_schema)
    cli_nlu.add_commands(commands)
    cli_dialogue.add_commands(commands)
    cli_serve.add_commands(commands)
    return parser


def _validate(args: argparse.Namespace) -> int:
    try:
        folders = pack_folders(args)
    except ConfigError as error:
        print(f"parley: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not folders:
        print("parley: no packs given and none listed in config.yml", file=sys.stderr)
        return EXIT_USAGE
    results = [check_pack(folder) for folder in folders]
    failed = any(not r.ok(strict=args.strict) for r in results)
    checked: ActionsChecked | None = None
    if args.check_actions is not None:
        checked = _check_actions(args, results)
        failed = failed or checked is None or any(checked.missing.values())
    if args.format == "json":
        payload = [_result_json(r, args.strict, checked) for r in results]
        print(json.dumps(payload if len(payload) > 1 else payload[0], indent=2))
    else:
        console = Console(highlight=False, soft_wrap=True)
        for result in results:
            print_result(console, result, args.strict)
        if checked is not None:
            checked.print()
    return EXIT_FAILED if failed else EXIT_OK


@dataclass(frozen=True)
class ActionsChecked:
    """What `--check-actions` found: the server asked, and each valid pack's missing actions."""

    url: str
    missing: dict[str, list[str]]
    #: How many custom actions each pack names.
    named: dict[str, int]

    def print(self) -> None:
        for pack, missing in self.missing.items():
            if missing:
                print(f"✗ {pack}: the action server at {self.url} lacks {', '.join(missing)}")
            else:
                print(f"✓ {pack}: the action server at {self.url} has all {self.named[pack]} custom actions")


def _check_actions(args: argparse.Namespace, results: list[CheckResult]) -> ActionsChecked | None:
    """Ask the action server which actions it has; None (said on stderr) when it cannot be asked."""
    from engine.actions import ActionServerUnavailable
    from engine.actions.client import list_actions

    try:
        settings = load_config(args.config).action_server
        url = args.check_actions or settings.resolved_url()
    except ConfigError as error:
        print(f"parley: {error}", file=sys.stderr)
        return None
    packs = [r.pack for r in results if r.pack is not None and r.ok()]
    if not packs:
        return ActionsChecked(url, {}, {})
    try:
        offered = set(list_actions(url, timeout=settings.timeout))
    except ActionServerUnavailable as error:
        print(f"parley: {error}", file=sys.stderr)
        return None
    missing = {pack.name: sorted(set(pack.actions) - offered) for pack in packs}
    return ActionsChecked(url, missing, {pack.name: len(pack.actions) for pack in packs})


def _result_json(result: CheckResult, strict: bool, checked: ActionsChecked | None) -> dict[str, object]:
    found: dict[str, object] = {
        "pack": result.pack.name if result.pack else str(result.folder),
        "folder": str(result.folder),
        "ok": result.ok(strict=strict),
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "diagnostics": [d.to_json() for d in result.diagnostics],
    }
    if checked is not None and result.pack is not None and result.pack.name in checked.missing:
        found["missing_actions"] = checked.missing[result.pack.name]
    return found


def _schema(args: argparse.Namespace) -> int:
    if args.write:
        PACK_SCHEMA_FILE.parent.mkdir(parents=True, exist_ok=True)
        PACK_SCHEMA_FILE.write_text(render(pack_json_schema()), encoding="utf-8")
        TESTS_SCHEMA_FILE.write_text(render(tests_json_schema()), encoding="utf-8")
        print(f"wrote {PACK_SCHEMA_FILE} and {TESTS_SCHEMA_FILE}")
        return EXIT_OK
    sys.stdout.write(render(tests_json_schema() if args.tests else pack_json_schema()))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
