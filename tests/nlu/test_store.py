"""Where models live and when a pack is retrained (engine/nlu/store.py)."""

from __future__ import annotations

import itertools
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest

import engine.nlu.store as store_module
from engine.nlu import ModelError, ModelStore
from engine.nlu.store import KEEP_MODELS, fingerprint, source_hashes
from engine.packs import PackInvalid, load_pack
from tests.nlu.conftest import BILLING, Trained, edit

MODEL_FILES = {"manifest.json", "nlu.json", "arrays.npz"}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """Give the store a clock: `clock(True)` moves on a second per model, `clock(False)` stands still."""

    def use(ticking: bool) -> None:
        seconds = itertools.count(1_700_000_000)
        fake = types.SimpleNamespace(
            strftime=time.strftime,
            gmtime=lambda *_: time.gmtime(next(seconds) if ticking else 1_700_000_000),
        )
        monkeypatch.setattr(store_module, "time", fake)

    return use


def _models(root: Path, pack: str) -> set[str]:
    return {p.name for p in (root / pack).iterdir() if p.is_dir()}


def test_store_training_makes_the_new_model_current(nlu_pack: Callable[..., Path], tmp_path: Path) -> None:
    root = tmp_path / "models"
    store = ModelStore(root)
    pack = load_pack(nlu_pack("billing"))
    outcome = store.train(pack)
    assert outcome.skipped is False
    assert outcome.folder.parent == root / "billing"
    assert {p.name for p in outcome.folder.iterdir()} == MODEL_FILES  # no learned entities: no CRF
    assert (root / "billing" / "current").read_text(encoding="utf-8") == outcome.folder.name + "\n"
    assert sorted(p.name for p in (root / "billing").iterdir()) == sorted(["current", outcome.folder.name])
    assert store.current("billing") == outcome.folder
    assert store.current_manifest("billing") == outcome.manifest
    manifest = outcome.manifest
    assert manifest["model_id"] == outcome.folder.name
    assert manifest["fingerprint"] == fingerprint(source_hashes(pack))
    assert outcome.folder.name.endswith("-" + manifest["fingerprint"][:8])
    assert sorted(manifest["sources"]) == ["nlu.yml", "pack.yml"]
    assert store.is_up_to_date(pack)
    assert store.load("billing").parse("forgot password").intent == "reset_password"


def test_store_unchanged_pack_is_not_retrained(nlu_pack: Callable[..., Path], tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    folder = nlu_pack("billing")
    first = store.train(load_pack(folder))
    again = store.train(load_pack(folder))
    assert again.skipped is True
    assert again.folder == first.folder
    assert again.manifest == first.manifest
    assert _models(tmp_path / "models", "billing") == {first.folder.name}


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        pytest.param(
            "nlu.yml", "      - pay the bill\n", "      - pay the bill right now\n", id="edited-example"
        ),
        pytest.param(
            "nlu.yml", "      - closing time\n", "      - closing time\n      - shut time\n", id="new-example"
        ),
        pytest.param("pack.yml", "nlu: {}", "nlu: {seed: 3}", id="settings"),
        pytest.param("data/products.txt", "kettle\n", "kettle\nblender\n", id="lookup-file"),
    ],
)
def test_store_changed_sources_retrain(
    file: str, old: str, new: str, nlu_pack: Callable[..., Path], tmp_path: Path
) -> None:
    folder = nlu_pack(
        "billing",
        files={
            "entities.yml": "entities:\n  product:\n    lookup: {file: data/products.txt}\n",
            "data/products.txt": "kettle\ntoaster\n",
        },
    )
    store = ModelStore(tmp_path / "models")
    first = store.train(load_pack(folder))
    assert sorted(first.manifest["sources"]) == ["data/products.txt", "entities.yml", "nlu.yml", "pack.yml"]
    path = folder / file
    path.write_text(edit(path.read_text(encoding="utf-8"), old, new), encoding="utf-8")
    pack = load_pack(folder)
    assert not store.is_up_to_date(pack)
    second = store.train(pack)
    assert second.skipped is False
    assert second.folder != first.folder
    assert store.current("billing") == second.folder
    assert second.manifest["fingerprint"] != first.manifest["fingerprint"]
    changed = {
        k for k in first.manifest["sources"] if first.manifest["sources"][k] != second.manifest["sources"][k]
    }
    assert changed == {file}
    assert _models(tmp_path / "models", "billing") == {first.folder.name, second.folder.name}
    if file == "data/products.txt":
        found = store.load("billing").parse("i want to pay for the blender").entities
        assert [(e.entity, e.value) for e in found] == [("product", "blender")]


