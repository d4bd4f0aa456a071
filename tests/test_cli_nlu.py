"""`parley train`, `parley parse` and `parley evaluate` (engine/cli_nlu.py), run through `main`.

Every test writes its models and reports under its own tmp folder, through a config file of its
own (`--config`) or `--out`. The packs are the small ones of tests/nlu/conftest.py; billing gets
a regex entity `invoice_id` so that parse has an entity to show.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.nlu import ModelStore
from engine.packs import load_pack
from tests.nlu.conftest import BODIES, HEADER, edit

BILLING = """\
entities:
  invoice_id:
    regex: '\\bINV\\d{4}\\b'
""" + BODIES["billing"]
SUPPORT, TRAVEL = BODIES["support"], BODIES["travel"]
#: BILLING with pay_bill as its only intent (P802), out-of-scope examples kept.
ONE_INTENT = BILLING.split("  reset_password:\n")[0] + "out_of_scope:" + BILLING.split("out_of_scope:")[1]
#: BILLING with a key the pack language does not know (P101).
UNKNOWN_KEY = edit(BILLING, "intents:\n", "bogus: 1\nintents:\n")
REPORT_KEYS = {
    "accuracy",
    "macro_f1",
    "ece",
    "per_intent",
    "entities",
    "confused_pairs",
    "threshold",
    "confusion",
    "reliability",
    "confidences",
}
PARSE_KEYS = {
    "text",
    "intent",
    "intent_ranking",
    "entities",
    "out_of_scope",
    "ambiguous",
    "threshold",
    "reason",
}


@pytest.fixture(autouse=True)
def _plain_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output as in a pipe: no colours, no progress bar, whatever the environment asks for."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def write_pack(root: Path, name: str, body: str, *, fallback: str = "{}") -> Path:
    """Write the pack `name` with the nlu.yml `body` into root/<name>/."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "pack.yml").write_text(HEADER.format(name=name, fallback=fallback, nlu="{}"), encoding="utf-8")
    (folder / "nlu.yml").write_text(body, encoding="utf-8")
    return folder


