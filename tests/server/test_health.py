"""Probes: /health and /ready."""

from __future__ import annotations

from collections.abc import Callable

from tests.server.conftest import BrokenStore, Server


def test_health_answers_alive(make_server: Callable[..., Server]) -> None:
    assert make_server().client.get("/health").json() == {"status": "alive"}


def test_ready_names_the_models_and_stores(make_server: Callable[..., Server]) -> None:
    ready = make_server().client.get("/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert (body["status"], body["stores"]) == ("ready", {"tracker": "ok", "lock": "ok"})
    assert list(body["packs"]) == ["shop"]


def test_ready_is_503_when_a_store_fails(make_server: Callable[..., Server]) -> None:
    ready = make_server(trackers=BrokenStore()).client.get("/ready")
    assert ready.status_code == 503
    # The reason is logged; the unauthenticated answer names no host, user or driver message.
    assert ready.json()["problems"] == ["the tracker store is unavailable"]
    assert ready.json()["error"]["code"] == "not_ready"
