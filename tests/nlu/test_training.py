"""Compiling a pack into a model (engine/nlu/training.py): reproducibility, thresholds, manifest, errors."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.nlu import OUT_OF_SCOPE, ModelStore, NluModel
from engine.nlu.evaluation import evaluate
from engine.nlu.training import NO_EVIDENCE_THRESHOLD, answers, fold_of_each_example, trainability_problems
from engine.packs import Pack, PackInvalid, check_pack, load_pack
from tests.nlu.conftest import BILLING, Trained

MESSAGES = {
    "billing": ["i'd like to pay the invoice", "forgot password", "what time are you open", "tell me a joke"],
    "travel": ["fly from Tokyo to Sydney", "cancel my trip to Lima", "fly from LA to NYC", "hello"],
    "support": ["where's my package", "please cancel it", "i want my money back", "order"],
}


def _arrays(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def _same_location(diagnostic_file: str, path: Path) -> bool:
    return Path(diagnostic_file).resolve() == path.resolve()


def _line_of(text: str, line: str) -> int:
    """The 1-based number of the line of `text` that reads `line`."""
    return text.splitlines().index(line) + 1


# -- reproducibility -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["billing", "travel", "support"])
def test_training_same_pack_and_seed_give_identical_models(
    kind: str, nlu_pack: Callable[..., Path], train: Callable[..., Trained], tmp_path: Path
) -> None:
    folder = nlu_pack(kind)
    first = train(folder, root=tmp_path / "first")
    second = train(folder, root=tmp_path / "second")
    a, b = first.outcome.folder, second.outcome.folder
    arrays_a, arrays_b = _arrays(a), _arrays(b)
    assert sorted(arrays_a) == sorted(arrays_b) == ["char_idf", "intent_bias", "intent_weights", "word_idf"]
    for name in arrays_a:
        assert arrays_a[name].dtype == arrays_b[name].dtype
        assert np.array_equal(arrays_a[name], arrays_b[name]), name
    assert (a / "nlu.json").read_text(encoding="utf-8") == (b / "nlu.json").read_text(encoding="utf-8")
    assert (a / "entities.crfsuite").is_file() is (kind == "travel")
    if kind == "travel":
        assert (a / "entities.crfsuite").read_bytes() == (b / "entities.crfsuite").read_bytes()
    for text in MESSAGES[kind]:
        assert first.model.parse(text).to_json() == second.model.parse(text).to_json()
    assert first.model.temperature == second.model.temperature
    assert first.outcome.manifest["cross_validation"] == second.outcome.manifest["cross_validation"]


def test_training_records_the_seed_and_uses_it_for_the_folds(
    nlu_pack: Callable[..., Path], train: Callable[..., Trained]
) -> None:
    """Another seed may give another model; it is recorded, and it deals other folds."""
    default = train(nlu_pack("support", name="default_seed"))
    seeded = train(nlu_pack("support", name="other_seed", nlu="{seed: 7}"))
    assert (default.outcome.manifest["seed"], seeded.outcome.manifest["seed"]) == (42, 7)
    labels = [name for name, intent in default.pack.intents.items() for _ in intent.examples]
    assert not np.array_equal(fold_of_each_example(labels, 5, 42), fold_of_each_example(labels, 5, 7))
    assert seeded.model.parse("please cancel my order").ranking[0].name == "cancel_order"


def test_training_folds_are_stratified_reproducible_and_keep_singletons_in_training() -> None:
    labels = ["a"] * 12 + ["b"] * 7 + ["c"] * 1 + ["d"] * 2
    folds = fold_of_each_example(labels, 5, seed=3)
    assert np.array_equal(folds, fold_of_each_example(labels, 5, seed=3))
    assert folds[labels.index("c")] == -1
    for label in "abd":
        counts = Counter(int(f) for f, lab in zip(folds, labels, strict=True) if lab == label)
        assert -1 not in counts
        assert sum(counts.values()) == labels.count(label)
        assert max(counts.values()) - min(counts.values()) <= 1, (label, counts)
    assert set(folds[folds >= 0].tolist()) == {0, 1, 2, 3, 4}


# -- thresholds --------------------------------------------------------------------------------
def test_training_auto_threshold_is_written_into_the_manifest(
    nlu_pack: Callable[..., Path], train: Callable[..., Trained]
) -> None:
    trained = train(nlu_pack("support", fallback="{threshold: auto, target_precision: 0.9}"))
    manifest = trained.outcome.manifest
    chosen = manifest["cross_validation"]["threshold"]
    assert manifest["thresholds"]["configured"] == "auto"
    assert chosen["target_precision"] == 0.9
    assert chosen["reached"] is True
    assert chosen["precision"] >= 0.9
    assert 0.0 < chosen["recommended"] < 1.0
    assert manifest["thresholds"]["default"] == chosen["recommended"]
    assert trained.model.thresholds.default == pytest.approx(chosen["recommended"], abs=5e-5)
    assert trained.model.parse("please cancel it").threshold == trained.model.thresholds.default
    # What the model folder says is what the training returned.
    on_disk = json.loads((trained.outcome.folder / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest


def test_training_fixed_threshold_is_used_as_is(
    nlu_pack: Callable[..., Path], train: Callable[..., Trained]
) -> None:
    trained = train(nlu_pack("support", fallback="{threshold: 0.3}"))
    manifest = trained.outcome.manifest
    assert manifest["thresholds"] == {
        "configured": 0.3,
        "default": 0.3,
        "per_intent": {},
        "ambiguity_margin": 0.1,
    }
    assert trained.model.thresholds.default == 0.3
    # The recommendation is still computed, for the report, but not used.
    assert manifest["cross_validation"]["threshold"]["recommended"] != 0.3
    result = trained.model.parse("where's my package")
    assert result.threshold == 0.3
    assert result.confidence >= 0.3
    assert (result.intent, result.reason) == ("order_status", "")


def test_training_intent_thresholds_override_the_default(
    nlu_pack: Callable[..., Path], train: Callable[..., Trained]
) -> None:
    folder = nlu_pack(
        "support",
        fallback="{threshold: 0.3, ambiguity_margin: 0.25}",
        edits={"  refund_status:\n": "  refund_status:\n    threshold: 0.85\n"},
    )
    trained = train(folder)
    assert trained.outcome.manifest["thresholds"]["per_intent"] == {"refund_status": 0.85}
    assert trained.outcome.manifest["thresholds"]["ambiguity_margin"] == 0.25
    assert trained.model.thresholds.for_intent("refund_status") == 0.85
    assert trained.model.thresholds.for_intent("order_status") == 0.3
    assert trained.model.parse("where is my refund").threshold == 0.85


# -- manifest and progress ---------------------------------------------------------------------
def test_training_manifest_describes_the_model(nlu_pack: Callable[..., Path], tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    pack = load_pack(nlu_pack("travel"))
    outcome = ModelStore(tmp_path / "models").train(
        pack, folds=3, progress=lambda step, done, total: calls.append((step, done, total))
    )
    manifest = outcome.manifest
    model = NluModel.load(outcome.folder)
    assert manifest["pack"] == {"name": "travel", "version": "1.0.0", "language": "en"}
    assert manifest["examples"] == {"intents": 26, "out_of_scope": 0}
    assert manifest["features"] == model.featurizer.size
    assert manifest["cross_validation"]["folds"] == 3
    assert manifest["cross_validation"]["examples"] == 26
    assert "out_of_scope_recall" not in manifest["cross_validation"]  # no out-of-scope examples
    assert 0.0 <= manifest["cross_validation"]["intent_accuracy"] <= 1.0
    assert 0.0 <= manifest["cross_validation"]["ece"] <= 1.0
    assert model.intents == ("book_flight", "cancel_booking")
    assert calls == [
        ("cross-validation, fold 1 of 3", 0, 3),
        ("cross-validation, fold 2 of 3", 1, 3),
        ("cross-validation, fold 3 of 3", 2, 3),
        ("cross-validation", 3, 3),
        ("calibrating confidence and choosing thresholds", 0, 1),
        ("intent classifier on all examples", 0, 1),
        ("entity recognizer", 0, 1),
        ("saved", 1, 1),
    ]


def test_training_counts_out_of_scope_examples_as_their_own_class(
    nlu_pack: Callable[..., Path], train: Callable[..., Trained]
) -> None:
    trained = train(nlu_pack("billing"))
    manifest = trained.outcome.manifest
    assert manifest["examples"] == {"intents": 36, "out_of_scope": 6}
    assert manifest["cross_validation"]["examples"] == 42
    assert 0.0 <= manifest["cross_validation"]["out_of_scope_recall"] <= 1.0
    assert trained.model.classifier.classes == ("opening_hours", OUT_OF_SCOPE, "pay_bill", "reset_password")
    assert trained.model.intents == ("opening_hours", "pay_bill", "reset_password")


def test_training_answers_make_the_same_decision_as_the_model(
    nlu_pack: Callable[..., Path], train: Callable[..., Trained]
) -> None:
    """`answers` (used for thresholds and evaluation) and `NluModel.decide` read scores alike."""
    model = train(nlu_pack("support")).model
    texts = MESSAGES["support"] + ["tell me a joke", "who won the football match", "refund", "my parcel"]
    probabilities = model.probabilities(texts)
    result = answers(probabilities, model.classifier.classes, ["order_status"] * len(texts))
    verdicts = []
    for i, text in enumerate(texts):
        decided = model.decide(text, probabilities[i])
        by_examples = decided.reason == "out_of_scope_examples"
        verdicts.append(by_examples)
        assert result.predicted[i] == (OUT_OF_SCOPE if by_examples else decided.ranking[0].name)
        assert result.confidence[i] == (0.0 if by_examples else decided.confidence)
        assert result.correct[i] == (not by_examples and decided.ranking[0].name == "order_status")
    assert any(verdicts) and not all(verdicts)


# -- packs that cannot train -------------------------------------------------------------------
def test_training_one_intent_is_too_few(write_pack: Callable[..., Path], tmp_path: Path) -> None:
    folder = write_pack(
        {
            "pack.yml": "pack: lonely\nversion: 1.0.0\nlanguage: en\n"
            "settings: {repair: {digression: false, correction: false, clarification: false, "
            "cancel: false, restart: false, repeat: false, help: false, human: false}}\n"
            "responses: {ask_rephrase: Sorry?}\n",
            "nlu.yml": "intents:\n  greet:\n    examples: [hi, hello, hey, good morning, hiya, howdy, yo,"
            " greetings, morning, evening]\n",
        },
        "lonely",
    )
    store = ModelStore(tmp_path / "models")
    with pytest.raises(PackInvalid) as raised:
        store.train(load_pack(folder))
    assert raised.value.codes == ["P802"]
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.location is not None
    assert _same_location(diagnostic.location.file, folder / "pack.yml")
    assert (diagnostic.location.line, diagnostic.location.column) == (1, 1)
    assert "1 intent(s) with examples (greet)" in diagnostic.message
    assert store.current("lonely") is None
    assert list((tmp_path / "models").glob("lonely/*")) == []


def test_training_empty_examples_are_rejected_by_the_validator_first(
    nlu_pack: Callable[..., Path],
) -> None:
    """`examples: []` never reaches training: validation reports P407 at the intent's examples."""
    before = "  opening_hours:\n    examples:\n"
    folder = nlu_pack("billing", edits={before: "  closed:\n    examples: []\n" + before})
    found = [(d.code, Path(d.location.file).name, d.location.line, d.location.column)
             for d in check_pack(folder).diagnostics if d.location]  # fmt: skip
    # Reported at `examples` of the new intent, which takes the line opening_hours had.
    assert found == [("P407", "nlu.yml", _line_of(BILLING, "  opening_hours:") + 1, 5)]
    with pytest.raises(PackInvalid) as raised:
        load_pack(folder)
    assert raised.value.codes == ["P407"]