def write_config(root: Path, *packs: Path) -> Path:
    """A config.yml in root whose models and reports folders are in root too."""
    path = root / "config.yml"
    path.write_text(
        f"packs: {json.dumps([str(p) for p in packs])}\n"
        f"models: {json.dumps(str(root / 'models'))}\n"
        f"reports: {json.dumps(str(root / 'reports'))}\n",
        encoding="utf-8",
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of `parley argv...`."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def usage_error(capsys: pytest.CaptureFixture[str], *argv: object) -> str:
    """Run a command line argparse must refuse; its message on standard error."""
    with pytest.raises(SystemExit) as stopped:
        main([str(a) for a in argv])
    assert stopped.value.code == 2
    return capsys.readouterr().err


def current_model(models: Path, pack: str) -> Path:
    return models / pack / (models / pack / "current").read_text(encoding="utf-8").strip()


def model_folders(models: Path, pack: str) -> list[str]:
    return sorted(p.name for p in (models / pack).iterdir() if p.is_dir())


@dataclass(frozen=True)
class Billing:
    folder: Path  # the pack
    config: Path
    model: Path  # its current model folder
    threshold: float


@pytest.fixture(scope="module")
def billing(tmp_path_factory: pytest.TempPathFactory) -> Billing:
    """The billing pack trained once for the parse tests. Tests must not change its folders."""
    root = tmp_path_factory.mktemp("billing")
    folder = write_pack(root, "billing", BILLING)
    config = write_config(root, folder)
    outcome = ModelStore(root / "models").train(load_pack(folder))
    return Billing(folder, config, outcome.folder, outcome.manifest["thresholds"]["default"])


# -- train -------------------------------------------------------------------------------------
def test_cli_train_prints_the_model_and_its_quality(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_pack(tmp_path, "billing", BILLING)
    code, out, err = run(capsys, "--config", write_config(tmp_path), "train", folder)
    assert (code, err) == (0, "")
    model = current_model(tmp_path / "models", "billing")
    assert (model / "manifest.json").is_file()
    assert "billing 1.0.0 trained in " in out
    assert f": {model}\n" in out
    assert "  examples: 36 for 3 intents, 6 out of scope; " in out
    assert "cross-validation (5 folds): best intent right 100.0%" in out
    assert "  threshold 0." in out
    assert " (auto): " in out
    assert " of answers right (target 95%, reached), " in out
    assert "% of messages answered" in out
    assert "set in the pack" not in out


def test_cli_train_skips_an_up_to_date_pack_and_force_retrains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    config = write_config(tmp_path)
    folder = write_pack(tmp_path, "billing", BILLING)
    assert run(capsys, "--config", config, "train", folder)[0] == 0
    first = current_model(models, "billing")

    code, out, _ = run(capsys, "--config", config, "train", folder)
    assert code == 0
    assert f"billing is up to date: {first} (--force retrains)" in out
    assert " trained in " not in out
    assert model_folders(models, "billing") == [first.name]

    code, out, _ = run(capsys, "--config", config, "train", "--force", folder)
    assert code == 0
    second = current_model(models, "billing")
    assert second != first
    assert model_folders(models, "billing") == sorted([first.name, second.name])
    assert "billing 1.0.0 trained in " in out
    assert f": {second}\n" in out
    assert "up to date" not in out


def test_cli_train_without_packs_trains_the_packs_in_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packs = [write_pack(tmp_path, "billing", BILLING), write_pack(tmp_path, "travel", TRAVEL)]
    code, out, _ = run(capsys, "--config", write_config(tmp_path, *packs), "train")
    assert code == 0
    for name in ("billing", "travel"):
        assert f"{name} 1.0.0 trained in " in out
        assert (current_model(tmp_path / "models", name) / "manifest.json").is_file()


def test_cli_train_reports_a_broken_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yml"
    config.write_text("packz: [x]\n", encoding="utf-8")
    code, out, err = run(capsys, "--config", config, "train", write_pack(tmp_path, "billing", BILLING))
    assert (code, out) == (2, "")
    assert "packz" in err


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        pytest.param(
            UNKNOWN_KEY,
            "P101",
            "✗ bad 1.0.0 is not valid (1 error(s), 0 warning(s))",
            id="validation-error",
        ),
        pytest.param(ONE_INTENT, "P802", "✗ bad cannot be trained", id="one-intent"),
    ],
)
def test_cli_train_refuses_a_pack_it_cannot_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, code: str, message: str
) -> None:
    folder = write_pack(tmp_path, "bad", body)
    good = write_pack(tmp_path, "travel", TRAVEL)
    exit_code, out, _ = run(capsys, "--config", write_config(tmp_path), "train", folder, good)
    assert exit_code == 1
    assert f"error {code}: " in out
    assert message in out
    models = tmp_path / "models"
    assert not (models / "bad" / "current").exists()
    assert not (models / "bad").exists()
    # The other pack of the same run is still trained.
    assert "travel 1.0.0 trained in " in out
    assert (models / "travel" / "current").is_file()


@pytest.mark.parametrize(
    "command",
    ["train", "evaluate"],
)
@pytest.mark.parametrize("folds", ["1", "x", "21"])
def test_cli_folds_outside_2_to_20_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, folds: str
) -> None:
    folder = write_pack(tmp_path, "billing", BILLING)
    err = usage_error(capsys, "--config", write_config(tmp_path), command, folder, "--folds", folds)
    assert f"folds must be a whole number from 2 to 20, not '{folds}'" in err
    assert not (tmp_path / "models").exists()


def test_cli_train_with_a_fixed_threshold_shows_the_automatic_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_pack(tmp_path, "travel", TRAVEL, fallback="{threshold: 0.4}")
    code, out, _ = run(capsys, "--config", write_config(tmp_path), "train", folder)
    assert code == 0
    assert "  threshold 0.40 (set in the pack; auto would choose 0." in out
    assert "(auto)" not in out


# -- parse -------------------------------------------------------------------------------------
def test_cli_parse_shows_intent_ranking_and_entities(
    billing: Billing, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--config", billing.config, "parse", billing.folder, "pay invoice INV1234")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 3, out
    intent, confidence, threshold = lines[0].split(" ", 2)
    assert intent == "pay_bill"
    assert 0.5 < float(confidence) <= 1.0
    assert threshold == f"(threshold {billing.threshold:.2f})"
    assert lines[1].startswith("  ranking: pay_bill ")
    assert {"opening_hours", "reset_password"} <= set(lines[1].replace(",", "").split())
    assert lines[2] == "  entity invoice_id = \"INV1234\" from 'INV1234' [12:19] by regex"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        pytest.param("😀 🙂", "no words to read", id="emoji-only"),
        pytest.param("   ", "no words to read", id="blank"),
        pytest.param(
            "tell me a joke", "closest to the pack's out-of-scope examples", id="out-of-scope-example"
        ),
    ],
)
def test_cli_parse_says_why_a_message_is_out_of_scope(
    billing: Billing, capsys: pytest.CaptureFixture[str], text: str, why: str
) -> None:
    code, out, _ = run(capsys, "--config", billing.config, "parse", billing.folder, text)
    assert code == 0
    assert out.splitlines()[0] == f"out_of_scope ({why})"


