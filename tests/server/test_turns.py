"""Turns as the routes run them: a busy conversation and a failing store answer a retryable 503,
and nothing is lost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from engine.dialogue.actions import ActionResult
from engine.dialogue.tracker import Tracker
from tests.server.conftest import BrokenStore, Server


class HeldActions:
    """Custom actions that wait until the test lets them go (a slow backend)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def run(self, action: str, tracker: Tracker) -> ActionResult:
        self.started.set()
        self.release.wait(10)
        return ActionResult(events=({"event": "slot", "name": "order_state", "value": "dispatched"},))


def test_turns_store_failure_answers_503_and_stores_nothing(make_server: Callable[..., Server]) -> None:
    server = make_server(trackers=BrokenStore())
    response = server.post("jo", "hi")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"] == {
        "code": "store_unavailable",
        "message": "the conversation store is unavailable; nothing of this message was stored; send it "
        "again later",
    }


def test_turns_busy_conversation_gets_a_retryable_503_naming_it(make_server: Callable[..., Server]) -> None:
    actions = HeldActions()
    server = make_server(actions=actions, lock_wait=0.2)
    first: list[Any] = []
    slow = threading.Thread(target=lambda: first.append(server.post("jo", "where is order A12345")))
    slow.start()
    try:
        assert actions.started.wait(5)
        busy = server.post("jo", "hi")
        other = server.post("ann", "hi")  # other conversations go on
    finally:
        actions.release.set()
        slow.join(10)
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "2"
    assert busy.json()["error"] == {
        "code": "conversation_busy",
        "message": "conversation 'jo' of pack 'shop' is busy: another message of it was still being "
        "processed after 0.2 s. This message was not processed; send it again.",
        "conversation": {"pack": "shop", "sender_id": "jo"},
        "retry_after": 2,
    }
    assert other.status_code == 200
    assert first[0].json() == [{"recipient_id": "jo", "text": "Order A12345 is dispatched."}]
    assert server.say("jo", "hi") == ["Hello!"]  # sent again, processed
    assert 'parley_lock_timeouts_total{pack="shop"} 1.0' in server.client.get("/metrics").text
