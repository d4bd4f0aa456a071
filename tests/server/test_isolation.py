"""What one customer cannot do to another: read their conversation through the web chat, or
hold every worker thread with messages for one busy conversation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from engine.server.errors import ConversationBusy
from engine.server.turns import MAX_IN_FLIGHT_PER_CONVERSATION, TurnRunner
from tests.server.conftest import Server


def test_the_web_chat_cannot_open_a_conversation_of_another_channel(
    make_server: Callable[..., Server],
) -> None:
    server = make_server()
    assert server.say("customer-42", "hi") == ["Hello!"]
    with server.client.websocket_connect("/webchat/ws?sender=customer-42") as socket:
        opening = socket.receive_json()
    assert opening["type"] == "history" and opening["messages"] == []


def test_messages_beyond_the_cap_for_one_conversation_are_busy_at_once(
    make_server: Callable[..., Server],
) -> None:
    server = make_server()
    turns: TurnRunner = server.client.app.state.turns  # type: ignore[attr-defined]
    turns._in_flight["shop:busy"] = MAX_IN_FLIGHT_PER_CONVERSATION
    with pytest.raises(ConversationBusy) as raised:
        asyncio.run(turns.message("shop", "busy", "hi", channel="rest"))
    assert "as many of its messages as it may have are being processed or waiting" in raised.value.message
    assert " s." not in raised.value.message  # it says no wait that did not happen
    assert server.say("someone-else", "hi") == ["Hello!"], "other conversations are served"


def test_a_failing_turn_logs_no_pii_and_answers_nothing_of_it(make_server: Callable[..., Server]) -> None:
    server = make_server()
    assistant = server.assistants[0]

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("cannot verify jo@example.com")

    assistant.handle = broken  # type: ignore[method-assign]
    response = server.post("jo", "jo@example.com")
    assert response.status_code == 500
    assert "jo@example.com" not in response.text
    logged = server.logs.getvalue()
    assert "the turn failed" in logged and "cannot verify" in logged
    assert "jo@example.com" not in logged
