"""The web chat's WebSocket protocol, page and widget files, over an in-process app.

The app is the web chat router alone, with a `ConversationService` over a small pack, the fake
NLU of the dialogue tests, stubbed actions and the in-memory stores.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning
from starlette.websockets import WebSocketDisconnect

from engine.dialogue.actions import StubActionRunner
from engine.dialogue.events import Event
from engine.dialogue.runtime import Assistant
from engine.packs import load_pack
from engine.server.errors import install_error_handlers
from engine.server.metrics import Metrics
from engine.server.service import ConversationService
from engine.server.turns import TurnRunner
from engine.server.webchat import HISTORY_LIMIT, MAX_FRAME_BYTES, MAX_TEXT_CHARS, history, router
from engine.stores import ConcurrentWrite, InMemoryTrackerStore, InProcessLockStore, StoreError
from tests.dialogue.conftest import BASE, DISPATCHED, ORDER_READINGS, ORDERS, READINGS, SETTINGS, FakeParser

with warnings.catch_warnings():
    # Starlette asks for `httpx2` and warns once, at import, when it finds only `httpx` (the dev
    # extra's), which still works. Drop this when the dev extra installs httpx2.
    warnings.filterwarnings("ignore", "Using `httpx` with", StarletteDeprecationWarning)
    from starlette.testclient import TestClient, WebSocketTestSession

MENU = """\
intents:
  menu: {examples: [menu]}