def test_store_force_retrains_an_unchanged_pack(
    nlu_pack: Callable[..., Path], tmp_path: Path, clock: Callable[[bool], None]
) -> None:
    clock(True)
    store = ModelStore(tmp_path / "models")
    pack = load_pack(nlu_pack("billing"))
    first = store.train(pack)
    forced = store.train(pack, force=True)
    assert forced.skipped is False
    assert forced.folder != first.folder
    assert forced.manifest["fingerprint"] == first.manifest["fingerprint"]
    assert store.current("billing") == forced.folder
    assert _models(tmp_path / "models", "billing") == {first.folder.name, forced.folder.name}


def test_store_keeps_the_last_three_models(
    nlu_pack: Callable[..., Path], tmp_path: Path, clock: Callable[[bool], None]
) -> None:
    clock(True)
    store = ModelStore(tmp_path / "models")
    pack = load_pack(nlu_pack("billing"))
    folders = [store.train(pack, force=True).folder for _ in range(KEEP_MODELS + 2)]
    assert KEEP_MODELS == 3
    assert _models(tmp_path / "models", "billing") == {f.name for f in folders[-KEEP_MODELS:]}
    assert store.current("billing") == folders[-1]


def test_store_keeps_the_last_three_models_trained_within_one_second(
    nlu_pack: Callable[..., Path], tmp_path: Path, clock: Callable[[bool], None]
) -> None:
    clock(False)
    store = ModelStore(tmp_path / "models")
    pack = load_pack(nlu_pack("billing"))
    folders = [store.train(pack, force=True).folder for _ in range(KEEP_MODELS + 2)]
    assert len({f.name for f in folders}) == len(folders), [f.name for f in folders]
    assert _models(tmp_path / "models", "billing") == {f.name for f in folders[-KEEP_MODELS:]}


def test_store_manifest_names_its_own_folder(
    nlu_pack: Callable[..., Path], tmp_path: Path, clock: Callable[[bool], None]
) -> None:
    clock(False)
    store = ModelStore(tmp_path / "models")
    pack = load_pack(nlu_pack("billing"))
    for _ in range(2):
        outcome = store.train(pack, force=True)
        assert outcome.manifest["model_id"] == outcome.folder.name


def test_store_failed_training_keeps_the_current_model(nlu_pack: Callable[..., Path], tmp_path: Path) -> None:
    folder = nlu_pack("billing")
    store = ModelStore(tmp_path / "models")
    good = store.train(load_pack(folder))
    one_intent = (
        BILLING[: BILLING.index("  reset_password:")] + "out_of_scope:\n  examples: [tell me a joke]\n"
    )
    (folder / "nlu.yml").write_text(one_intent, encoding="utf-8")
    with pytest.raises(PackInvalid) as raised:
        store.train(load_pack(folder))
    assert raised.value.codes == ["P802"]
    assert store.current("billing") == good.folder
    assert sorted(p.name for p in (tmp_path / "models" / "billing").iterdir()) == sorted(
        ["current", good.folder.name]
    )