def _without_examples(pack: Pack, *names: str) -> Pack:
    intents = dict(pack.intents)
    for name in names:
        intents[name] = intents[name].model_copy(update={"examples": []})
    return dataclasses.replace(pack, intents=intents)


def test_training_an_intent_without_examples_is_reported_at_the_intent(
    nlu_pack: Callable[..., Path], tmp_path: Path
) -> None:
    folder = nlu_pack("billing")
    pack = _without_examples(load_pack(folder), "reset_password")
    found = trainability_problems(pack)
    line = _line_of(BILLING, "  reset_password:")
    assert [(d.code, d.location.line, d.location.column) for d in found if d.location] == [("P801", line, 3)]
    assert found[0].location is not None
    assert _same_location(found[0].location.file, folder / "nlu.yml")
    assert found[0].message == "intent 'reset_password' has no examples, so the model cannot learn it"
    with pytest.raises(PackInvalid) as raised:
        ModelStore(tmp_path / "models").train(pack)
    assert raised.value.codes == ["P801"]


def test_training_intents_without_examples_also_leave_too_few_intents(
    nlu_pack: Callable[..., Path],
) -> None:
    folder = nlu_pack("billing")
    pack = _without_examples(load_pack(folder), "pay_bill", "reset_password")
    found = [(d.code, Path(d.location.file).name, d.location.line) for d in trainability_problems(pack)
             if d.location]  # fmt: skip
    assert found == [
        ("P801", "nlu.yml", _line_of(BILLING, "  pay_bill:")),
        ("P801", "nlu.yml", _line_of(BILLING, "  reset_password:")),
        ("P802", "pack.yml", 1),
    ]
    assert trainability_problems(load_pack(folder)) == []


