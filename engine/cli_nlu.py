"""The NLU commands of `parley`: train, parse, evaluate.

The NLU libraries (spaCy, scikit-learn) take seconds to import, so they are imported inside the
commands: `parley validate` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from engine.cli_shared import EXIT_FAILED, EXIT_OK, EXIT_USAGE, pack_folders, print_result
from engine.config import ConfigError, EngineConfig, load_config
from engine.packs import CheckResult, Pack, PackInvalid, check_pack

if TYPE_CHECKING:
    from engine.nlu import ModelStore, NluModel, ParseResult, TrainOutcome


#: Metrics `--fail-under` can gate on: all are fractions where higher is better.
GATE_METRICS = (
    "accuracy",
    "macro_f1",
    "entities.f1",
    "entities.precision",
    "entities.recall",
    "out_of_scope.recall",
    "out_of_scope.precision",
    "threshold.coverage",
)


def add_commands(commands: Any) -> None:
    """Register train, parse and evaluate on the `parley` sub-command parser."""

    train = commands.add_parser("train", help="compile packs into NLU models")
    train.add_argument(
        "packs", nargs="*", type=Path, metavar="PACK_DIR", help="default: the packs in config.yml"
    )
    train.add_argument("--force", action="store_true", help="retrain even when the pack has not changed")
    train.add_argument(
        "--folds", type=_folds, default=5, help="cross-validation folds for calibration (2-20, default 5)"
    )
    train.set_defaults(handler=_train)

    parse = commands.add_parser("parse", help="show how a pack's model reads messages")
    parse.add_argument("pack", type=Path, metavar="PACK_DIR", help="a pack folder, or a model folder")
    parse.add_argument(
        "texts", nargs="*", metavar="TEXT", help="messages; none: read lines from standard input"
    )
    parse.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parse.set_defaults(handler=_parse)

    evaluate = commands.add_parser("evaluate", help="cross-validate a pack's NLU and write a report")
    evaluate.add_argument("pack", type=Path, metavar="PACK_DIR")
    evaluate.add_argument("--folds", type=_folds, default=5, help="cross-validation folds (2-20, default 5)")
    evaluate.add_argument("--out", type=Path, help="report folder (default: <reports>/<pack>/)")
    evaluate.add_argument(
        "--fail-under", type=float, metavar="VALUE", help="exit 1 when the metric is below VALUE (0..1)"
    )
    evaluate.add_argument(
        "--metric",
        default="accuracy",
        choices=GATE_METRICS,
        help="metric for --fail-under (default: accuracy)",
    )
    evaluate.set_defaults(handler=_evaluate)


def _folds(text: str) -> int:
    try:
        folds = int(text)
    except ValueError:
        folds = 0
    if not 2 <= folds <= 20:
        raise argparse.ArgumentTypeError(f"folds must be a whole number from 2 to 20, not {text!r}")
    return folds


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _config(args: argparse.Namespace) -> EngineConfig:
    return load_config(args.config)


def _load(console: Console, folder: Path, *, with_tests: bool = False) -> Pack | None:
    """The validated pack, or None after printing why it cannot be used."""
    result: CheckResult = check_pack(folder, with_tests=with_tests)
    if result.pack is None or not result.ok():
        print_result(console, result, False)
        return None
    for warning in result.warnings:  # a usable pack still shows what deserves a look
        console.print(f"[yellow]{escape(warning.format())}[/yellow]")
    return result.pack


@contextmanager
def _progress_bar(console: Console, title: str) -> Iterator[Any]:
    with Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # no bar (and no blank line it leaves) in logs and pipes
    ) as progress:
        task = progress.add_task(title, total=1)

        def report(step: str, done: int, total: int) -> None:
            progress.update(task, description=f"{title}: {step}", completed=done, total=max(total, 1))

        yield report


# -- train ---------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    from engine.nlu import ModelStore

    try:
        config = _config(args)
        folders = pack_folders(args)
    except ConfigError as error:
        print(f"parley: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not folders:
        print("parley: no packs given and none listed in config.yml", file=sys.stderr)
        return EXIT_USAGE
    console = _console()
    store = ModelStore(Path(config.models))
    failed = False
    for folder in folders:
        pack = _load(console, folder)
        if pack is None or not train_pack(console, store, pack, force=args.force, folds=args.folds):
            failed = True
    return EXIT_FAILED if failed else EXIT_OK


def train_pack(
    console: Console, store: ModelStore, pack: Pack, *, force: bool = False, folds: int | None = None
) -> bool:
    """Train `pack` (skipped when it has not changed and not `force`d) under a progress bar and
    print what the model learned; False after printing why it cannot be trained."""
    from engine.nlu.training import DEFAULT_FOLDS

    try:
        with _progress_bar(console, f"training {pack.name}") as report:
            outcome = store.train(pack, force=force, folds=folds or DEFAULT_FOLDS, progress=report)
    except PackInvalid as error:
        for diagnostic in error.diagnostics:
            console.print(f"[red]{escape(diagnostic.format())}[/red]")
        console.print(f"[red]✗ {escape(pack.name)} cannot be trained[/red]")
        return False
    _print_training(console, pack, outcome)
    return True


def _print_training(console: Console, pack: Pack, outcome: TrainOutcome) -> None:
    manifest = outcome.manifest
    where = escape(str(outcome.folder))
    if outcome.skipped:
        console.print(f"[green]✓ {escape(pack.name)} is up to date[/green]: {where} (--force retrains)")
    else:
        console.print(
            f"[green]✓ {escape(pack.name)} {escape(pack.version)} trained[/green] in "
            f"{manifest['training_seconds']:.1f} s: {where}"
        )
    examples = manifest["examples"]
    cv = manifest["cross_validation"]
    thresholds = manifest["thresholds"]
    console.print(
        f"  examples: {examples['intents']} for {len(pack.intents)} intents, "
        f"{examples['out_of_scope']} out of scope; {manifest['features']:,} features"
    )
    if cv["examples"] == 0:
        console.print(
            "  [yellow]cross-validation: no intent has two examples, so nothing could be held out "
            "and measured; add examples (10 or more per intent)[/yellow]"
        )
        console.print(f"  threshold {thresholds['default']:.2f} ({thresholds['configured']}, not measured)")
        return
    oos = f", out-of-scope recall {cv['out_of_scope_recall']:.0%}" if "out_of_scope_recall" in cv else ""
    console.print(
        f"  cross-validation ({cv['folds']} folds): best intent right {cv['intent_accuracy']:.1%}, "
        f"calibration error (ECE) {cv['ece']:.3f}{oos}"
    )
    choice = cv["threshold"]
    if thresholds["configured"] == "auto":
        verdict = "reached" if choice["reached"] else "[yellow]not reached[/yellow]"
        console.print(
            f"  threshold {thresholds['default']:.2f} (auto): {choice['precision']:.1%} of answers right "
            f"(target {choice['target_precision']:.0%}, {verdict}), "
            f"{choice['coverage']:.0%} of messages answered"
        )
    else:
        console.print(
            f"  threshold {thresholds['default']:.2f} "
            f"(set in the pack; auto would choose {choice['recommended']:.2f})"
        )
    for intent, value in thresholds["per_intent"].items():
        console.print(f"  threshold {value:.2f} for intent {escape(intent)} (set in the pack)")


# -- parse ---------------------------------------------------------------------------------
def _parse(args: argparse.Namespace) -> int:
    from engine.nlu import ModelError, ModelStore, NluModel

    console = _console()
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        if (args.pack / "manifest.json").is_file():
            model = NluModel.load(args.pack)
        else:
            pack = _load(errors, args.pack)
            if pack is None:
                return EXIT_FAILED
            store = ModelStore(Path(_config(args).models))
            if store.current(pack.name) is None:
                errors.print(
                    f"[red]parley: pack '{escape(pack.name)}' has no model yet: "
                    f"run `parley train {escape(str(args.pack))}`[/red]"
                )
                return EXIT_FAILED
            model = store.load(pack.name)
            if not store.is_up_to_date(pack):
                errors.print(
                    f"[yellow]note: the pack (or Parley's NLU) changed since its model was trained; "
                    f"`parley train {escape(str(args.pack))}` updates it[/yellow]"
                )
    except ConfigError as error:
        errors.print(f"[red]parley: {escape(str(error))}[/red]")
        return EXIT_USAGE
    except ModelError as error:
        errors.print(f"[red]parley: {escape(str(error))}[/red]")
        return EXIT_FAILED
    for text in _messages(args.texts, console):
        _show(console, model, text, args.format)
    return EXIT_OK


def _messages(texts: list[str], console: Console) -> Iterator[str]:
    if texts:
        yield from texts
        return
    interactive = sys.stdin.isatty()
    if interactive:
        console.print("Type a message and press Enter (Ctrl-D to quit).")
    while True:
        if interactive:
            console.print("> ", end="")
        line = sys.stdin.readline()
        if not line:
            return
        yield line.rstrip("\n")


def _show(console: Console, model: NluModel, text: str, output: str) -> None:
    result: ParseResult = model.parse(text)
    if output == "json":
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return
    if result.out_of_scope:
        why = {
            "no_words": "no words to read",
            "out_of_scope_examples": "closest to the pack's out-of-scope examples",
            "below_threshold": f"best confidence under the threshold {result.threshold:.2f}",
        }[result.reason]
        console.print(f"[yellow]out_of_scope[/yellow] ({why})")
    else:
        flag = "  [yellow]ambiguous[/yellow]" if result.ambiguous else ""
        console.print(
            f"[green]{escape(result.intent)}[/green] {result.confidence:.3f} "
            f"(threshold {result.threshold:.2f}){flag}"
        )
    if result.ranking:
        ranked = ", ".join(f"{escape(s.name)} {s.confidence:.3f}" for s in result.ranking[:5])
        console.print(f"  ranking: {ranked}")
    for entity in result.entities:
        role = f" ({escape(entity.role)})" if entity.role else ""
        console.print(
            f"  entity {escape(entity.entity)}{role} = "
            f"{escape(json.dumps(entity.value, ensure_ascii=False))} "
            f"from {escape(entity.text)!r} [{entity.start}:{entity.end}] by {entity.extractor}"
            + (f", confidence {entity.confidence:.2f}" if entity.confidence < 1 else "")
        )


# -- evaluate ------------------------------------------------------------------------------
def _evaluate(args: argparse.Namespace) -> int:
    from engine.nlu.evaluation import evaluate, metric_value
    from engine.nlu.report import write_report

    console = _console()
    if args.fail_under is not None and not 0 <= args.fail_under <= 1:
        print("parley: --fail-under takes a fraction from 0 to 1, such as 0.85", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = _config(args)
    except ConfigError as error:
        print(f"parley: {error}", file=sys.stderr)
        return EXIT_USAGE
    pack = _load(console, args.pack)
    if pack is None:
        return EXIT_FAILED
    try:
        with _progress_bar(console, f"evaluating {pack.name}") as report:
            metrics = evaluate(pack, folds=args.folds, progress=report)
    except PackInvalid as error:
        for diagnostic in error.diagnostics:
            console.print(f"[red]{escape(diagnostic.format())}[/red]")
        return EXIT_FAILED
    passed = True
    if args.fail_under is not None:
        value = metric_value(metrics, args.metric)
        if value is None:
            print(
                f"parley: the pack has no data for {args.metric} (no out-of-scope examples?)", file=sys.stderr
            )
            return EXIT_USAGE
        passed = value >= args.fail_under
        metrics["fail_under"] = {"metric": args.metric, "value": args.fail_under, "passed": passed}
    out = args.out or Path(config.reports) / pack.name
    page = write_report(metrics, out)
    _print_evaluation(console, metrics)
    console.print(f"  report: {escape(str(page))}")
    if not passed:
        console.print(f"[red]✗ {escape(args.metric)} {value:.3f} is under {args.fail_under:.3f}[/red]")
        return EXIT_FAILED
    return EXIT_OK


def _print_evaluation(console: Console, metrics: dict[str, Any]) -> None:
    entities = metrics["entities"]
    threshold = metrics["threshold"]
    console.print(
        f"[bold]{escape(metrics['pack']['name'])}[/bold]: {metrics['examples']} examples, "
        f"{metrics['intents']} intents, {metrics['folds']}-fold cross-validation"
    )
    console.print(
        f"  accuracy {metrics['accuracy']:.1%}, macro-F1 {metrics['macro_f1']:.3f}, "
        f"ECE {metrics['ece']:.3f}, "
        f"entity F1 {entities['f1']:.3f} ({entities['support']} annotated)"
    )
    console.print(
        f"  recommended threshold {threshold['recommended']:.2f}: "
        f"{threshold['precision']:.1%} of answers right "
        f"(target {threshold['target_precision']:.0%}), {threshold['coverage']:.0%} of messages answered"
    )
    if threshold["used"] != threshold["recommended"]:
        console.print(
            f"  threshold in use {threshold['used']:.2f} (set in the pack): "
            f"{threshold['used_precision']:.1%} of answers right, "
            f"{threshold['used_coverage']:.0%} of messages answered"
        )
    oos = metrics["out_of_scope"]
    if oos:
        console.print(f"  out of scope: recall {oos['recall']:.1%}, precision {oos['precision']:.1%}")
    for pair in metrics["confused_pairs"][:3]:
        console.print(
            f"  confused: {escape(pair['true'])} taken for {escape(pair['predicted'])} "
            f"{pair['count']} time(s)"
        )
