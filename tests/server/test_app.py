"""The app as a whole: its public surface, building it from config.yml, the web chat's place."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.server
from engine.actions import HttpActionRunner
from engine.config import load_config
from engine.nlu import ModelError, ModelStore
from engine.server import build_app
from engine.server.app import SucceedingActions
from engine.server.registry import load_served_pack
from engine.server.service import ConversationService
from tests.server.conftest import TestClient, write_shop


def test_public_api_of_engine_server_is_pinned() -> None:
    assert sorted(engine.server.__all__) == [
        "AssistantRegistry",
        "ConversationService",
        "Reply",
        "Served",
        "ServerSettings",
        "TurnRunner",
        "UnknownPack",
        "build_app",
        "create_app",
    ]
    for name in engine.server.__all__:
        assert hasattr(engine.server, name), name


def _config(tmp_path: Path, *, train: bool = True) -> Path:
    shop = write_shop(tmp_path / "shop")
    if train:
        ModelStore(tmp_path / "models").train(load_served_pack(shop), folds=2)
    config = tmp_path / "config.yml"
    config.write_text(
        f"packs: ['{shop}']\nmodels: '{tmp_path / 'models'}'\nstores: {{tracker: 'memory://'}}\n"
        "server: {max_body_bytes: 2048, token_variable: SHOP_TOKEN}\n"
        "action_server: {url: 'http://127.0.0.1:9/webhook'}\n",
        encoding="utf-8",
    )
    return config


def test_build_app_serves_config_packs_with_their_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_TOKEN", "s3cret")
    monkeypatch.delenv("PARLEY_TRACKER_STORE_URL", raising=False)
    monkeypatch.delenv("PARLEY_ACTION_SERVER_URL", raising=False)
    app = build_app(load_config(_config(tmp_path)), reload_interval=None)
    assert isinstance(app.state.conversations, ConversationService)
    assert isinstance(app.state.registry.assistant("shop").actions, HttpActionRunner)
    assert app.state.registry.assistant("shop").actions.url == "http://127.0.0.1:9/webhook"
    with TestClient(app) as client:
        hello = client.post("/webhooks/rest/webhook", json={"sender": "jo", "message": "hello"})
        assert hello.json() == [{"recipient_id": "jo", "text": "Hello!"}]
        packs = client.get("/api/packs", headers={"Authorization": "Bearer s3cret"})
        assert packs.json()[0]["model_id"] == ModelStore(tmp_path / "models").current("shop").name  # type: ignore[union-attr]
        large = client.post("/webhooks/rest/webhook", json={"sender": "jo", "message": "x" * 3000})
        assert large.status_code == 413


def test_build_app_stubs_actions_when_asked(tmp_path: Path) -> None:
    app = build_app(load_config(_config(tmp_path)), stub_actions=True, reload_interval=None)
    assert isinstance(app.state.registry.assistant("shop").actions, SucceedingActions)


def test_build_app_needs_a_trained_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="pack 'shop' has no trained model"):
        build_app(load_config(_config(tmp_path, train=False)))


def test_app_includes_the_web_chat_when_it_is_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(_config(tmp_path))
    with TestClient(build_app(config, stub_actions=True, reload_interval=None)) as client:
        assert client.get("/webchat/widget.js").status_code == 200
    monkeypatch.setattr("engine.server.app.WEBCHAT_MODULE", "engine.server.no_such_webchat")
    with TestClient(build_app(config, stub_actions=True, reload_interval=None)) as client:
        assert client.get("/webchat/widget.js").status_code == 404
        assert client.get("/webhooks/rest/").status_code == 200