@pytest.mark.parametrize("format_first", [False, True], ids=["format-after-pack", "format-before-pack"])
def test_cli_parse_json_prints_one_rasa_object_per_message(
    billing: Billing, capsys: pytest.CaptureFixture[str], format_first: bool
) -> None:
    messages = ["pay invoice INV1234", "reset my password", "😀"]
    if format_first:
        argv = ["parse", "--format", "json", billing.folder, *messages]
    else:
        argv = ["parse", billing.folder, "--format", "json", *messages]
    code, out, _ = run(capsys, "--config", billing.config, *argv)
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in results] == messages
    assert all(set(r) == PARSE_KEYS for r in results)
    bill, password, emoji = results
    assert bill["intent"]["name"] == "pay_bill"
    assert bill["intent"]["confidence"] == bill["intent_ranking"][0]["confidence"]
    assert bill["intent_ranking"][0]["name"] == "pay_bill"
    assert len(bill["intent_ranking"]) == 3
    entity = bill["entities"][0]
    assert (entity["entity"], entity["start"], entity["end"], entity["value"]) == (
        "invoice_id",
        12,
        19,
        "INV1234",
    )
    assert entity["extractor"] == "regex"
    assert (bill["out_of_scope"], bill["ambiguous"], bill["reason"]) == (False, False, "")
    assert bill["threshold"] == round(billing.threshold, 4)
    assert password["intent"]["name"] == "reset_password"
    assert password["entities"] == []
    assert (emoji["intent"]["name"], emoji["out_of_scope"], emoji["reason"]) == (
        "out_of_scope",
        True,
        "no_words",
    )


def test_cli_parse_without_messages_reads_standard_input(
    billing: Billing, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("pay my bill\nwhen are you open\n"))
    code, out, _ = run(capsys, "--config", billing.config, "parse", billing.folder, "--format", "json")
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert [(r["text"], r["intent"]["name"]) for r in results] == [
        ("pay my bill", "pay_bill"),
        ("when are you open", "opening_hours"),
    ]


def test_cli_parse_from_a_pipe_prints_no_prompt(
    billing: Billing, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("pay my bill\n"))
    code, out, _ = run(capsys, "--config", billing.config, "parse", billing.folder)
    assert code == 0
    assert out.startswith("pay_bill ")
    assert "Type a message" not in out
    assert "> " not in out


def test_cli_parse_a_pack_never_trained_says_how_to_train_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_pack(tmp_path, "travel", TRAVEL)
    code, out, err = run(capsys, "--config", write_config(tmp_path), "parse", folder, "fly to Rome")
    assert (code, out) == (1, "")
    assert "pack 'travel' has no model yet" in err
    assert f"run `parley train {folder}`" in err


def test_cli_parse_notes_a_pack_changed_after_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_pack(tmp_path, "billing", BILLING)
    config = write_config(tmp_path)
    assert run(capsys, "--config", config, "train", folder)[0] == 0
    nlu = folder / "nlu.yml"
    nlu.write_text(edit(nlu.read_text(encoding="utf-8"), "      - pay the bill\n", "      - pay the bills\n"))

    code, out, err = run(capsys, "--config", config, "parse", folder, "pay my bill")
    assert code == 0
    assert "note: the pack (or Parley's NLU) changed since its model was trained" in err
    assert f"`parley train {folder}` updates it" in err
    assert out.startswith("pay_bill ")


def test_cli_parse_accepts_a_model_folder(
    billing: Billing, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No config at all: a model folder needs no pack and no models folder.
    code, out, err = run(
        capsys,
        "--config",
        tmp_path / "missing.yml",
        "parse",
        billing.model,
        "--format",
        "json",
        "pay my bill",
    )
    assert (code, err) == (0, "")
    assert json.loads(out)["intent"]["name"] == "pay_bill"


def _truncate_arrays(model: Path) -> None:
    arrays = model / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:100])


