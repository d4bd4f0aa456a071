"""The REST channel, as Rasa's clients use it: shapes, packs, streaming, stored-before-sent."""

from __future__ import annotations

import json
from collections.abc import Callable

from engine.dialogue.events import BotUttered, UserUttered
from tests.dialogue.conftest import DISPATCHED
from tests.server.conftest import Server

RICH = """\
intents:
  menu: {examples: [menu]}
responses:
  menu:
    - text: What would you like?
      buttons:
        - {title: Say hello, payload: /greet}
        - {title: Talk to a person, payload: /human_handoff}
  picture:
    - image: https://example.com/parcel.png
  card:
    - custom: {kind: card, order: A12345}
flows:
  menu:
    description: show the menu
    trigger: {intents: [menu]}
    steps:
      - respond: menu
      - respond: picture
      - respond: card
"""


def test_rest_status_answers_ok_as_rasa(make_server: Callable[..., Server]) -> None:
    server = make_server()
    assert server.client.get("/webhooks/rest/").json() == {"status": "ok"}
    assert server.client.get("/packs/shop/webhooks/rest/").json() == {"status": "ok"}
    missing = server.client.get("/packs/nope/webhooks/rest/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_pack"


def test_rest_conversation_answers_in_rasa_shape(make_server: Callable[..., Server]) -> None:
    server = make_server(stubs=DISPATCHED)
    assert server.post("jo", "hi").json() == [{"recipient_id": "jo", "text": "Hello!"}]
    assert server.say("jo", "where is my order") == ["Which order?"]
    assert server.say("jo", "A12345") == ["Order A12345 is dispatched."]


def test_rest_buttons_image_and_custom_pass_through(make_server: Callable[..., Server]) -> None:
    server = make_server(body=RICH, readings={"menu": ("menu",)})
    assert server.post("jo", "menu").json() == [
        {
            "recipient_id": "jo",
            "text": "What would you like?",
            "buttons": [
                {"title": "Say hello", "payload": "/greet"},
                {"title": "Talk to a person", "payload": "/human_handoff"},
            ],
        },
        {"recipient_id": "jo", "image": "https://example.com/parcel.png"},
        {"recipient_id": "jo", "custom": {"kind": "card", "order": "A12345"}},
    ]


def test_rest_button_payload_is_taken_as_given(make_server: Callable[..., Server]) -> None:
    server = make_server(stubs=DISPATCHED)
    assert server.say("jo", '/order_status{"order_id": "B54321"}') == ["Order B54321 is dispatched."]


def test_rest_default_pack_is_the_first_and_others_are_named(make_server: Callable[..., Server]) -> None:
    server = make_server(names=("first", "second"))
    server.say("jo", "hi")
    server.say("jo", "hi", pack="second")
    server.say("jo", "hi", pack="second")
    assert len(server.trackers.load("first", "jo")) > 0
    assert len(server.trackers.load("second", "jo")) > len(server.trackers.load("first", "jo"))
    unknown = server.post("jo", "hi", pack="third")
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": {"code": "unknown_pack", "message": "pack 'third' is not served here; served: first, second"}
    }


def test_rest_every_event_is_stored_before_the_reply(make_server: Callable[..., Server]) -> None:
    server = make_server(stubs=DISPATCHED)
    replies = server.post("jo", "where is order A12345", metadata={"page": "/orders"}).json()
    stored = server.trackers.load("shop", "jo")
    said = [e.text for e in stored if isinstance(e, BotUttered)]
    assert said == [r["text"] for r in replies] == ["Order A12345 is dispatched."]
    user = next(e for e in stored if isinstance(e, UserUttered))
    assert (user.text, user.input_channel, dict(user.metadata)) == (
        "where is order A12345",
        "rest",
        {"page": "/orders"},
    )


def test_rest_input_channel_reaches_the_runtime(make_server: Callable[..., Server]) -> None:
    server = make_server()
    server.post("jo", "hi", input_channel="web")
    user = next(e for e in server.trackers.load("shop", "jo") if isinstance(e, UserUttered))
    assert user.input_channel == "web"


def test_rest_unknown_keys_are_ignored_as_rasa_does(make_server: Callable[..., Server]) -> None:
    server = make_server()
    response = server.post("jo", "hi", customData={"language": "en"})
    assert response.json() == [{"recipient_id": "jo", "text": "Hello!"}]


def test_rest_stream_answers_one_json_message_per_line(make_server: Callable[..., Server]) -> None:
    server = make_server(body=RICH, readings={"menu": ("menu",)})
    response = server.client.post(
        "/webhooks/rest/webhook?stream=true", json={"sender": "jo", "message": "menu"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line.get("text") for line in lines] == ["What would you like?", None, None]


def test_rest_paused_conversation_gets_no_reply(make_server: Callable[..., Server]) -> None:
    server = make_server()
    assert server.say("jo", "a person please") == [
        "A person will take over (general).",
        "You're number 1 in the queue.",
    ]
    # The first message of the wait is acknowledged (the team will see it); then only silence.
    assert server.say("jo", "hello? anyone?") == [
        "Thanks, our team will see this. You're number 1 in the queue."
    ]
    assert server.post("jo", "still there?").json() == []


def test_rest_message_sent_again_with_its_id_is_not_processed_twice(
    make_server: Callable[..., Server],
) -> None:
    server = make_server()
    first = server.post("jo", "where is my order", message_id="m-1").json()
    again = server.post("jo", "where is my order", message_id="m-1").json()
    assert first == again == [{"recipient_id": "jo", "text": "Which order?"}]
    users = [e for e in server.trackers.load("shop", "jo") if isinstance(e, UserUttered)]
    assert [u.message_id for u in users] == ["m-1"]
