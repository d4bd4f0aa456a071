"""Model hot reload: a newly trained model (and its changed pack) is swapped in; a model that
fails to load, or was trained from other sources, never replaces the one serving."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from engine.dialogue.actions import StubActionRunner
from engine.dialogue.runtime import Assistant
from engine.nlu import ModelError, ModelStore, NluModel
from engine.nlu.model import ARRAYS_FILE
from engine.nlu.store import CURRENT_FILE
from engine.packs import Pack
from engine.server import AssistantRegistry, Served, ServerSettings, create_app
from engine.server.registry import load_served_pack
from engine.stores.memory import InMemoryTrackerStore, InProcessLockStore
from tests.server.conftest import AUTH, TOKEN, write_shop

FOLDS = 2  # the tiny pack trains in milliseconds


class Shop:
    """The tiny pack in tmp_path, its models, and a registry serving it."""

    def __init__(self, tmp_path: Path) -> None:
        self.folder = write_shop(tmp_path / "shop")
        self.models = ModelStore(tmp_path / "models")
        self.built: list[tuple[Pack, Served | None]] = []
        self.train()
        self.registry = AssistantRegistry.from_models(
            [load_served_pack(self.folder)], self.models, self.build
        )

    def build(self, pack: Pack, model: NluModel, previous: Served | None) -> Assistant:
        self.built.append((pack, previous))
        keep = previous is not None and previous.pack is pack
        actions = previous.assistant.actions if previous is not None and keep else StubActionRunner()
        return Assistant(pack, model, actions=actions)

    def train(self, greeting: str | None = None, *, force: bool = False) -> str:
        if greeting is not None:
            write_shop(self.folder, greeting)
        return self.models.train(load_served_pack(self.folder), folds=FOLDS, force=force).folder.name

    def answer(self, text: str = "hi") -> str | None:
        assistant = self.registry.assistant("shop")
        return assistant.handle(assistant.tracker("someone"), text).messages[0].text

    @property
    def serving(self) -> str | None:
        return self.registry.served("shop").model_id

    def make_current(self, model_id: str) -> None:
        (self.models.pack_folder("shop") / CURRENT_FILE).write_text(model_id + "\n", encoding="utf-8")

    def damaged_copy(self, model_id: str) -> str:
        """A copy of a model with its arrays cut short, under a new id."""
        source = self.models.pack_folder("shop") / self.serving  # type: ignore[operator]
        target = source.parent / model_id
        shutil.copytree(source, target)
        arrays = target / ARRAYS_FILE
        arrays.write_bytes(arrays.read_bytes()[:100])
        return model_id


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    return Shop(tmp_path)


def test_registry_swaps_in_a_new_model_with_its_changed_pack(shop: Shop) -> None:
    first = shop.serving
    assert shop.answer() == "Hello!"
    new = shop.train("Hello again!")
    [reload] = shop.registry.refresh()
    assert (reload.pack, reload.model_id, reload.ok, reload.pack_reloaded) == ("shop", new, True, True)
    assert shop.serving == new != first
    assert shop.answer() == "Hello again!"
    assert shop.registry.refresh() == []  # nothing new


def test_registry_keeps_the_pack_and_runner_when_only_the_model_changed(shop: Shop) -> None:
    before = shop.registry.served("shop")
    new = shop.train(force=True)
    [reload] = shop.registry.refresh()
    assert (reload.ok, reload.pack_reloaded) == (True, False)
    after = shop.registry.served("shop")
    assert (after.model_id, after.pack) == (new, before.pack)
    assert after.assistant.actions is before.assistant.actions
    assert shop.built[-1] == (before.pack, before)


def test_registry_never_swaps_in_a_damaged_model(shop: Shop, caplog: pytest.LogCaptureFixture) -> None:
    serving = shop.serving
    shop.make_current(shop.damaged_copy("00099-20240101-000000-deadbeef"))
    with caplog.at_level(logging.ERROR, logger="engine.server.registry"):
        [reload] = shop.registry.refresh()
    assert not reload.ok
    assert "arrays" in (reload.problem or "")
    assert shop.serving == serving
    assert shop.answer() == "Hello!"
    assert "model 00099-20240101-000000-deadbeef of pack shop was not loaded; still serving" in caplog.text
    assert shop.registry.refresh() == []  # not tried again until `current` changes
    new = shop.train("Hello again!")
    assert [r.ok for r in shop.registry.refresh()] == [True]
    assert shop.serving == new


def test_registry_rejects_a_pointer_to_a_folder_that_is_not_a_model(shop: Shop) -> None:
    serving = shop.serving
    shop.make_current("no-such-model")
    [reload] = shop.registry.refresh()
    assert not reload.ok
    assert "manifest.json is missing" in (reload.problem or "")
    assert shop.serving == serving


def test_registry_waits_for_the_model_of_a_pack_that_changed_again(shop: Shop) -> None:
    trained = shop.train("Hello again!")
    write_shop(shop.folder, "Good day!")  # edited again, not trained yet
    [reload] = shop.registry.refresh()
    assert not reload.ok
    assert f"model {trained} was trained from other sources than" in (reload.problem or "")
    assert shop.answer() == "Hello!"
    shop.train()
    assert [r.ok for r in shop.registry.refresh()] == [True]
    assert shop.answer() == "Good day!"


def test_registry_needs_a_model_for_every_pack(tmp_path: Path) -> None:
    pack = load_served_pack(write_shop(tmp_path / "shop"))
    with pytest.raises(ModelError, match=r"pack 'shop' has no trained model in .*: run `parley train`"):
        AssistantRegistry.from_models(
            [pack], ModelStore(tmp_path / "models"), lambda p, m, s: Assistant(p, m)
        )


def test_app_watches_for_new_models_in_the_background(shop: Shop) -> None:
    settings = ServerSettings(api_token=TOKEN, reload_interval=0.05)
    app = create_app(shop.registry, InMemoryTrackerStore(), InProcessLockStore(), settings)
    with TestClient(app) as client:
        first = shop.serving
        hello = client.post("/webhooks/rest/webhook", json={"sender": "jo", "message": "hi"}).json()
        assert hello == [{"recipient_id": "jo", "text": "Hello!"}]
        new = shop.train("Hello again!")
        deadline = time.monotonic() + 5
        while shop.serving != new and time.monotonic() < deadline:
            time.sleep(0.02)
        packs = client.get("/api/packs", headers=AUTH).json()
        assert packs[0]["model_id"] == new
        again = client.post("/webhooks/rest/webhook", json={"sender": "jo", "message": "hi"}).json()
        assert again == [{"recipient_id": "jo", "text": "Hello again!"}]
        metrics = client.get("/metrics").text
    assert 'parley_model_reloads_total{outcome="ok",pack="shop"} 1.0' in metrics
    assert f'parley_model_info{{model_id="{new}",pack="shop"}} 1.0' in metrics
    assert f'model_id="{first}"' not in metrics


def test_ready_picks_up_a_new_model_at_once(shop: Shop) -> None:
    app = create_app(
        shop.registry, InMemoryTrackerStore(), InProcessLockStore(), ServerSettings(reload_interval=None)
    )
    with TestClient(app) as client:
        new = shop.train("Hello again!")
        assert client.get("/ready").json()["packs"]["shop"]["model_id"] == new