def _garble_manifest(model: Path) -> None:
    (model / "manifest.json").write_text("{not json", encoding="utf-8")


def _drop_model_file(model: Path) -> None:
    (model / "nlu.json").unlink()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(_truncate_arrays, "arrays.npz is damaged or was changed after training", id="truncated"),
        pytest.param(_garble_manifest, "manifest.json: cannot read: ", id="manifest-not-json"),
        pytest.param(_drop_model_file, "nlu.json is missing", id="file-missing"),
    ],
)
def test_cli_parse_a_damaged_model_folder_fails_cleanly(
    billing: Billing,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[Path], None],
    message: str,
) -> None:
    model = tmp_path / billing.model.name
    shutil.copytree(billing.model, model)
    damage(model)
    code, out, err = run(capsys, "parse", model, "pay my bill")
    assert (code, out) == (1, "")
    assert err.startswith("parley: ")
    assert message in err
    assert "Traceback" not in err


# -- evaluate ----------------------------------------------------------------------------------
def test_cli_evaluate_writes_the_report_and_prints_the_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_folder = tmp_path / "report"
    folder = write_pack(tmp_path, "support", SUPPORT)
    code, out, _ = run(capsys, "--config", write_config(tmp_path), "evaluate", folder, "--out", out_folder)
    assert code == 0
    report = json.loads((out_folder / "report.json").read_text(encoding="utf-8"))
    assert (out_folder / "index.html").is_file()
    assert set(report) >= REPORT_KEYS
    assert report["fail_under"] is None
    assert "support: 40 examples, 3 intents, 5-fold cross-validation" in out
    assert (
        f"  accuracy {report['accuracy']:.1%}, macro-F1 {report['macro_f1']:.3f}, ECE {report['ece']:.3f}, "
        f"entity F1 {report['entities']['f1']:.3f} (0 annotated)"
    ) in out
    assert f"  recommended threshold {report['threshold']['recommended']:.2f}: " in out
    assert f"  report: {out_folder / 'index.html'}" in out
    assert not (tmp_path / "reports").exists()


def test_cli_evaluate_writes_into_the_configured_reports_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_pack(tmp_path, "billing", BILLING)
    code, out, _ = run(capsys, "--config", write_config(tmp_path), "evaluate", folder)
    assert code == 0
    page = tmp_path / "reports" / "billing" / "index.html"
    assert page.is_file()
    assert (page.parent / "report.json").is_file()
    assert f"  report: {page}" in out
    assert "  out of scope: recall " in out


def _evaluate_support(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bar: str
) -> tuple[int, str, dict[str, Any]]:
    """`parley evaluate` of the support pack with `--fail-under bar`: exit code, output, report."""
    out_folder = tmp_path / "report"
    folder = write_pack(tmp_path, "support", SUPPORT)
    config = write_config(tmp_path)
    code, out, _ = run(
        capsys, "--config", config, "evaluate", folder, "--out", out_folder, "--fail-under", bar
    )
    return code, out, json.loads((out_folder / "report.json").read_text(encoding="utf-8"))


def test_cli_evaluate_fail_under_fails_below_the_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, report = _evaluate_support(tmp_path, capsys, "0.99")
    assert report["accuracy"] < 0.99, "the support pack must make mistakes for this test"
    assert code == 1
    assert f"✗ accuracy {report['accuracy']:.3f} is under 0.990" in out
    assert report["fail_under"] == {"metric": "accuracy", "value": 0.99, "passed": False}


def test_cli_evaluate_fail_under_passes_above_the_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, report = _evaluate_support(tmp_path, capsys, "0.1")
    assert code == 0
    assert "✗" not in out
    assert report["fail_under"] == {"metric": "accuracy", "value": 0.1, "passed": True}


@pytest.mark.parametrize("bar", ["1.5", "-0.1"])
def test_cli_evaluate_fail_under_outside_0_to_1_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bar: str
) -> None:
    out_folder = tmp_path / "report"
    folder = write_pack(tmp_path, "billing", BILLING)
    code, out, err = run(
        capsys,
        "--config",
        write_config(tmp_path),
        "evaluate",
        folder,
        "--out",
        out_folder,
        "--fail-under",
        bar,
    )
    assert (code, out) == (2, "")
    assert "--fail-under takes a fraction from 0 to 1" in err
    assert not out_folder.exists()


