"""The Telegram connector: Updates in (as the Bot API documents them), Bot API calls out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from engine.channels.base import Inbound, Malformed, OutboundCall, Rejected, WebhookRequest
from engine.channels.sender import Sender
from engine.channels.settings import MissingCredential, TelegramConfig
from engine.channels.telegram import TelegramConnector
from tests.channels import telegram_platform as tg
from tests.channels.fake_platform import Delivery, FakePlatform

NOW = 1_800_000_000.0
API = "https://api.telegram.org"
BASE = f"{API}/bot{tg.TOKEN}"
CHAT = 987654321
ADDRESS = {"chat_id": CHAT}


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


@pytest.fixture
def telegram(session: requests.Session) -> TelegramConnector:
    return TelegramConnector.from_config(tg.config(API), session, tg.ENVIRON)


def request_of(delivery: Delivery) -> WebhookRequest:
    return WebhookRequest(
        method=delivery.method,
        url=f"http://testserver{tg.WEBHOOK}{delivery.path_and_query}",
        headers={name.lower(): value for name, value in delivery.headers.items()},
        query={},
        body=delivery.body,
    )


def received(update: dict[str, Any]) -> WebhookRequest:
    return request_of(tg.deliver(update))


def parsed(telegram: TelegramConnector, update: dict[str, Any]) -> list[Inbound]:
    request = received(update)
    telegram.verify(request, NOW)
    return telegram.parse(request)


def from_customer(fields: dict[str, Any], update_id: int = 500100) -> dict[str, Any]:
    return tg.message_update(str(CHAT), str(update_id), fields, now=NOW)


CUSTOMER = {"username": "ada_l", "first_name": "Ada", "language_code": "en", "chat_type": "private"}


# -- configuration ---------------------------------------------------------------------------------
def test_telegram_from_config_reads_the_two_variables(session: requests.Session) -> None:
    connector = TelegramConnector.from_config(tg.config("http://fake:1/"), session, tg.ENVIRON)
    assert connector.api_url == "http://fake:1"
    assert connector.session is session
    assert connector.render([{"text": "hi"}], ADDRESS)[0].url == f"http://fake:1/bot{tg.TOKEN}/sendMessage"


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        pytest.param(
            {"PARLEY_TELEGRAM_SECRET_TOKEN": tg.SECRET_TOKEN},
            "PARLEY_TELEGRAM_TOKEN is not set; it must hold the bot token @BotFather gave",
            id="no-token",
        ),
        pytest.param(
            {"PARLEY_TELEGRAM_TOKEN": tg.TOKEN, "PARLEY_TELEGRAM_SECRET_TOKEN": "  "},
            "PARLEY_TELEGRAM_SECRET_TOKEN is not set; it must hold the secret_token given to setWebhook",
            id="blank-secret",
        ),
        pytest.param(
            {"PARLEY_TELEGRAM_TOKEN": "123/../evil", "PARLEY_TELEGRAM_SECRET_TOKEN": tg.SECRET_TOKEN},
            "PARLEY_TELEGRAM_TOKEN is not a bot token; it must hold the bot token @BotFather gave",
            id="token-not-in-telegram-form",
        ),
        pytest.param(
            {"PARLEY_TELEGRAM_TOKEN": tg.TOKEN, "PARLEY_TELEGRAM_SECRET_TOKEN": "has spaces!"},
            "PARLEY_TELEGRAM_SECRET_TOKEN holds characters or a length Telegram refuses",
            id="secret-with-refused-characters",
        ),
        pytest.param(
            {"PARLEY_TELEGRAM_TOKEN": tg.TOKEN, "PARLEY_TELEGRAM_SECRET_TOKEN": "a" * 257},
            "PARLEY_TELEGRAM_SECRET_TOKEN holds characters or a length Telegram refuses",
            id="secret-too-long",
        ),
    ],
)
def test_telegram_from_config_names_the_variable_to_fix(
    session: requests.Session, environ: dict[str, str], fragment: str
) -> None:
    with pytest.raises(MissingCredential) as raised:
        TelegramConnector.from_config(TelegramConfig(), session, environ)
    assert str(raised.value).startswith("channels.telegram: the environment variable ")
    assert fragment in str(raised.value)


def test_telegram_from_config_reads_renamed_variables(session: requests.Session) -> None:
    config = TelegramConfig(token_variable="BOT_TOKEN", secret_token_variable="HOOK_SECRET")
    connector = TelegramConnector.from_config(
        config, session, {"BOT_TOKEN": tg.TOKEN, "HOOK_SECRET": "s3cret"}
    )
    connector.verify(request_of(tg.deliver({"update_id": 1}, secret_token="s3cret")), NOW)


def test_telegram_connector_refuses_credentials_not_in_telegram_form(session: requests.Session) -> None:
    with pytest.raises(ValueError, match="bot token is not in Telegram's form"):
        TelegramConnector("not-a-token", tg.SECRET_TOKEN, api_url=API, session=session)
    with pytest.raises(ValueError, match="secret token is not one Telegram accepts"):
        TelegramConnector(tg.TOKEN, "", api_url=API, session=session)


# -- verification ----------------------------------------------------------------------------------
def test_telegram_verify_accepts_the_configured_secret_token(telegram: TelegramConnector) -> None:
    telegram.verify(
        request_of(tg.customer_text(str(CHAT), "hi", "1", now=NOW, webhook_url="", api_url="")), NOW
    )


@pytest.mark.parametrize(
    ("headers", "status", "fragment"),
    [
        pytest.param({"content-type": "application/json"}, 401, "header is missing", id="missing"),
        pytest.param({"x-telegram-bot-api-secret-token": ""}, 401, "header is missing", id="empty"),
        pytest.param({"x-telegram-bot-api-secret-token": "wrong-secret"}, 403, "does not match", id="wrong"),
        pytest.param(
            {"x-telegram-bot-api-secret-token": tg.SECRET_TOKEN + "x"}, 403, "does not match", id="longer"
        ),
        pytest.param(
            {"x-telegram-bot-api-secret-token": tg.SECRET_TOKEN.upper()},
            403,
            "does not match",
            id="other-case",
        ),
        pytest.param(
            {"x-telegram-bot-api-secret-token": "sécret\udcff"}, 403, "does not match", id="not-ascii"
        ),
    ],
)
def test_telegram_verify_rejects_requests_without_the_secret_token(
    telegram: TelegramConnector, headers: dict[str, str], status: int, fragment: str
) -> None:
    body = b'{"update_id":1,"message":{"text":"private words"}}'
    request = WebhookRequest("POST", "http://testserver/webhooks/telegram/webhook", headers, {}, body)
    with pytest.raises(Rejected) as raised:
        telegram.verify(request, NOW)
    assert raised.value.status == status
    assert fragment in raised.value.reason
    assert "X-Telegram-Bot-Api-Secret-Token" in raised.value.reason
    assert "private words" not in raised.value.reason
    assert tg.SECRET_TOKEN not in raised.value.reason


def test_telegram_verify_proof_is_the_header_alone(telegram: TelegramConnector) -> None:
    # Telegram signs no body and sends no delivery time: a changed body or an old update with the
    # right header passes verification (the header is secret, and update_id deduplicates replays).
    delivery = tg.customer_text(str(CHAT), "hi", "1", now=NOW, webhook_url="", api_url="")
    tampered = WebhookRequest(
        "POST", "", request_of(delivery).headers, {}, delivery.body.replace(b"hi", b"yo")
    )
    telegram.verify(tampered, NOW + 7 * 24 * 3600)
    assert telegram.parse(tampered)[0].text == "yo"


def test_telegram_has_no_handshakes(telegram: TelegramConnector) -> None:
    request = received(from_customer({"text": "hi"}))
    assert telegram.subscribe(WebhookRequest("GET", "", {}, {}, b"")).status == 405
    assert telegram.challenge(request) is None
    answer = telegram.ack(request)
    assert (answer.status, answer.body) == (200, "ok")


# -- customer messages -----------------------------------------------------------------------------
def test_telegram_parse_text_message(telegram: TelegramConnector) -> None:
    update = {
        "update_id": 10000,
        "message": {
            "message_id": 1365,
            "from": {
                "id": CHAT,
                "is_bot": False,
                "first_name": "Ada",
                "last_name": "Lovelace",
                "username": "ada_l",
                "language_code": "en",
            },
            "chat": {
                "id": CHAT,
                "first_name": "Ada",
                "last_name": "Lovelace",
                "username": "ada_l",
                "type": "private",
            },
            "date": 1441645532,
            "text": "Where is my order?",
        },
    }
    assert parsed(telegram, update) == [
        Inbound("10000", str(CHAT), "Where is my order?", {"chat_id": CHAT}, CUSTOMER)
    ]


def test_telegram_parse_is_the_same_for_a_retried_delivery(telegram: TelegramConnector) -> None:
    delivery = tg.customer_text(str(CHAT), "hello", "777", now=NOW, webhook_url="", api_url="")
    first, again = telegram.parse(request_of(delivery)), telegram.parse(request_of(delivery))
    assert first == again
    assert first[0].message_id == "777"
    other = telegram.parse(
        request_of(tg.customer_text(str(CHAT), "hello", "778", now=NOW, webhook_url="", api_url=""))
    )
    assert other[0].message_id == "778"


def test_telegram_parse_group_message_replies_in_its_forum_topic(telegram: TelegramConnector) -> None:
    update = {
        "update_id": 10001,
        "message": {
            "message_id": 88,
            "message_thread_id": 42,
            "is_topic_message": True,
            "from": {"id": 111, "is_bot": False, "first_name": "Grace"},
            "chat": {"id": -1001234567890, "title": "Support", "type": "supergroup", "is_forum": True},
            "date": 1441645532,
            "text": "/start",
        },
    }
    assert parsed(telegram, update) == [
        Inbound(
            "10001",
            "-1001234567890",
            "/start",
            {"chat_id": -1001234567890, "message_thread_id": 42},
            {"first_name": "Grace", "chat_type": "supergroup"},
        )
    ]


def test_telegram_parse_click_gives_the_button_payload(telegram: TelegramConnector) -> None:
    delivery = tg.customer_click(
        str(CHAT), "Track my order", "/track_order", "10002", now=NOW, webhook_url="", api_url=""
    )
    query_id = json.loads(delivery.body)["callback_query"]["id"]
    assert telegram.parse(request_of(delivery)) == [
        Inbound(
            "10002",
            str(CHAT),
            "/track_order",
            {"chat_id": CHAT, "callback_query_id": query_id},
            CUSTOMER,
        )
    ]


def test_telegram_parse_click_on_an_old_message_answers_the_private_chat(telegram: TelegramConnector) -> None:
    update = {
        "update_id": 10003,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ada"},
            "inline_message_id": "AAAAAEsAAAAxxx",
            "chat_instance": "-3907226301427488791",
            "data": "yes",
        },
    }
    assert parsed(telegram, update) == [
        Inbound(
            "10003",
            str(CHAT),
            "yes",
            {"chat_id": CHAT, "callback_query_id": "4382bfdwdsb323b2d9"},
            {"first_name": "Ada", "chat_type": "private"},
        )
    ]


def test_telegram_parse_ignores_a_game_callback_without_data(telegram: TelegramConnector) -> None:
    update = {
        "update_id": 10004,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ada"},
            "chat_instance": "-3907226301427488791",
            "game_short_name": "tetris",
        },
    }
    assert parsed(telegram, update) == []


PHOTO = [
    {"file_id": "AgAD-small", "file_unique_id": "AQAD-s", "file_size": 1402, "width": 90, "height": 67},
    {"file_id": "AgAD-large", "file_unique_id": "AQAD-l", "file_size": 98765, "width": 1280, "height": 960},
    {"file_id": "AgAD-medium", "file_unique_id": "AQAD-m", "file_size": 21034, "width": 320, "height": 240},
]


@pytest.mark.parametrize(
    ("fields", "text", "attachment"),
    [
        pytest.param(
            {"photo": PHOTO, "caption": "my broken lamp"},
            "[image] my broken lamp",
            {
                "type": "image",
                "file_id": "AgAD-large",
                "file_unique_id": "AQAD-l",
                "width": 1280,
                "height": 960,
                "file_size": 98765,
            },
            id="photo-largest-size-with-caption",
        ),
        pytest.param(
            {
                "document": {
                    "file_name": "invoice.pdf",
                    "mime_type": "application/pdf",
                    "file_id": "BQAD-doc",
                    "file_unique_id": "AgAD-doc",
                    "file_size": 48213,
                }
            },
            "[file invoice.pdf]",
            {
                "type": "file",
                "file_id": "BQAD-doc",
                "file_unique_id": "AgAD-doc",
                "mime_type": "application/pdf",
                "file_size": 48213,
                "name": "invoice.pdf",
            },
            id="document",
        ),
        pytest.param(
            {
                "document": {"file_id": "BQAD-doc", "file_unique_id": "AgAD-doc"},
                "caption": "  the receipt ",
            },
            "[file] the receipt",
            {"type": "file", "file_id": "BQAD-doc", "file_unique_id": "AgAD-doc"},
            id="document-without-name",
        ),
        pytest.param(
            {
                "voice": {
                    "duration": 3,
                    "mime_type": "audio/ogg",
                    "file_id": "AwAD-voice",
                    "file_unique_id": "AgAD-voice",
                    "file_size": 8412,
                }
            },
            "[audio]",
            {
                "type": "voice",
                "file_id": "AwAD-voice",
                "file_unique_id": "AgAD-voice",
                "mime_type": "audio/ogg",
                "file_size": 8412,
                "duration": 3,
            },
            id="voice",
        ),
        pytest.param(
            {
                "audio": {
                    "duration": 214,
                    "performer": "Band",
                    "title": "Song",
                    "file_name": "song.mp3",
                    "mime_type": "audio/mpeg",
                    "file_id": "CQAD-audio",
                    "file_unique_id": "AgAD-audio",
                }
            },
            "[audio]",
            {
                "type": "audio",
                "file_id": "CQAD-audio",
                "file_unique_id": "AgAD-audio",
                "mime_type": "audio/mpeg",
                "duration": 214,
                "title": "Song",
                "performer": "Band",
                "name": "song.mp3",
            },
            id="audio",
        ),
        pytest.param(
            {
                "video": {
                    "duration": 12,
                    "width": 1920,
                    "height": 1080,
                    "mime_type": "video/mp4",
                    "file_id": "BAAD-video",
                    "file_unique_id": "AgAD-video",
                    "thumbnail": {
                        "file_id": "AAMC-thumb",
                        "file_unique_id": "AQAD-t",
                        "width": 320,
                        "height": 180,
                    },
                },
                "caption": "the noise it makes",
            },
            "[video] the noise it makes",
            {
                "type": "video",
                "file_id": "BAAD-video",
                "file_unique_id": "AgAD-video",
                "mime_type": "video/mp4",
                "duration": 12,
                "width": 1920,
                "height": 1080,
            },
            id="video",
        ),
        pytest.param(
            {
                "animation": {
                    "file_id": "CgAD-gif",
                    "file_unique_id": "AgAD-gif",
                    "width": 320,
                    "height": 240,
                    "duration": 2,
                    "file_name": "funny.gif.mp4",
                    "mime_type": "video/mp4",
                },
                "document": {
                    "file_id": "CgAD-gif",
                    "file_unique_id": "AgAD-gif",
                    "file_name": "funny.gif.mp4",
                    "mime_type": "video/mp4",
                },
            },
            "[video]",
            {
                "type": "animation",
                "file_id": "CgAD-gif",
                "file_unique_id": "AgAD-gif",
                "mime_type": "video/mp4",
                "duration": 2,
                "width": 320,
                "height": 240,
                "name": "funny.gif.mp4",
            },
            id="animation-before-its-document",
        ),
        pytest.param(
            {
                "video_note": {
                    "file_id": "DQAD-note",
                    "file_unique_id": "AgAD-note",
                    "length": 240,
                    "duration": 5,
                }
            },
            "[video]",
            {"type": "video_note", "file_id": "DQAD-note", "file_unique_id": "AgAD-note", "duration": 5},
            id="video-note",
        ),
        pytest.param(
            {
                "sticker": {
                    "file_id": "CAAD-sticker",
                    "file_unique_id": "AgAD-sticker",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": "😀",
                    "set_name": "HotCherry",
                }
            },
            "[sticker 😀]",
            {"type": "sticker", "file_id": "CAAD-sticker", "file_unique_id": "AgAD-sticker", "emoji": "😀"},
            id="sticker",
        ),
        pytest.param(
            {"location": {"latitude": 51.5074, "longitude": -0.1278}},
            "[location 51.5074,-0.1278]",
            {"type": "location", "latitude": 51.5074, "longitude": -0.1278},
            id="location",
        ),
        pytest.param(
            {
                "location": {"latitude": 48.858844, "longitude": 2.294351},
                "venue": {
                    "location": {"latitude": 48.858844, "longitude": 2.294351},
                    "title": "Eiffel Tower",
                    "address": "Champ de Mars, 5 Av. Anatole France, Paris",
                },
            },
            "[location 48.858844,2.294351]",
            {
                "type": "location",
                "latitude": 48.858844,
                "longitude": 2.294351,
                "title": "Eiffel Tower",
                "address": "Champ de Mars, 5 Av. Anatole France, Paris",
            },
            id="venue",
        ),
        pytest.param(
            {"contact": {"phone_number": "+442079460958", "first_name": "Ada", "user_id": CHAT}},
            "[contact +442079460958]",
            {"type": "contact", "phone_number": "+442079460958", "first_name": "Ada", "user_id": CHAT},
            id="contact",
        ),
    ],
)
def test_telegram_parse_describes_attachments(
    telegram: TelegramConnector, fields: dict[str, Any], text: str, attachment: dict[str, Any]
) -> None:
    [inbound] = parsed(telegram, from_customer(fields))
    assert inbound.text == text
    assert inbound.sender_id == str(CHAT)
    assert inbound.address == {"chat_id": CHAT}
    assert inbound.metadata == {**CUSTOMER, "attachments": [attachment]}
    json.dumps(inbound.metadata)


BOT_MESSAGE = {
    "message_id": 5,
    "from": {"id": 222, "is_bot": True, "first_name": "Other bot", "username": "other_bot"},
    "chat": {"id": -100200300, "title": "Support", "type": "group"},
    "date": 1441645532,
    "text": "I am another bot",
}
CHAT_OBJECT = {"id": CHAT, "first_name": "Ada", "type": "private"}


@pytest.mark.parametrize(
    "update",
    [
        pytest.param({"update_id": 1, "message": BOT_MESSAGE}, id="a-bot-in-a-group"),
        pytest.param(
            {
                "update_id": 2,
                "edited_message": {**BOT_MESSAGE, "from": {"id": CHAT, "is_bot": False, "first_name": "Ada"}},
            },
            id="edit",
        ),
        pytest.param(
            {
                "update_id": 3,
                "channel_post": {
                    "message_id": 9,
                    "chat": {"id": -1009, "type": "channel"},
                    "date": 1441645532,
                    "text": "news",
                },
            },
            id="channel-post",
        ),
        pytest.param(
            {
                "update_id": 4,
                "my_chat_member": {
                    "chat": CHAT_OBJECT,
                    "from": {"id": CHAT, "is_bot": False, "first_name": "Ada"},
                    "date": 1441645532,
                    "old_chat_member": {"status": "member", "user": tg.BOT},
                    "new_chat_member": {"status": "kicked", "user": tg.BOT, "until_date": 0},
                },
            },
            id="bot-blocked",
        ),
        pytest.param(
            {
                "update_id": 5,
                "message": {
                    "message_id": 6,
                    "from": {"id": CHAT, "is_bot": False, "first_name": "Ada"},
                    "chat": {"id": -100200300, "title": "Support", "type": "group"},
                    "date": 1441645532,
                    "new_chat_members": [{"id": 333, "is_bot": False, "first_name": "Bob"}],
                },
            },
            id="member-joined",
        ),
        pytest.param(
            {
                "update_id": 6,
                "message": {
                    "message_id": 7,
                    "from": {"id": CHAT, "is_bot": False, "first_name": "Ada"},
                    "chat": CHAT_OBJECT,
                    "date": 1441645532,
                    "dice": {"emoji": "🎲", "value": 4},
                },
            },
            id="dice",
        ),
        pytest.param(
            {"update_id": 7, "inline_query": {"id": "1", "from": {"id": CHAT}, "query": "x"}}, id="inline"
        ),
    ],
)
def test_telegram_parse_ignores_what_is_not_a_customer_message(
    telegram: TelegramConnector, update: dict[str, Any]
) -> None:
    assert parsed(telegram, update) == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(b"update_id=1", "not JSON", id="form"),
        pytest.param(b"\xff\xfe", "not JSON", id="not-utf8"),
        pytest.param(b"[1, 2]", "a JSON object", id="array"),
        pytest.param(b'{"message": {"text": "hi"}}', "no integer update_id", id="no-update-id"),
        pytest.param(b'{"update_id": "12"}', "no integer update_id", id="string-update-id"),
        pytest.param(b'{"update_id": true}', "no integer update_id", id="boolean-update-id"),
        pytest.param(
            b'{"update_id": 1, "message": "hi"}', "message is not an object", id="message-not-object"
        ),
        pytest.param(
            b'{"update_id": 1, "message": {"text": "hi"}}', "message.chat is not an object", id="no-chat"
        ),
        pytest.param(
            b'{"update_id": 1, "message": {"chat": {"id": null}, "text": "hi"}}',
            "message.chat.id is not a chat id",
            id="no-chat-id",
        ),
        pytest.param(
            b'{"update_id": 1, "message": {"chat": {"id": 5}, "photo": [{"width": 9}]}}',
            "photo has no file_id",
            id="photo-without-file-id",
        ),
        pytest.param(
            b'{"update_id": 1, "message": {"chat": {"id": 5}, "location": {"latitude": "north"}}}',
            "location has no latitude and longitude",
            id="location-without-numbers",
        ),
        pytest.param(
            b'{"update_id": 1, "callback_query": {"from": {"id": 5}, "data": "x"}}',
            "callback_query has no id",
            id="click-without-id",
        ),
        pytest.param(
            b'{"update_id": 1, "callback_query": {"id": "9", "data": "x"}}',
            "callback_query.from is not an object",
            id="click-without-from",
        ),
    ],
)
def test_telegram_parse_refuses_what_is_not_an_update(
    telegram: TelegramConnector, body: bytes, fragment: str
) -> None:
    request = WebhookRequest("POST", "", {"x-telegram-bot-api-secret-token": tg.SECRET_TOKEN}, {}, body)
    telegram.verify(request, NOW)
    with pytest.raises(Malformed, match=fragment):
        telegram.parse(request)


# -- replies ---------------------------------------------------------------------------------------
def send(method: str, body: dict[str, Any], describes: int = 1) -> OutboundCall:
    return OutboundCall(f"{BASE}/{method}", json=body, describes=describes)


def test_telegram_render_text(telegram: TelegramConnector) -> None:
    calls = telegram.render([{"recipient_id": str(CHAT), "text": "Your order ships <b>today</b> *"}], ADDRESS)
    assert calls == [send("sendMessage", {"chat_id": CHAT, "text": "Your order ships <b>today</b> *"})]
    assert calls[0].headers == {}
    assert calls[0].form is None
    assert calls[0].auth is None
    assert calls[0].method == "POST"


def test_telegram_render_buttons_as_an_inline_keyboard(telegram: TelegramConnector) -> None:
    message = {
        "text": "What can I do for you?",
        "buttons": [
            {"title": "Track my order", "payload": "/track_order"},
            {"title": "Talk to a person", "payload": '/handoff{"queue": "billing"}'},
            {"title": "", "payload": "/other"},
        ],
    }
    assert telegram.render([message], ADDRESS) == [
        send(
            "sendMessage",
            {
                "chat_id": CHAT,
                "text": "What can I do for you?",
                "reply_markup": {
                    "inline_keyboard": [
                        [{"text": "Track my order", "callback_data": "/track_order"}],
                        [{"text": "Talk to a person", "callback_data": '/handoff{"queue": "billing"}'}],
                        [{"text": "/other", "callback_data": "/other"}],
                    ]
                },
            },
        )
    ]


def test_telegram_render_quick_replies_like_buttons(telegram: TelegramConnector) -> None:
    message = {
        "text": "Was this helpful?",
        "quick_replies": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
    }
    assert telegram.render([message], ADDRESS) == [
        send(
            "sendMessage",
            {
                "chat_id": CHAT,
                "text": "Was this helpful?",
                "reply_markup": {
                    "inline_keyboard": [
                        [{"text": "Yes", "callback_data": "/affirm"}],
                        [{"text": "No", "callback_data": "/deny"}],
                    ]
                },
            },
        )
    ]


def test_telegram_render_buttons_without_text(telegram: TelegramConnector) -> None:
    message = {"buttons": [{"title": "Yes", "payload": "/affirm"}]}
    assert telegram.render([message], ADDRESS) == [
        send(
            "sendMessage",
            {
                "chat_id": CHAT,
                "text": "👇",
                "reply_markup": {"inline_keyboard": [[{"text": "Yes", "callback_data": "/affirm"}]]},
            },
        )
    ]


def test_telegram_render_too_many_buttons_as_numbered_options(telegram: TelegramConnector) -> None:
    buttons = [{"title": f"Store {n}", "payload": f"/store{n}"} for n in range(1, 102)]
    [call] = telegram.render([{"text": "Which store?", "buttons": buttons}], ADDRESS)
    options = "\n".join(f"{n}. Store {n}" for n in range(1, 102))
    assert call == send("sendMessage", {"chat_id": CHAT, "text": f"Which store?\n\n{options}"})


def test_telegram_render_payload_over_64_bytes_as_numbered_options(telegram: TelegramConnector) -> None:
    long_payload = '/choose{"product": "' + "é" * 30 + '"}'
    assert len(long_payload) <= 64 < len(long_payload.encode("utf-8"))
    buttons = [{"title": "This one", "payload": long_payload}, {"title": "Other", "payload": "/other"}]
    assert telegram.render([{"text": "Pick", "buttons": buttons}], ADDRESS) == [
        send("sendMessage", {"chat_id": CHAT, "text": "Pick\n\n1. This one\n2. Other"})
    ]


def test_telegram_render_long_text_split_with_buttons_on_the_last_piece(telegram: TelegramConnector) -> None:
    first, second = "a" * 3000, "b" * 3000
    message = {"text": f"{first}\n\n{second}", "buttons": [{"title": "OK", "payload": "/ok"}]}
    assert telegram.render([message], ADDRESS) == [
        send("sendMessage", {"chat_id": CHAT, "text": first}, describes=0),
        send(
            "sendMessage",
            {
                "chat_id": CHAT,
                "text": second,
                "reply_markup": {"inline_keyboard": [[{"text": "OK", "callback_data": "/ok"}]]},
            },
        ),
    ]


def test_telegram_render_image_with_its_text_as_caption(telegram: TelegramConnector) -> None:
    message = {"text": "Here is the lamp", "image": "https://shop.example/lamp.jpg"}
    assert telegram.render([message], ADDRESS) == [
        send(
            "sendPhoto",
            {"chat_id": CHAT, "photo": "https://shop.example/lamp.jpg", "caption": "Here is the lamp"},
        )
    ]
    assert telegram.render([{"image": "https://shop.example/lamp.jpg"}], ADDRESS) == [
        send("sendPhoto", {"chat_id": CHAT, "photo": "https://shop.example/lamp.jpg"})
    ]


def test_telegram_render_image_with_buttons_keeps_them_under_the_photo(telegram: TelegramConnector) -> None:
    message = {
        "text": "Buy it?",
        "image": "https://shop.example/lamp.jpg",
        "buttons": [{"title": "Buy", "payload": "/buy"}],
    }
    assert telegram.render([message], ADDRESS) == [
        send(
            "sendPhoto",
            {
                "chat_id": CHAT,
                "photo": "https://shop.example/lamp.jpg",
                "caption": "Buy it?",
                "reply_markup": {"inline_keyboard": [[{"text": "Buy", "callback_data": "/buy"}]]},
            },
        )
    ]


def test_telegram_render_image_with_text_too_long_for_a_caption(telegram: TelegramConnector) -> None:
    text = "word " * 300
    message = {
        "text": text,
        "image": "https://shop.example/lamp.jpg",
        "buttons": [{"title": "Buy", "payload": "/buy"}],
    }
    assert len(text.strip()) > 1024
    assert telegram.render([message], ADDRESS) == [
        send("sendPhoto", {"chat_id": CHAT, "photo": "https://shop.example/lamp.jpg"}, describes=0),
        send(
            "sendMessage",
            {
                "chat_id": CHAT,
                "text": text.strip(),
                "reply_markup": {"inline_keyboard": [[{"text": "Buy", "callback_data": "/buy"}]]},
            },
        ),
    ]


def test_telegram_render_custom_payload_as_a_send_message_body(telegram: TelegramConnector) -> None:
    custom = {
        "text": "Share your number",
        "reply_markup": {
            "keyboard": [[{"text": "Share", "request_contact": True}]],
            "one_time_keyboard": True,
        },
    }
    assert telegram.render([{"custom": custom}], {"chat_id": CHAT, "message_thread_id": 7}) == [
        send("sendMessage", {"chat_id": CHAT, "message_thread_id": 7, **custom})
    ]
    assert telegram.render([{"custom": {"chat_id": 55, "text": "to staff"}}], ADDRESS) == [
        send("sendMessage", {"chat_id": 55, "text": "to staff"})
    ]


def test_telegram_render_skips_a_custom_payload_that_is_not_an_object(
    telegram: TelegramConnector, caplog: pytest.LogCaptureFixture
) -> None:
    assert telegram.render([{"custom": ["not", "an", "object"]}], ADDRESS) == []
    assert "custom payload that is not a JSON object" in caplog.text


def test_telegram_render_agent_message_names_the_agent(telegram: TelegramConnector) -> None:
    message = {"text": "I have refunded the order.", "agent": "Alice"}
    assert telegram.render([message], ADDRESS) == [
        send("sendMessage", {"chat_id": CHAT, "text": "Alice: I have refunded the order."})
    ]


def test_telegram_render_attachment_as_a_link(
    telegram: TelegramConnector, caplog: pytest.LogCaptureFixture
) -> None:
    messages: list[dict[str, Any]] = [
        {"attachment": "https://shop.example/manual.pdf"},
        {"attachment": {"type": "file", "payload": {"url": "https://shop.example/warranty.pdf"}}},
        {"attachment": {"type": "file"}},
    ]
    assert telegram.render(messages, ADDRESS) == [
        send("sendMessage", {"chat_id": CHAT, "text": "https://shop.example/manual.pdf"}),
        send("sendMessage", {"chat_id": CHAT, "text": "https://shop.example/warranty.pdf"}),
    ]
    assert "attachment without a URL" in caplog.text


def test_telegram_render_answers_a_click_first(telegram: TelegramConnector) -> None:
    address = {"chat_id": CHAT, "callback_query_id": "4382bfdwdsb323b2d9"}
    assert telegram.render([{"text": "Tracking it now."}, {"text": "It ships today."}], address) == [
        send("answerCallbackQuery", {"callback_query_id": "4382bfdwdsb323b2d9"}, describes=0),
        send("sendMessage", {"chat_id": CHAT, "text": "Tracking it now."}),
        send("sendMessage", {"chat_id": CHAT, "text": "It ships today."}),
    ]
    assert telegram.render([], address) == [
        send("answerCallbackQuery", {"callback_query_id": "4382bfdwdsb323b2d9"}, describes=0)
    ]


def test_telegram_render_in_a_forum_topic(telegram: TelegramConnector) -> None:
    address = {"chat_id": -1001234567890, "message_thread_id": 42}
    assert telegram.render([{"text": "hi"}, {"image": "https://shop.example/a.png"}], address) == [
        send("sendMessage", {"chat_id": -1001234567890, "message_thread_id": 42, "text": "hi"}),
        send(
            "sendPhoto",
            {"chat_id": -1001234567890, "message_thread_id": 42, "photo": "https://shop.example/a.png"},
        ),
    ]


def test_telegram_render_describes_add_up_to_the_messages(telegram: TelegramConnector) -> None:
    messages: list[dict[str, Any]] = [
        {"text": "x " * 3000, "image": "https://shop.example/a.png", "custom": {"text": "c"}},
        {"text": ""},
        {"text": "short"},
    ]
    calls = telegram.render(messages, {"chat_id": CHAT, "callback_query_id": "q"})
    assert [call.url.rsplit("/", 1)[1] for call in calls] == [
        "answerCallbackQuery",
        "sendPhoto",
        "sendMessage",
        "sendMessage",
        "sendMessage",
        "sendMessage",
    ]
    assert [call.describes for call in calls] == [0, 0, 0, 0, 1, 1]


def test_telegram_render_needs_a_chat(telegram: TelegramConnector) -> None:
    with pytest.raises(ValueError, match="needs the chat_id"):
        telegram.render([{"text": "hi"}], {})


# -- against a platform ----------------------------------------------------------------------------
def test_telegram_calls_reach_the_platform_as_sent(session: requests.Session, platform: FakePlatform) -> None:
    connector = TelegramConnector.from_config(tg.config(platform.url + "/"), session, tg.ENVIRON)
    address = {"chat_id": CHAT, "callback_query_id": "4382bfdwdsb323b2d9"}
    messages = [{"text": "Pick one", "buttons": [{"title": "Café ☕", "payload": "/coffee"}]}]
    for call in connector.render(messages, address):
        response = session.request(
            call.method, call.url, json=call.json, data=call.form, headers=call.headers, auth=call.auth
        )
        assert connector.failure(response) is None
    answered, shown = platform.wait_for(2)
    assert (answered.method, answered.path, answered.query) == (
        "POST",
        f"/bot{tg.TOKEN}/answerCallbackQuery",
        {},
    )
    assert answered.json() == {"callback_query_id": "4382bfdwdsb323b2d9"}
    assert (shown.method, shown.path) == ("POST", f"/bot{tg.TOKEN}/sendMessage")
    assert shown.body == json.dumps(
        {
            "chat_id": CHAT,
            "text": "Pick one",
            "reply_markup": {"inline_keyboard": [[{"text": "Café ☕", "callback_data": "/coffee"}]]},
        }
    ).encode("utf-8")
    assert shown.headers == {
        "host": platform.url.removeprefix("http://"),
        **{name.lower(): value for name, value in requests.utils.default_headers().items()},
        "content-length": str(len(shown.body)),
        "content-type": "application/json",
    }
    assert tg.sent_texts(answered) == [] and tg.sent_buttons(answered) == []
    assert tg.sent_texts(shown) == ["Pick one"]
    assert tg.sent_buttons(shown) == [("Café ☕", "/coffee")]


def test_telegram_platform_reports_refused_calls(session: requests.Session, platform: FakePlatform) -> None:
    connector = TelegramConnector.from_config(tg.config(platform.url), session, tg.ENVIRON)
    platform.script(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    [call] = connector.render([{"text": "hi"}], ADDRESS)
    response = session.request(call.method, call.url, json=call.json, headers=call.headers)
    assert connector.failure(response) == (
        'HTTP 400: {"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}'
    )


def test_telegram_reply_goes_on_when_the_click_answer_is_refused(
    session: requests.Session, platform: FakePlatform
) -> None:
    # A later reply to a click's address (an agent's message) answers the old query again;
    # Telegram refuses that, and the message must be delivered all the same.
    connector = TelegramConnector.from_config(tg.config(platform.url), session, tg.ENVIRON)
    platform.script(
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: query is too old and response timeout expired "
            "or query ID is invalid",
        },
        path="/answerCallbackQuery",
    )
    calls = connector.render(
        [{"text": "Alice here.", "agent": "Alice"}], {"chat_id": CHAT, "callback_query_id": "q1"}
    )
    result = Sender(session, sleep=lambda seconds: None).send(connector, calls)
    assert (result.ok, result.sent, result.calls) == (True, 1, 2)
    _, shown = platform.wait_for(2)
    assert tg.sent_texts(shown) == ["Alice: Alice here."]


def test_telegram_refused_message_stops_the_reply(session: requests.Session, platform: FakePlatform) -> None:
    connector = TelegramConnector.from_config(tg.config(platform.url), session, tg.ENVIRON)
    platform.script(
        403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
    )
    calls = connector.render([{"text": "one"}, {"text": "two"}], ADDRESS)
    result = Sender(session, sleep=lambda seconds: None).send(connector, calls)
    assert (result.ok, result.sent, result.status) == (False, 0, 403)
    assert result.error == (
        "telegram API refused the message: HTTP 403: "
        '{"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}'
    )
    assert len(platform.calls) == 1


# -- the end-to-end helpers ------------------------------------------------------------------------
def test_telegram_helpers_build_what_the_connector_accepts(telegram: TelegramConnector) -> None:
    text = tg.customer_text("4242", "hi there", "31", now=NOW, webhook_url="", api_url="")
    assert (text.method, text.path_and_query) == ("POST", "")
    assert text.headers == {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": tg.SECRET_TOKEN,
    }
    request = request_of(text)
    telegram.verify(request, NOW)
    [inbound] = telegram.parse(request)
    assert (inbound.message_id, inbound.sender_id, inbound.text) == ("31", "4242", "hi there")

    click = request_of(
        tg.customer_click("4242", "Yes", "/affirm", "m-32", now=NOW, webhook_url="", api_url="")
    )
    telegram.verify(click, NOW)
    [clicked] = telegram.parse(click)
    assert (clicked.message_id, clicked.sender_id, clicked.text) == (
        str(tg.update_id("m-32")),
        "4242",
        "/affirm",
    )
    assert clicked.address["callback_query_id"]
    assert tg.update_id("m-32") == tg.update_id("m-32") != tg.update_id("m-33")