def test_training_language_without_a_tokenizer_is_p803(nlu_pack: Callable[..., Path], tmp_path: Path) -> None:
    """A language spaCy cannot tokenize passes validation but is refused, located, by training."""
    folder = nlu_pack("billing")
    (folder / "pack.yml").write_text(
        (folder / "pack.yml").read_text(encoding="utf-8").replace("language: en", "language: zz"),
        encoding="utf-8",
    )
    store = ModelStore(tmp_path / "models")
    with pytest.raises(PackInvalid) as raised:
        store.train(load_pack(folder))
    assert raised.value.codes == ["P803"]
    (diagnostic,) = raised.value.diagnostics
    assert "language 'zz' has no spaCy tokenizer" in diagnostic.message
    assert diagnostic.location is not None and (diagnostic.location.line, diagnostic.location.column) == (
        1,
        1,
    )
    assert not (tmp_path / "models" / "billing").exists()


def test_a_pack_whose_intents_have_one_example_each_trains_without_calibration(
    write_pack: Callable[..., Path], tmp_path: Path
) -> None:
    folder = write_pack(
        {
            "pack.yml": "pack: one\nversion: 1.0.0\nlanguage: en\n"
            "settings: {repair: {digression: false, correction: false, clarification: false, cancel: false,"
            " restart: false, repeat: false, help: false, human: false}, nlu: {min_examples: 1}}\n"
            "intents:\n  greet: {examples: [hi]}\n  affirm: {examples: ['yes']}\n"
            "responses:\n  ask_rephrase: Sorry?\n"
        },
        "one",
    )
    store = ModelStore(tmp_path / "models")
    outcome = store.train(load_pack(folder))
    cv = outcome.manifest["cross_validation"]
    assert cv["examples"] == 0 and "nothing could be held out" in cv["note"]
    assert cv["intent_accuracy"] is None and cv["ece"] is None  # not measured, not zero
    assert outcome.manifest["thresholds"]["default"] == NO_EVIDENCE_THRESHOLD
    model = store.load("one")
    assert model.parse("hi").intent == "greet"
    with pytest.raises(PackInvalid) as raised:  # nothing can be held out to measure it
        evaluate(load_pack(folder))
    assert raised.value.codes == ["P804"]
