"""A trained model reading messages (engine/nlu/model.py), and the safety of its folder."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.nlu import OUT_OF_SCOPE, ModelError, NluModel, ParseResult
from engine.nlu.model import FORMAT_VERSION
from engine.nlu.text import MAX_MESSAGE_CHARS, normalize
from tests.nlu.conftest import Trained

ROOT = Path(__file__).resolve().parents[2]

#: The saturation of confidences on packs whose cross-validation is perfect (see the report).
SATURATED = (
    "cross-validation without a single mistake fits the temperature to its upper bound (200), so "
    "confidences become exactly 1.0 and ~1e-150"
)


def _examples(retail: Trained) -> set[str]:
    pack = retail.pack
    texts = [e.text for intent in pack.intents.values() for e in intent.examples]
    return {normalize(t) for t in [*texts, *pack.out_of_scope_examples]}


def _assert_well_formed(result: ParseResult, model: NluModel) -> None:
    """What holds for every parse: ranking, confidences, verdict and entity offsets."""
    names = [score.name for score in result.ranking]
    assert sorted(names) == sorted(model.intents)
    assert OUT_OF_SCOPE not in names
    confidences = [score.confidence for score in result.ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert sum(confidences) <= 1.0 + 1e-9
    assert result.confidence == confidences[0]
    assert result.out_of_scope is (result.intent == OUT_OF_SCOPE)
    if not result.out_of_scope:
        assert (result.intent, result.reason) == (names[0], "")
    assert result.reason in ("", "below_threshold", "out_of_scope_examples")
    for entity in result.entities:
        assert result.text[entity.start : entity.end] == entity.text, entity


# -- intents -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("where has my order got to", "order_status"),
        ("I'd like to send these boots back", "start_return"),
        ("my refund still hasn't come through", "refund_status"),
        ("please cancel order K99999", "cancel_order"),
        ("my delivery is really late", "delivery_delay"),
        ("i need to change the delivery address on my order", "change_address"),
        ("WHERE HAS MY ORDER GOT TO", "order_status"),
        ("𝕨𝕙𝕖𝕣𝕖 𝕙𝕒𝕤 𝕞𝕪 𝕠𝕣𝕕𝕖𝕣 𝕘𝕠𝕥 𝕥𝕠", "order_status"),  # compatibility forms are folded
        ("hello there", "greet"),
        ("thanks so much", "thanks"),
    ],
)
def test_model_recognizes_clear_messages(retail: Trained, text: str, intent: str) -> None:
    assert normalize(text) not in _examples(retail)
    result = retail.model.parse(text)
    assert (result.intent, result.reason, result.out_of_scope) == (intent, "", False)
    assert result.confidence >= result.threshold == retail.model.thresholds.default
    _assert_well_formed(result, retail.model)


def test_model_ranking_holds_every_real_intent(retail: Trained) -> None:
    model = retail.model
    assert set(model.intents) == set(retail.pack.intents)
    text = "my refund still hasn't come through"
    result = model.parse(text)
    _assert_well_formed(result, model)
    assert len(result.ranking) == len(retail.pack.intents)
    # The ranking and the out-of-scope class share the probability.
    probabilities = model.probabilities([text])[0]
    out_of_scope = probabilities[model.classifier.classes.index(OUT_OF_SCOPE)]
    assert sum(s.confidence for s in result.ranking) + out_of_scope == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "text",
    ["will it rain in london tomorrow", "who won the football yesterday", "what's the capital of peru"],
)
def test_model_messages_like_out_of_scope_examples_are_out_of_scope(retail: Trained, text: str) -> None:
    result = retail.model.parse(text)
    assert (result.intent, result.out_of_scope, result.reason) == (
        OUT_OF_SCOPE,
        True,
        "out_of_scope_examples",
    )
    assert result.ambiguous is False
    assert result.confidence < 0.1
    _assert_well_formed(result, retail.model)


# -- entities ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "please cancel order K99999", [("order_id", "K99999", 20, 26, "regex", 1.0)], id="regex"
        ),
        pytest.param(
            "i paid £45.50 and want a refund",
            [("amount", {"amount": 45.5, "currency": "GBP"}, 7, 13, "system", 1.0)],
            id="system-money",
        ),
        pytest.param(
            "my email is bob@example.com",
            [("email", "bob@example.com", 12, 27, "system", 1.0)],
            id="system-email",
        ),
        pytest.param(
            "i want to return my blue kettel",
            [("product", "blue kettle", 20, 31, "lookup", 0.9)],
            id="lookup-with-a-typo",
        ),
        pytest.param(
            "return the telly please", [("product", "television", 11, 16, "lookup", 1.0)], id="lookup-synonym"
        ),
        pytest.param(
            "I want to return order A12345 because it's faulty",
            [
                ("order_id", "A12345", 23, 29, "regex", 1.0),
                ("return_reason", "faulty", 43, 49, "lookup", 1.0),
            ],
            id="two-kinds",
        ),
    ],
)
def test_model_finds_entities_of_every_kind(
    retail: Trained, text: str, expected: list[tuple[str, Any, int, int, str, float]]
) -> None:
    result = retail.model.parse(text)
    found = [
        (e.entity, e.value, e.start, e.end, e.extractor, pytest.approx(e.confidence)) for e in result.entities
    ]
    assert found == expected
    _assert_well_formed(result, retail.model)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("where is order A12345?", id="plain"),
        pytest.param("order\x00A12345 please", id="nul-before-a-regex-match"),
        pytest.param("refund of £25\x07 please", id="bell-after-money"),
        pytest.param("my email is bob@example.com\x1b thanks", id="escape-after-email"),
        pytest.param("\ufeffreturn the telly", id="byte-order-mark"),
        pytest.param("café order A12345 🙂 for £30", id="accents-and-emoji"),
        pytest.param("Hello\nwhere is\tmy order\r\nA12345", id="line-breaks"),
        pytest.param(
            "return my blue\x07kettle please",
            id="control-character-inside-a-lookup-value",
        ),
        pytest.param(
            "return my blue\u200bkettle please",
            id="zero-width-space-inside-a-lookup-value",
        ),
    ],
)
def test_model_entity_offsets_point_into_the_message_as_written(retail: Trained, text: str) -> None:
    result = retail.model.parse(text)
    assert result.entities, "each message holds an entity"
    for entity in result.entities:
        assert text[entity.start : entity.end] == entity.text


def test_model_common_words_are_not_read_as_typos_of_products(retail: Trained) -> None:
    assert retail.model.parse("tell me a funny joke").entities == ()


def test_model_to_json_has_rasas_shape(retail: Trained) -> None:
    data = retail.model.parse("I want to return order A12345 because it's faulty").to_json()
    assert json.loads(json.dumps(data)) == data
    assert list(data) == [
        "text",
        "intent",
        "intent_ranking",
        "entities",
        "out_of_scope",
        "ambiguous",
        "threshold",
        "reason",
    ]
    assert data["text"] == "I want to return order A12345 because it's faulty"
    assert list(data["intent"]) == ["name", "confidence"]
    assert data["intent"]["name"] == "start_return"
    assert data["intent"] == data["intent_ranking"][0]
    assert all(list(score) == ["name", "confidence"] for score in data["intent_ranking"])
    assert len(data["intent_ranking"]) == len(retail.pack.intents)
    assert data["entities"] == [
        {
            "entity": "order_id",
            "start": 23,
            "end": 29,
            "value": "A12345",
            "text": "A12345",
            "extractor": "regex",
            "confidence_entity": 1.0,
        },
        {
            "entity": "return_reason",
            "start": 43,
            "end": 49,
            "value": "faulty",
            "text": "faulty",
            "extractor": "lookup",
            "confidence_entity": 1.0,
        },
    ]
    assert (data["out_of_scope"], data["ambiguous"], data["reason"]) == (False, False, "")
    assert data["threshold"] == round(retail.model.thresholds.default, 4)


# -- odd input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="spaces"),
        pytest.param("\t\n\r\n", id="line-breaks"),
        pytest.param("🙂👍🏽", id="emoji"),
        pytest.param("?!... --- ¿¡", id="punctuation"),
        pytest.param("\x00\x07", id="control-characters"),
        pytest.param("\u200b\ufeff\u2028", id="invisible-characters"),
    ],
)
def test_model_text_without_words_is_out_of_scope(retail: Trained, text: str) -> None:
    assert retail.model.parse(text).to_json() == {
        "text": text,
        "intent": {"name": OUT_OF_SCOPE, "confidence": 0.0},
        "intent_ranking": [],
        "entities": [],
        "out_of_scope": True,
        "ambiguous": False,
        "threshold": round(retail.model.thresholds.default, 4),
        "reason": "no_words",
    }


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("привет hello 你好", id="mixed-scripts"),
        pytest.param("مرحبا where is my order", id="right-to-left"),
        pytest.param("\u202eredro ym si erehw", id="direction-override"),
        pytest.param("e\u0301\u0301\u0301", id="combining-marks"),
        pytest.param("1234567890", id="digits-only"),
        pytest.param("a" * 100_000, id="100k-one-word"),
        pytest.param("where is my order " * 6_000, id="100k-words"),
        pytest.param("\x00order\x07" * 10_000, id="100k-with-control-characters"),
    ],
)
def test_model_odd_text_gets_a_well_formed_answer(retail: Trained, text: str) -> None:
    result = retail.model.parse(text)
    assert result.text == text
    assert result.reason != "no_words"
    _assert_well_formed(result, retail.model)


def test_model_reads_a_long_message_up_to_the_limit(retail: Trained) -> None:
    text = "where is A12345 " + "x " * 50_000 + " B54321"
    result = retail.model.parse(text)
    assert [(e.text, e.start, e.end) for e in result.entities] == [("A12345", 9, 15)]
    assert all(e.end <= MAX_MESSAGE_CHARS for e in result.entities)
    _assert_well_formed(result, retail.model)


# -- thresholds and ambiguity ------------------------------------------------------------------
#: Per pack: an intent that gets `threshold: 1.0`, and messages the model reads as that intent.
THRESHOLD_PROBES = {
    "support": (
        "cancel_order",
        ["please cancel it", "cancel my order", "stop my order", "cancel the parcel"],
    ),
    "billing": (
        "pay_bill",
        ["i'd like to pay the invoice", "paying my bill", "pay now", "settle my invoice"],
    ),
}
#: Messages of the pack's other intents.
OTHER_INTENTS = {
    "support": ["where's my package", "my refund has not arrived", "track my order"],
    "billing": ["forgot password", "what time are you open", "are you open on monday"],
}


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("support", id="confidences-spread"),
        pytest.param(
            "billing",
            id="cross-validation-without-mistakes",
        ),
    ],
)
def test_model_intent_threshold_of_one_always_falls_back(
    kind: str, nlu_pack: Callable[..., Path], train: Callable[..., Trained]
) -> None:
    intent, messages = THRESHOLD_PROBES[kind]
    trained = train(
        nlu_pack(
            kind, fallback="{threshold: 0.0}", edits={f"  {intent}:\n": f"  {intent}:\n    threshold: 1.0\n"}
        )
    )
    for text in messages:
        result = trained.model.parse(text)
        assert result.ranking[0].name == intent, text
        assert (result.intent, result.reason, result.threshold) == (OUT_OF_SCOPE, "below_threshold", 1.0), (
            text
        )
        assert result.ambiguous is False
    for text in OTHER_INTENTS[kind]:
        result = trained.model.parse(text)
        assert (result.out_of_scope, result.threshold) == (False, 0.0), text


AMBIGUITY_PROBES = {
    "support": ["where's my package", "please cancel it", "i want my money back", "order", "my parcel",
                "refund please", "stop it", "tell me a joke"],
    "billing": ["i'd like to pay the invoice", "forgot password", "what time are you open", "paying my bill",
                "tell me a joke"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "margin"),
    [
        pytest.param("support", 1.0, id="margin-1-spread"),
        pytest.param("support", 0.0, id="margin-0-spread"),
        pytest.param(
            "billing",
            1.0,
            id="margin-1-cross-validation-without-mistakes",
        ),
        pytest.param("billing", 0.0, id="margin-0-cross-validation-without-mistakes"),
    ],
)
def test_model_ambiguity_margin(
    kind: str, margin: float, nlu_pack: Callable[..., Path], train: Callable[..., Trained]
) -> None:
    """With margin 1 every understood message is ambiguous (two intents are always closer than 1);
    with margin 0 none is. Messages out of scope are never ambiguous."""
    trained = train(nlu_pack(kind, fallback=f"{{threshold: 0.0, ambiguity_margin: {margin}}}"))
    results = [trained.model.parse(text) for text in AMBIGUITY_PROBES[kind]]
    understood = [r for r in results if not r.out_of_scope]
    assert len(understood) >= 4
    assert any(r.reason == "out_of_scope_examples" for r in results)
    for result in results:
        assert result.ambiguous is (margin == 1.0 and not result.out_of_scope), result.text


# -- learned entities and roles ----------------------------------------------------------------
@pytest.fixture
def travel(nlu_pack: Callable[..., Path], train: Callable[..., Trained]) -> Trained:
    return train(nlu_pack("travel"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "fly from Tokyo to Sydney",
            [("Tokyo", "Tokyo", "origin"), ("Sydney", "Sydney", "destination")],
            id="unseen-cities",
        ),
        pytest.param(
            "book a flight to Seattle from Boston",
            [("Seattle", "Seattle", "destination"), ("Boston", "Boston", "origin")],
            id="unseen-cities-other-order",
        ),
        pytest.param(
            "i want to fly from Chicago to Denver",
            [("Chicago", "Chicago", "origin"), ("Denver", "Denver", "destination")],
            id="longer-message",
        ),
        pytest.param(
            "fly from LA to NYC",
            [("LA", "Los Angeles", "origin"), ("NYC", "New York", "destination")],
            id="annotated-value-and-synonym",
        ),
        pytest.param("cancel my trip to Lima", [("Lima", "Lima", "destination")], id="in-another-intent"),
    ],
)
def test_model_learns_entities_and_roles_from_context(
    travel: Trained, text: str, expected: list[tuple[str, str, str]]
) -> None:
    result = travel.model.parse(text)
    assert [(e.entity, e.text, e.value, e.role, e.extractor) for e in result.entities] == [
        ("city", surface, value, role, "learned") for surface, value, role in expected
    ]
    assert all(0.0 < e.confidence <= 1.0 for e in result.entities)
    _assert_well_formed(result, travel.model)


def test_model_rule_based_entities_take_roles_from_the_learned_model(travel: Trained) -> None:
    result = travel.model.parse("from Gatwick to Schiphol")
    assert [(e.entity, e.text, e.value, e.role, e.extractor) for e in result.entities] == [
        ("airport", "Gatwick", "Gatwick", "origin", "lookup"),
        ("airport", "Schiphol", "Schiphol", "destination", "lookup"),
    ]
    data = result.to_json()["entities"]
    assert [(e["entity"], e["role"]) for e in data] == [("airport", "origin"), ("airport", "destination")]


def test_model_learned_synonyms_are_stored_with_the_model(travel: Trained) -> None:
    assert travel.model.entities.synonyms == {
        "city": {"new york": "New York", "nyc": "New York", "la": "Los Angeles"}
    }
    assert travel.model.entities.kinds == {"city": "learned", "airport": "lookup"}


# -- the model folder ----------------------------------------------------------------------------
@pytest.fixture
def retail_copy(retail: Trained, tmp_path: Path) -> Path:
    """A copy of the retail model folder that a test may damage."""
    return Path(shutil.copytree(retail.outcome.folder, tmp_path / "model"))


@pytest.fixture
def travel_copy(travel: Trained, tmp_path: Path) -> Path:
    return Path(shutil.copytree(travel.outcome.folder, tmp_path / "travel-model"))


class _Trap:
    """Unpickling this object creates the file `marker`: proof that code from the folder ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def _rehash(folder: Path) -> None:
    """Record the files' current hashes in the manifest: a folder that is consistent but wrong
    (written by another tool or version), so that the checks behind the hash check are reached."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"] = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in manifest["files"]
        if (folder / name).is_file()
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _rewrite_arrays(folder: Path, **changes: Any) -> None:
    with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    arrays.update(changes)
    np.savez(folder / "arrays.npz", **arrays)
    _rehash(folder)


def _write_and_rehash(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    _rehash(path.parent)


def test_model_loading_never_unpickles_arrays(retail_copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    _rewrite_arrays(retail_copy, intent_bias=np.array([_Trap(marker)], dtype=object))
    with pytest.raises(ModelError, match="cannot read the model arrays") as raised:
        NluModel.load(retail_copy)
    assert str(retail_copy / "arrays.npz") in str(raised.value)
    assert not marker.exists()
    # The trap is real: a loader that allowed pickles would have run it.
    with np.load(retail_copy / "arrays.npz", allow_pickle=True) as stored:
        stored["intent_bias"]
    assert marker.exists()


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize(
    ("damage", "file", "fragment"),
    [
        pytest.param(
            lambda f: _truncate(f / "nlu.json"),
            "nlu.json",
            "is damaged or was changed after training",
            id="truncated-nlu-json",
        ),
        pytest.param(
            lambda f: _truncate(f / "arrays.npz"),
            "arrays.npz",
            "is damaged or was changed after training",
            id="truncated-arrays",
        ),
        pytest.param(
            lambda f: _write_and_rehash(f / "nlu.json", b"\xff\xfe\x00garbage"),
            "nlu.json",
            "cannot read",
            id="not-utf8",
        ),
        pytest.param(
            lambda f: _write_and_rehash(f / "nlu.json", b"[1, 2]"),
            "nlu.json",
            "expected a JSON object",
            id="not-an-object",
        ),
        pytest.param(
            lambda f: _truncate(f / "manifest.json"), "manifest.json", "cannot read", id="truncated-manifest"
        ),
        pytest.param(
            lambda f: (f / "manifest.json").unlink(),
            "manifest.json",
            "run `parley train`",
            id="missing-manifest",
        ),
        pytest.param(
            lambda f: (f / "nlu.json").unlink(), "nlu.json", "is missing; retrain", id="missing-nlu-json"
        ),
        pytest.param(
            lambda f: (f / "arrays.npz").unlink(), "arrays.npz", "is missing; retrain", id="missing-arrays"
        ),
        pytest.param(
            lambda f: _rewrite_arrays(f, word_idf=np.zeros(3, dtype=np.float32)),
            "",
            "the model is damaged",
            id="arrays-not-matching-the-vocabulary",
        ),
        pytest.param(
            lambda f: _write_and_rehash(
                f / "nlu.json",
                json.dumps(
                    {k: v for k, v in json.loads((f / "nlu.json").read_text()).items() if k != "classifier"}
                ).encode(),
            ),
            "",
            "the model is damaged (KeyError: 'classifier'); retrain it",
            id="nlu-json-without-a-part",
        ),
        pytest.param(
            lambda f: _rewrite_arrays(
                f,
                intent_weights=np.zeros((2, 3), dtype=np.float32),
                intent_bias=np.zeros(2, dtype=np.float32),
            ),
            "",
            "the model is damaged",
            id="classifier-of-the-wrong-shape",
        ),
    ],
)
def test_model_damaged_folder_raises_model_error(
    retail_copy: Path, damage: Callable[[Path], object], file: str, fragment: str
) -> None:
    damage(retail_copy)
    with pytest.raises(ModelError) as raised:
        NluModel.load(retail_copy)
    message = str(raised.value)
    assert str(retail_copy / file) in message
    assert fragment in message


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        pytest.param(lambda f: (f / "entities.crfsuite").unlink(), "is missing; retrain", id="missing"),
        pytest.param(
            lambda f: (f / "entities.crfsuite").write_bytes(b"not a crfsuite model"),
            "is damaged or was changed after training",
            id="garbage",
        ),
        pytest.param(
            lambda f: _write_and_rehash(f / "entities.crfsuite", b"not a crfsuite model"),
            "Invalid model file",
            id="garbage-with-matching-hash",
        ),
    ],
)
def test_model_damaged_entity_model_raises_model_error(
    travel_copy: Path, damage: Callable[[Path], object], fragment: str
) -> None:
    damage(travel_copy)
    with pytest.raises(ModelError) as raised:
        NluModel.load(travel_copy)
    assert str(travel_copy / "entities.crfsuite") in str(raised.value)
    assert fragment in str(raised.value)


_LOAD = """\
import sys
from pathlib import Path
from engine.nlu import ModelError, NluModel
try:
    NluModel.load(Path(sys.argv[1])).parse("fly from Tokyo to Sydney")