def test_store_load_of_a_pack_never_trained_says_to_train(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    assert store.current("retail") is None
    assert store.current_manifest("retail") is None
    with pytest.raises(ModelError, match=r"pack 'retail' has no trained model in .*: run `parley train`"):
        store.load("retail")


def test_store_current_pointing_at_a_removed_model_counts_as_untrained(
    nlu_pack: Callable[..., Path], train: Callable[..., Trained], tmp_path: Path
) -> None:
    trained = train(nlu_pack("billing"))
    (tmp_path / "models" / "billing" / "current").write_text("20000101-000000-deadbeef\n", encoding="utf-8")
    store = ModelStore(tmp_path / "models")
    assert store.current("billing") is None
    assert not store.is_up_to_date(trained.pack)
    with pytest.raises(ModelError, match="run `parley train`"):
        store.load("billing")


def test_store_engine_version_is_part_of_the_fingerprint(
    nlu_pack: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ModelStore(tmp_path / "models")
    pack = load_pack(nlu_pack("billing"))
    store.train(pack)
    assert store.is_up_to_date(pack)
    monkeypatch.setattr(store_module, "__version__", "999.0.0")
    assert not store.is_up_to_date(pack)
    assert store.train(pack).skipped is False


def test_store_number_of_folds_is_part_of_the_fingerprint(
    nlu_pack: Callable[..., Path], tmp_path: Path
) -> None:
    store = ModelStore(tmp_path / "models")
    pack = load_pack(nlu_pack("billing"))
    three = store.train(pack, folds=3)
    assert three.manifest["cross_validation"]["folds"] == 3
    assert store.is_up_to_date(pack)  # judged with the folds the current model was trained with
    assert store.train(pack, folds=3).skipped is True
    five = store.train(pack, folds=5)
    assert five.skipped is False
    assert five.manifest["fingerprint"] != three.manifest["fingerprint"]
    assert five.manifest["cross_validation"]["folds"] == 5


def test_store_sources_include_imported_packs_and_lookup_files(retail: Trained) -> None:
    sources = retail.outcome.manifest["sources"]
    retail_folder = retail.pack.folder
    own = {p.name for p in retail_folder.iterdir() if p.suffix == ".yml"} | {"products.txt"}
    assert {name for name in sources if not name.startswith("../")} == own
    assert {"../common/nlu.yml", "../common/responses.yml", "../common/flows.yml"} <= set(sources)
    assert not any(name.startswith("tests/") for name in sources)
    assert len(set(sources.values())) == len(sources)  # a sha256 per file, none shared by chance


def test_store_edited_out_of_scope_examples_of_an_imported_pack_retrain(
    write_pack: Callable[..., Path], tmp_path: Path
) -> None:
    write_pack(
        {
            "pack.yml": "pack: base\nversion: 1.0.0\nlanguage: en\n",
            "intents.yml": "intents:\n  greet:\n    examples: [hi, hello, hey, good morning, hiya, howdy, yo,"
            " greetings, morning, evening]\n",
            "small_talk.yml": "out_of_scope:\n"
            "  examples: [tell me a joke, what's the weather, sing a song]\n",
        },
        "base",
    )
    folder = write_pack(
        {
            "pack.yml": "pack: main\nversion: 1.0.0\nlanguage: en\nimports: [base]\n"
            "settings: {repair: {digression: false, correction: false, clarification: false, "
            "cancel: false, restart: false, repeat: false, help: false, human: false}}\n"
            "responses: {ask_rephrase: Sorry?}\n"
            "intents:\n  bye:\n    examples: [bye, goodbye, see you, later, cya, farewell, ciao, so long,"
            " take care, ttyl]\n",
        },
        "main",
    )
    store = ModelStore(tmp_path / "models")
    first = store.train(load_pack(folder))
    assert first.manifest["examples"]["out_of_scope"] == 3
    small_talk = tmp_path / "base" / "small_talk.yml"
    small_talk.write_text(
        edit(small_talk.read_text(encoding="utf-8"), "sing a song]", "sing a song, who won the match]"),
        encoding="utf-8",
    )
    pack = load_pack(folder)
    assert len(pack.out_of_scope_examples) == 4
    second = store.train(pack)
    assert second.skipped is False
    assert second.manifest["examples"]["out_of_scope"] == 4