def test_cli_evaluate_gates_on_the_chosen_metric(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_folder = tmp_path / "report"
    folder = write_pack(tmp_path, "travel", TRAVEL)
    argv = ["evaluate", folder, "--out", out_folder, "--metric", "entities.f1", "--fail-under", "0.95"]
    code, out, _ = run(capsys, "--config", write_config(tmp_path), *argv)
    report = json.loads((out_folder / "report.json").read_text(encoding="utf-8"))
    f1 = report["entities"]["f1"]
    # Accuracy clears the bar; only the entity metric decides.
    assert report["accuracy"] >= 0.95 > f1, "travel must read intents well and entities less well"
    assert code == 1
    assert f"✗ entities.f1 {f1:.3f} is under 0.950" in out
    assert report["fail_under"] == {"metric": "entities.f1", "value": 0.95, "passed": False}


def test_cli_evaluate_out_of_scope_metric_needs_out_of_scope_examples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # travel has no out_of_scope: block and imports nothing, so there is no out-of-scope recall.
    out_folder = tmp_path / "report"
    folder = write_pack(tmp_path, "travel", TRAVEL)
    argv = ["evaluate", folder, "--out", out_folder, "--metric", "out_of_scope.recall", "--fail-under", "0.5"]
    code, _, err = run(capsys, "--config", write_config(tmp_path), *argv)
    assert code == 2
    assert "parley: the pack has no data for out_of_scope.recall (no out-of-scope examples?)" in err


def test_cli_evaluate_out_of_scope_metric_with_out_of_scope_examples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_folder = tmp_path / "report"
    folder = write_pack(tmp_path, "billing", BILLING)
    argv = ["evaluate", folder, "--out", out_folder, "--metric", "out_of_scope.recall", "--fail-under", "0.5"]
    code, _, err = run(capsys, "--config", write_config(tmp_path), *argv)
    assert (code, err) == (0, "")
    report = json.loads((out_folder / "report.json").read_text(encoding="utf-8"))
    assert report["out_of_scope"]["recall"] >= 0.5
    assert report["fail_under"] == {"metric": "out_of_scope.recall", "value": 0.5, "passed": True}


def test_cli_evaluate_unknown_metric_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_pack(tmp_path, "billing", BILLING)
    err = usage_error(capsys, "evaluate", folder, "--metric", "recall", "--fail-under", "0.5")
    assert "argument --metric: invalid choice: 'recall'" in err


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(UNKNOWN_KEY, "P101", id="validation-error"),
        pytest.param(ONE_INTENT, "P802", id="one-intent"),
    ],
)
def test_cli_evaluate_refuses_a_pack_it_cannot_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, code: str
) -> None:
    out_folder = tmp_path / "report"
    folder = write_pack(tmp_path, "billing", body)
    exit_code, out, _ = run(
        capsys, "--config", write_config(tmp_path), "evaluate", folder, "--out", out_folder
    )
    assert exit_code == 1
    assert f"error {code}: " in out
    assert not out_folder.exists()


def test_cli_parse_messages_after_double_dash_may_start_with_a_dash(
    billing: Billing, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "--config", billing.config, "parse", billing.folder, "--format", "json", "--", "-5"
    )
    assert code == 0
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["-5"]


def test_cli_parse_unknown_option_is_a_usage_error(
    billing: Billing, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(billing.config), "parse", str(billing.folder), "hello", "--colour"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --colour" in capsys.readouterr().err


def test_cli_evaluate_with_a_fixed_threshold_reports_what_that_threshold_gives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_pack(tmp_path, "support", SUPPORT, fallback="{threshold: 0.2}")
    out_folder = tmp_path / "report"
    code, out, _ = run(capsys, "--config", write_config(tmp_path), "evaluate", folder, "--out", out_folder)
    assert code == 0
    threshold = json.loads((out_folder / "report.json").read_text(encoding="utf-8"))["threshold"]
    assert threshold["used"] == 0.2
    assert threshold["recommended"] != 0.2
    assert (
        f"  threshold in use 0.20 (set in the pack): {threshold['used_precision']:.1%} of answers right, "
        f"{threshold['used_coverage']:.0%} of messages answered"
    ) in out
    page = (out_folder / "index.html").read_text(encoding="utf-8")
    assert "With the pack's threshold of 0.20" in page