except ModelError as error:
    print(error)
    sys.exit(3)
"""


def test_model_truncated_entity_model_raises_model_error(travel_copy: Path) -> None:
    """Run in a child process: a crash of crfsuite's C library must not take the test run down."""
    _truncate(travel_copy / "entities.crfsuite")
    child = subprocess.run(
        [sys.executable, "-c", _LOAD, str(travel_copy)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert child.returncode == 3, f"exit status {child.returncode}: {child.stderr[-2000:]}"
    assert str(travel_copy / "entities.crfsuite") in child.stdout


def test_model_format_from_the_future_asks_to_retrain(retail_copy: Path) -> None:
    model = json.loads((retail_copy / "nlu.json").read_text(encoding="utf-8"))
    model["format"] = FORMAT_VERSION + 1
    _write_and_rehash(retail_copy / "nlu.json", json.dumps(model).encode())
    with pytest.raises(ModelError) as raised:
        NluModel.load(retail_copy)
    message = str(raised.value)
    assert str(retail_copy) in message
    assert f"model format {FORMAT_VERSION + 1} is not {FORMAT_VERSION}" in message
    assert "retrain it with `parley train --force`" in message


def test_model_saved_folder_loads_to_the_same_answers(retail: Trained, retail_copy: Path) -> None:
    copy = NluModel.load(retail_copy)
    for text in ["where has my order got to", "tell me a joke please", "refund €20 to me", ""]:
        assert copy.parse(text) == retail.model.parse(text)