responses:
  menu:
    - text: What would you like to do?
      buttons:
        - {title: Where's my order?, payload: /order_status}
        - {title: Cancel an order, payload: /cancel_order}
flows:
  menu:
    description: show what I can do
    trigger: {intents: [menu]}
    steps:
      - respond: menu
"""

MENU_BUTTONS = [
    {"title": "Where's my order?", "payload": "/order_status"},
    {"title": "Cancel an order", "payload": "/cancel_order"},
]


class FlakyTrackerStore(InMemoryTrackerStore):
    """Raises the errors in `failures` on the next appends, as a database that went away would."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[StoreError] = []

    def append(self, pack: str, sender_id: str, events: Sequence[Event], *, expected: int) -> None:
        if self.failures:
            raise self.failures.pop(0)
        super().append(pack, sender_id, events, expected=expected)


class BrokenParser(FakeParser):
    def parse(self, text: str, **kwargs: Any) -> Any:
        if text == "boom":
            raise RuntimeError("the parser broke (test)")
        return super().parse(text, **kwargs)


@pytest.fixture
def service(write_pack: Callable[..., Path]) -> ConversationService:
    folder = write_pack(
        {"pack.yml": BASE.format(name="shop", **SETTINGS), "orders.yml": ORDERS, "menu.yml": MENU}, "shop"
    )
    parser = BrokenParser({**READINGS, **ORDER_READINGS, "menu": ("menu",)})
    assistant = Assistant(load_pack(folder), parser, actions=StubActionRunner(DISPATCHED), seed=7)
    return ConversationService(
        lambda pack: assistant, ["shop"], FlakyTrackerStore(), InProcessLockStore(), lock_wait=0.1
    )


def make_app(service: ConversationService, turns: TurnRunner | None = None) -> FastAPI:
    """The web chat alone; with `turns`, as the server's app has it (app.state.turns)."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.conversations = service
    if turns is not None:
        app.state.turns = turns
    return app


@pytest.fixture
def client(service: ConversationService) -> Iterator[TestClient]:
    with TestClient(make_app(service)) as client:
        yield client


def connect(client: TestClient, query: str = "sender=s1") -> Any:
    return client.websocket_connect(f"/webchat/ws?{query}")


def opened(ws: WebSocketTestSession) -> dict[str, Any]:
    frame: dict[str, Any] = ws.receive_json()
    assert frame["type"] == "history", frame
    return frame


def turn(ws: WebSocketTestSession, frame: dict[str, Any]) -> dict[str, Any]:
    """Send a frame the server processes: it answers `typing`, then the returned frame."""
    ws.send_json(frame)
    typing = ws.receive_json()
    assert typing == {"type": "typing", **({"reply_to": frame["id"]} if "id" in frame else {})}
    answer: dict[str, Any] = ws.receive_json()
    return answer


def said(answer: dict[str, Any]) -> list[str]:
    assert answer["type"] == "bot", answer
    return [message["text"] for message in answer["messages"]]


# -- connecting and history ---------------------------------------------------------------------
def test_webchat_new_conversation_gets_empty_history_and_a_sender(client: TestClient) -> None:
    with connect(client, "") as ws:
        frame = opened(ws)
    assert frame["pack"] == "shop"
    assert frame["title"] == "Shop assistant"
    assert re.fullmatch(r"[0-9a-f]{32}", frame["sender"])
    assert frame["messages"] == []


def test_webchat_history_replays_the_conversation_with_button_titles(client: TestClient) -> None:
    with connect(client) as ws:
        opened(ws)
        answer = turn(ws, {"type": "message", "text": "menu", "id": "m1"})
        assert answer["reply_to"] == "m1"
        assert answer["messages"] == [
            {"recipient_id": "s1", "text": "What would you like to do?", "buttons": MENU_BUTTONS}
        ]
        answer = turn(ws, {"type": "button", "title": "Where's my order?", "payload": "/order_status"})
        assert said(answer) == ["Which order?"]
        assert said(turn(ws, {"type": "message", "text": "A12345", "id": "m3"})) == [
            "Order A12345 is dispatched."
        ]

    with connect(client) as ws:
        frame = opened(ws)
    assert frame["sender"] == "s1"
    assert frame["messages"] == [
        {"role": "user", "text": "menu", "id": "m1"},
        {"role": "bot", "recipient_id": "s1", "text": "What would you like to do?", "buttons": MENU_BUTTONS},
        {"role": "user", "text": "/order_status", "title": "Where's my order?"},
        {"role": "bot", "recipient_id": "s1", "text": "Which order?"},
        {"role": "user", "text": "A12345", "id": "m3"},
        {"role": "bot", "recipient_id": "s1", "text": "Order A12345 is dispatched."},
    ]


def test_webchat_conversations_are_kept_per_pack_and_sender(
    client: TestClient, service: ConversationService
) -> None:
    with connect(client) as ws:
        opened(ws)
        turn(ws, {"type": "message", "text": "hi"})
    with connect(client, "sender=s2&pack=shop") as ws:
        assert opened(ws)["messages"] == []
    events = service.trackers.load("shop", "webchat:s1")
    assert [e.to_json()["input_channel"] for e in events if e.KIND == "user"] == ["webchat"]


def test_webchat_history_keeps_the_latest_messages(service: ConversationService) -> None:
    assistant = service.assistant("shop")
    tracker = assistant.tracker("s1")
    for _ in range(3):
        assistant.handle(tracker, "hi", channel="webchat")
    replayed = history(tracker, limit=4)
    assert [m["role"] for m in replayed] == ["user", "bot", "user", "bot"]
    assert len(history(tracker)) == 6 < HISTORY_LIMIT


# -- messages ------------------------------------------------------------------------------
def test_webchat_message_is_answered_with_typing_then_the_reply(client: TestClient) -> None:
    with connect(client) as ws:
        opened(ws)
        ws.send_json({"type": "message", "text": "  hi  ", "id": "m1"})
        assert ws.receive_json() == {"type": "typing", "reply_to": "m1"}
        assert ws.receive_json() == {
            "type": "bot",
            "reply_to": "m1",
            "messages": [{"recipient_id": "s1", "text": "Hello!"}],
        }


def test_webchat_button_sends_its_payload_as_the_message(
    client: TestClient, service: ConversationService
) -> None:
    with connect(client) as ws:
        opened(ws)
        answer = turn(ws, {"type": "button", "title": "Where's my order?", "payload": "/order_status"})
    assert said(answer) == ["Which order?"]
    user = next(e for e in service.trackers.load("shop", "webchat:s1") if e.KIND == "user")
    assert user.to_json()["text"] == "/order_status"
    assert user.to_json()["metadata"] == {"button_title": "Where's my order?"}


def test_webchat_turns_go_through_the_apps_turn_runner(service: ConversationService) -> None:
    metrics = Metrics()
    with TestClient(make_app(service, TurnRunner(service, metrics))) as client:
        with connect(client) as ws:
            opened(ws)
            assert said(turn(ws, {"type": "message", "text": "hi"})) == ["Hello!"]
            with service.locks.lock("shop:webchat:s1", wait=1):
                error = turn(ws, {"type": "message", "text": "hi"})
            assert (error["code"], error["retryable"]) == ("conversation_busy", True)
        with connect(client) as ws:
            assert [m["role"] for m in opened(ws)["messages"]] == ["user", "bot"]
    sample = metrics.registry.get_sample_value
    assert sample("parley_messages_total", {"channel": "webchat", "pack": "shop"}) == 1


def test_webchat_is_served_by_the_servers_app(make_server: Callable[..., Any]) -> None:
    client = make_server().client  # create_app: its middleware, error handlers and TurnRunner
    assert client.get("/").status_code == 200
    assert client.get("/webchat/widget.js").status_code == 200
    with connect(client) as ws:
        assert opened(ws)["pack"] == "shop"
        assert said(turn(ws, {"type": "message", "text": "where is my order", "id": "m1"})) == [
            "Which order?"
        ]


# -- bad frames ------------------------------------------------------------------------------
FRAME_ERRORS = [
    pytest.param(
        "x" * (MAX_FRAME_BYTES + 1), "frame_too_large", "at most 4096 bytes; got 4097", id="oversize"
    ),
    pytest.param(
        '{"type": "message", "text": "' + "é" * 2100 + '"}',
        "frame_too_large",
        "at most 4096 bytes",
        id="oversize-utf8",
    ),
    pytest.param("{not json", "invalid_json", "not valid JSON", id="bad-json"),
    pytest.param("[1, 2]", "invalid_frame", "must be a JSON object, not list", id="not-an-object"),
    pytest.param(
        '{"type": "hello"}',
        "unknown_frame_type",
        "unknown frame type 'hello'; known: message, button",
        id="unknown-type",
    ),
    pytest.param('{"text": "hi"}', "unknown_frame_type", "unknown frame type None", id="no-type"),
    pytest.param(
        '{"type": "message", "text": "hi", "lang": "en"}',
        "invalid_frame",
        "unknown key(s) lang in a message frame; allowed: id, text, type",
        id="unknown-key",
    ),
    pytest.param(
        '{"type": "message", "text": 5}', "invalid_frame", "needs 'text' as a string", id="text-not-a-string"
    ),
    pytest.param('{"type": "message"}', "invalid_frame", "needs 'text' as a string", id="no-text"),
    pytest.param('{"type": "message", "text": "  "}', "empty_text", "'text' is empty", id="empty-text"),
    pytest.param(
        '{"type": "message", "text": "' + "a" * (MAX_TEXT_CHARS + 1) + '"}',
        "text_too_long",
        "'text' may have at most 1000 characters; got 1001",
        id="too-long",
    ),
    pytest.param(
        '{"type": "button", "title": "Yes"}', "invalid_frame", "needs 'payload' as a string", id="no-payload"
    ),
    pytest.param(
        '{"type": "button", "payload": "/affirm"}',
        "invalid_frame",
        "needs 'title' as a string",
        id="no-title",
    ),
    pytest.param(
        '{"type": "message", "text": "hi", "id": 7}',
        "invalid_frame",
        "'id' must be a string of 1 to 64",
        id="bad-id",
    ),
]


@pytest.mark.parametrize(("raw", "code", "fragment"), FRAME_ERRORS)
def test_webchat_rejects_bad_frames_and_stays_open(
    client: TestClient, service: ConversationService, raw: str, code: str, fragment: str
) -> None:
    with connect(client) as ws:
        opened(ws)
        ws.send_text(raw)
        error = ws.receive_json()
        assert {k: error[k] for k in ("type", "code", "retryable")} == {
            "type": "error",
            "code": code,
            "retryable": False,
        }
        assert fragment in error["message"]
        assert service.trackers.load("shop", "webchat:s1") == []
        assert said(turn(ws, {"type": "message", "text": "hi"})) == ["Hello!"]


def test_webchat_rejects_binary_frames(client: TestClient) -> None:
    with connect(client) as ws:
        opened(ws)
        ws.send_bytes(b'{"type": "message", "text": "hi"}')
        error = ws.receive_json()
        assert (error["code"], error["message"]) == (
            "invalid_frame",
            "send JSON objects in text frames, not binary frames",
        )


def test_webchat_error_names_the_message_it_answers(client: TestClient) -> None:
    with connect(client) as ws:
        opened(ws)
        ws.send_json({"type": "message", "text": "a" * (MAX_TEXT_CHARS + 1), "id": "m9"})
        assert ws.receive_json()["reply_to"] == "m9"


# -- the service refuses ---------------------------------------------------------------------
def test_webchat_busy_conversation_is_a_retryable_error(
    client: TestClient, service: ConversationService
) -> None:
    with connect(client) as ws:
        opened(ws)
        with service.locks.lock("shop:webchat:s1", wait=1):
            error = turn(ws, {"type": "message", "text": "hi", "id": "m1"})
        assert error == {
            "type": "error",
            "code": "conversation_busy",
            "message": "the conversation is busy with another message; send this one again in a moment",
            "retryable": True,
            "reply_to": "m1",
        }
        assert service.trackers.load("shop", "webchat:s1") == []
        assert said(turn(ws, {"type": "message", "text": "hi", "id": "m1"})) == ["Hello!"]


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        pytest.param(StoreError("the tracker store is unavailable (test)"), "store_unavailable", id="store"),
        pytest.param(ConcurrentWrite("appended meanwhile (test)"), "concurrent_write", id="concurrent"),
    ],
)
def test_webchat_store_failure_is_a_retryable_error(
    client: TestClient, service: ConversationService, failure: StoreError, code: str
) -> None:
    store = service.trackers
    assert isinstance(store, FlakyTrackerStore)
    store.failures = [failure]
    with connect(client) as ws:
        opened(ws)
        error = turn(ws, {"type": "message", "text": "hi"})
        assert (error["code"], error["retryable"]) == (code, True)
        assert "(test)" not in error["message"]
        assert said(turn(ws, {"type": "message", "text": "hi"})) == ["Hello!"]


def test_webchat_unexpected_failure_is_reported_and_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with connect(client) as ws:
        opened(ws)
        error = turn(ws, {"type": "message", "text": "boom"})
        assert (error["code"], error["retryable"]) == ("internal_error", False)
        assert "the parser broke" not in error["message"]
        assert said(turn(ws, {"type": "message", "text": "hi"})) == ["Hello!"]
    assert "conversation shop/s1: the turn failed" in caplog.text


def test_webchat_failed_turn_is_logged_once_by_the_turn_runner(
    service: ConversationService, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(make_app(service, TurnRunner(service, Metrics()))) as client, connect(client) as ws:
        opened(ws)
        error = turn(ws, {"type": "message", "text": "boom"})
    assert error["code"] == "internal_error"
    failures = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in failures] == ["the turn failed"]


@pytest.mark.parametrize(
    ("query", "code", "close", "fragment"),
    [
        pytest.param(
            "pack=nope&sender=s1",
            "unknown_pack",
            4404,
            "pack 'nope' is not served here; served: shop",
            id="pack",
        ),
        pytest.param("sender=a%20b", "invalid_sender", 4400, "1 to 128 characters", id="sender-space"),
        pytest.param("sender=" + "a" * 129, "invalid_sender", 4400, "1 to 128 characters", id="sender-long"),
    ],
)
def test_webchat_refuses_connections_that_cannot_work(
    client: TestClient, query: str, code: str, close: int, fragment: str
) -> None:
    with connect(client, query) as ws:
        error = ws.receive_json()
        assert (error["type"], error["code"], error["retryable"]) == ("error", code, False)
        assert fragment in error["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == close


# -- page and widget files -------------------------------------------------------------------
def test_webchat_page_embeds_the_widget_with_the_snippet_it_shows(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    tag = '<script src="http://testserver/webchat/widget.js" data-pack="shop" defer></script>'
    assert tag in response.text
    assert tag.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;") in response.text
    assert "<h1>Shop assistant</h1>" in response.text
    assert "{{" not in response.text


def test_webchat_page_of_an_unknown_pack_is_not_found(client: TestClient) -> None:
    response = client.get("/", params={"pack": "nope"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_pack"
    assert "served: shop" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "media_type"),
    [("/webchat/widget.js", "text/javascript"), ("/webchat/widget.css", "text/css")],
)
def test_webchat_widget_files_are_cached_and_revalidated(
    client: TestClient, path: str, media_type: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["cache-control"] == "public, max-age=600"
    etag = response.headers["etag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200
