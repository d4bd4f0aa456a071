"""The WhatsApp Cloud API connector: Meta's verification request, the webhook signature, the
notifications' messages (texts, clicks, media, locations, contacts) and the Graph API calls the
bot's messages become."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from engine.channels.base import Inbound, Malformed, OutboundCall, Rejected, WebhookRequest
from engine.channels.settings import MissingCredential, WhatsAppConfig
from engine.channels.whatsapp import WhatsAppConnector
from tests.channels import whatsapp_platform as wa
from tests.channels.fake_platform import Delivery, FakePlatform

NOW = 1_800_000_000.0
API = "https://graph.facebook.com/v19.0"
SENDER = "16505551234"
TOKEN = wa.ENVIRON["PARLEY_WHATSAPP_ACCESS_TOKEN"]
URL = f"{API}/{wa.PHONE_NUMBER_ID}/messages"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
ADDRESS = {"to": SENDER, "phone_number_id": wa.PHONE_NUMBER_ID}
WEBHOOK_URL = f"http://testserver{wa.WEBHOOK}"


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


@pytest.fixture
def connector(session: requests.Session) -> WhatsAppConnector:
    return WhatsAppConnector.from_config(wa.config(API), session, wa.ENVIRON)


def request_of(delivery: Delivery) -> WebhookRequest:
    parts = urlsplit(delivery.path_and_query)
    return WebhookRequest(
        method=delivery.method,
        url=WEBHOOK_URL + delivery.path_and_query,
        headers={name.lower(): value for name, value in delivery.headers.items()},
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        body=delivery.body,
    )


def parsed(connector: WhatsAppConnector, body: dict[str, Any] | bytes) -> list[Inbound]:
    request = request_of(wa.delivery(body))
    connector.verify(request, NOW)
    return connector.parse(request)


def one(connector: WhatsAppConnector, message: dict[str, Any]) -> Inbound:
    found = parsed(connector, wa.notification([message]))
    assert len(found) == 1
    return found[0]


def message_of(
    kind: str, content: Any, message_id: str = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTBGRTM1"
) -> dict[str, Any]:
    return {"from": SENDER, "id": message_id, "timestamp": "1799999990", "type": kind, kind: content}


def text_body(to: str, body: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body, "preview_url": False},
    }


def interactive_body(interactive: dict[str, Any]) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": SENDER,
        "type": "interactive",
        "interactive": interactive,
    }


def call(body: dict[str, Any], describes: int = 1) -> OutboundCall:
    """A Graph API call; `describes=0` for a call before the last of one bot message."""
    return OutboundCall(URL, json=body, headers=HEADERS, describes=describes)


# -- configuration -------------------------------------------------------------------------------
def test_whatsapp_from_config_reads_the_three_credentials(connector: WhatsAppConnector) -> None:
    assert connector.access_token == TOKEN
    assert connector.app_secret == wa.ENVIRON["PARLEY_WHATSAPP_APP_SECRET"]
    assert connector.verify_token == wa.ENVIRON["PARLEY_WHATSAPP_VERIFY_TOKEN"]
    assert connector.api_url == API


@pytest.mark.parametrize("variable", sorted(wa.ENVIRON))
def test_whatsapp_from_config_names_a_missing_variable(session: requests.Session, variable: str) -> None:
    environ = {name: value for name, value in wa.ENVIRON.items() if name != variable}
    with pytest.raises(MissingCredential, match=variable):
        WhatsAppConnector.from_config(WhatsAppConfig(), session, environ)


def test_whatsapp_render_builds_urls_without_a_double_slash(session: requests.Session) -> None:
    connector = WhatsAppConnector.from_config(wa.config(API + "/"), session, wa.ENVIRON)
    assert connector.render([{"text": "hi"}], ADDRESS)[0].url == URL


# -- Meta's verification request -----------------------------------------------------------------
def subscription(**query: str) -> WebhookRequest:
    return WebhookRequest("GET", WEBHOOK_URL, {}, query, b"")


def test_whatsapp_subscribe_echoes_the_challenge(connector: WhatsAppConnector) -> None:
    answer = connector.subscribe(
        subscription(
            **{
                "hub.mode": "subscribe",
                "hub.verify_token": wa.ENVIRON["PARLEY_WHATSAPP_VERIFY_TOKEN"],
                "hub.challenge": "1158201444",
            }
        )
    )
    assert (answer.status, answer.body, answer.media_type) == (200, "1158201444", "text/plain")


def test_whatsapp_subscribe_refuses_another_token(connector: WhatsAppConnector) -> None:
    answer = connector.subscribe(
        subscription(**{"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"})
    )
    assert answer.status == 403
    assert "1158201444" not in answer.body


@pytest.mark.parametrize("missing", ["hub.mode", "hub.verify_token", "hub.challenge"])
def test_whatsapp_subscribe_needs_every_parameter(connector: WhatsAppConnector, missing: str) -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": wa.ENVIRON["PARLEY_WHATSAPP_VERIFY_TOKEN"],
        "hub.challenge": "1158201444",
    }
    del query[missing]
    assert connector.subscribe(subscription(**query)).status == 400


def test_whatsapp_subscribe_needs_mode_subscribe(connector: WhatsAppConnector) -> None:
    answer = connector.subscribe(
        subscription(
            **{
                "hub.mode": "unsubscribe",
                "hub.verify_token": wa.ENVIRON["PARLEY_WHATSAPP_VERIFY_TOKEN"],
                "hub.challenge": "1",
            }
        )
    )
    assert answer.status == 400


# -- the signature -------------------------------------------------------------------------------
def signed_text() -> Delivery:
    return wa.customer_text(
        SENDER, "my parcel is late", "wamid.A1", now=NOW, webhook_url=WEBHOOK_URL, api_url=API
    )


def test_whatsapp_verify_accepts_meta_signature(connector: WhatsAppConnector) -> None:
    connector.verify(request_of(signed_text()), NOW)


def test_whatsapp_verify_accepts_an_upper_case_signature(connector: WhatsAppConnector) -> None:
    delivery = signed_text()
    header = delivery.headers["X-Hub-Signature-256"]
    upper = Delivery(
        delivery.body, {**delivery.headers, "X-Hub-Signature-256": "sha256=" + header[7:].upper()}
    )
    connector.verify(request_of(upper), NOW)


def test_whatsapp_verify_ignores_the_clock(connector: WhatsAppConnector) -> None:
    # Meta signs no timestamp: a retry hours later is still Meta's (its wamid deduplicates it).
    connector.verify(request_of(signed_text()), NOW + 86_400)


def rejection(connector: WhatsAppConnector, delivery: Delivery) -> Rejected:
    with pytest.raises(Rejected) as raised:
        connector.verify(request_of(delivery), NOW)
    assert "parcel" not in raised.value.reason
    return raised.value


@pytest.mark.parametrize("headers", [{}, {"X-Hub-Signature-256": ""}, {"X-Hub-Signature-256": "  "}])
def test_whatsapp_verify_refuses_a_missing_signature_with_401(
    connector: WhatsAppConnector, headers: dict[str, str]
) -> None:
    delivery = signed_text()
    unsigned = Delivery(delivery.body, {"Content-Type": "application/json", **headers})
    assert rejection(connector, unsigned).status == 401


@pytest.mark.parametrize(
    "header",
    ["sha1=" + "0" * 40, "sha256=" + "0" * 63, "sha256=" + "z" * 64, "sha256 " + "0" * 64],
)
def test_whatsapp_verify_refuses_a_malformed_signature_with_403(
    connector: WhatsAppConnector, header: str
) -> None:
    delivery = signed_text()
    assert (
        rejection(
            connector, Delivery(delivery.body, {**delivery.headers, "X-Hub-Signature-256": header})
        ).status
        == 403
    )


def test_whatsapp_verify_refuses_another_secret_with_403(connector: WhatsAppConnector) -> None:
    delivery = signed_text()
    forged = Delivery(
        delivery.body, {**delivery.headers, "X-Hub-Signature-256": wa.sign(delivery.body, "other")}
    )
    assert rejection(connector, forged).status == 403


def test_whatsapp_verify_refuses_a_tampered_body_with_403(connector: WhatsAppConnector) -> None:
    delivery = signed_text()
    tampered = Delivery(delivery.body.replace(b"late", b"lost"), delivery.headers)
    assert rejection(connector, tampered).status == 403


# -- customer messages ---------------------------------------------------------------------------
def test_whatsapp_parse_reads_a_text_message(connector: WhatsAppConnector) -> None:
    request = request_of(signed_text())
    connector.verify(request, NOW)
    assert connector.parse(request) == [
        Inbound(
            message_id="wamid.A1",
            sender_id=SENDER,
            text="my parcel is late",
            address=ADDRESS,
            metadata={"name": "Kerry Fisher"},
        )
    ]


def test_whatsapp_parse_gives_a_retried_delivery_the_same_message_id(connector: WhatsAppConnector) -> None:
    first = connector.parse(request_of(signed_text()))
    again = connector.parse(request_of(signed_text()))
    assert [m.message_id for m in first] == [m.message_id for m in again] == ["wamid.A1"]


def test_whatsapp_parse_reads_a_reply_button_click_as_its_payload(connector: WhatsAppConnector) -> None:
    delivery = wa.customer_click(
        SENDER, "Track order", "/track_order", "wamid.B2", now=NOW, webhook_url=WEBHOOK_URL, api_url=API
    )
    request = request_of(delivery)
    connector.verify(request, NOW)
    [inbound] = connector.parse(request)
    assert (inbound.message_id, inbound.sender_id, inbound.text) == ("wamid.B2", SENDER, "/track_order")
    assert inbound.address == ADDRESS


def test_whatsapp_parse_reads_a_list_row_as_its_payload(connector: WhatsAppConnector) -> None:
    inbound = one(
        connector,
        message_of(
            "interactive",
            {
                "type": "list_reply",
                "list_reply": {"id": '/choose{"size": "M"}', "title": "Medium", "description": "38-40"},
            },
        ),
    )
    assert inbound.text == '/choose{"size": "M"}'


def test_whatsapp_parse_reads_a_template_quick_reply_as_its_payload(connector: WhatsAppConnector) -> None:
    inbound = one(connector, message_of("button", {"payload": "/stop_promotions", "text": "Stop promotions"}))
    assert inbound.text == "/stop_promotions"


@pytest.mark.parametrize(
    ("kind", "content", "text", "attachment"),
    [
        (
            "image",
            {
                "caption": "my broken lamp",
                "mime_type": "image/jpeg",
                "sha256": "aGFzaA==",
                "id": "1479537139650973",
            },
            "[image] my broken lamp",
            {"type": "image", "id": "1479537139650973", "mime_type": "image/jpeg"},
        ),
        (
            "image",
            {"mime_type": "image/jpeg", "sha256": "aGFzaA==", "id": "1479537139650973"},
            "[image]",
            {"type": "image", "id": "1479537139650973", "mime_type": "image/jpeg"},
        ),
        (
            "document",
            {
                "filename": "invoice.pdf",
                "mime_type": "application/pdf",
                "sha256": "aGFzaA==",
                "id": "2345678901234567",
            },
            "[file invoice.pdf]",
            {
                "type": "document",
                "id": "2345678901234567",
                "mime_type": "application/pdf",
                "filename": "invoice.pdf",
            },
        ),
        (
            "document",
            {
                "caption": "March",
                "filename": "invoice.pdf",
                "mime_type": "application/pdf",
                "sha256": "aGFzaA==",
                "id": "2345678901234567",
            },
            "[file invoice.pdf] March",
            {
                "type": "document",
                "id": "2345678901234567",
                "mime_type": "application/pdf",
                "filename": "invoice.pdf",
            },
        ),
        (
            "audio",
            {
                "mime_type": "audio/ogg; codecs=opus",
                "sha256": "aGFzaA==",
                "id": "3456789012345678",
                "voice": True,
            },
            "[audio]",
            {"type": "audio", "id": "3456789012345678", "mime_type": "audio/ogg; codecs=opus", "voice": True},
        ),
        (
            "video",
            {
                "caption": "the noise",
                "mime_type": "video/mp4",
                "sha256": "aGFzaA==",
                "id": "4567890123456789",
            },
            "[video] the noise",
            {"type": "video", "id": "4567890123456789", "mime_type": "video/mp4"},
        ),
        (
            "sticker",
            {"mime_type": "image/webp", "sha256": "aGFzaA==", "id": "5678901234567890", "animated": False},
            "[sticker]",
            {"type": "sticker", "id": "5678901234567890", "mime_type": "image/webp"},
        ),
    ],
)
def test_whatsapp_parse_describes_media(
    connector: WhatsAppConnector, kind: str, content: dict[str, Any], text: str, attachment: dict[str, Any]
) -> None:
    inbound = one(connector, message_of(kind, content))
    assert inbound.text == text
    assert inbound.metadata == {"name": "Kerry Fisher", "attachments": [attachment]}


def test_whatsapp_parse_describes_a_location(connector: WhatsAppConnector) -> None:
    location = {
        "latitude": 51.5074,
        "longitude": -0.1278,
        "name": "Acme Store",
        "address": "1 Strand, London",
    }
    inbound = one(connector, message_of("location", location))
    assert inbound.text == "[location 51.5074,-0.1278] Acme Store, 1 Strand, London"
    assert inbound.metadata["attachments"] == [{"type": "location", **location}]


def test_whatsapp_parse_describes_a_bare_location(connector: WhatsAppConnector) -> None:
    inbound = one(connector, message_of("location", {"latitude": 51.5074, "longitude": -0.1278}))
    assert inbound.text == "[location 51.5074,-0.1278]"


def test_whatsapp_parse_describes_shared_contacts(connector: WhatsAppConnector) -> None:
    contacts = [
        {
            "name": {"formatted_name": "Jane Doe", "first_name": "Jane", "last_name": "Doe"},
            "phones": [{"phone": "+1 650 555 0100", "wa_id": "16505550100", "type": "CELL"}],
        },
        {"name": {"formatted_name": "Sam Roe", "first_name": "Sam"}, "phones": []},
    ]
    inbound = one(connector, message_of("contacts", contacts))
    assert inbound.text == "[contact Jane Doe, Sam Roe]"
    assert inbound.metadata["attachments"] == [
        {"type": "contact", "name": "Jane Doe", "phones": ["+1 650 555 0100"]},
        {"type": "contact", "name": "Sam Roe", "phones": []},
    ]


def test_whatsapp_parse_describes_an_unsupported_message(connector: WhatsAppConnector) -> None:
    message = {
        "from": SENDER,
        "id": "wamid.U1",
        "timestamp": "1799999990",
        "type": "unsupported",
        "errors": [
            {
                "code": 131051,
                "title": "Message type unknown",
                "message": "Message type unknown",
                "error_data": {"details": "Message type is currently not supported."},
            }
        ],
    }
    inbound = one(connector, message)
    assert inbound.text == "[unsupported message]"
    assert inbound.metadata == {"name": "Kerry Fisher", "message_type": "unsupported"}


def test_whatsapp_parse_ignores_reactions_and_system_messages(connector: WhatsAppConnector) -> None:
    reaction = message_of("reaction", {"message_id": wa.BOT_MESSAGE_ID, "emoji": "\U0001f44d"}, "wamid.R1")
    system = message_of(
        "system",
        {
            "body": "User A changed from 16505551234 to 16505559999",
            "wa_id": "16505559999",
            "type": "user_changed_number",
        },
        "wamid.S1",
    )
    text = message_of("text", {"body": "hello"}, "wamid.T1")
    assert [m.message_id for m in parsed(connector, wa.notification([reaction, system, text]))] == [
        "wamid.T1"
    ]


def test_whatsapp_parse_ignores_statuses_and_logs_failures(
    connector: WhatsAppConnector, caplog: pytest.LogCaptureFixture
) -> None:
    statuses: list[dict[str, Any]] = [
        {
            "id": "wamid.OUT1",
            "status": "delivered",
            "timestamp": "1799999999",
            "recipient_id": SENDER,
            "conversation": {"id": "c1", "origin": {"type": "service"}},
            "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"},
        },
        {
            "id": "wamid.OUT2",
            "status": "failed",
            "timestamp": "1799999999",
            "recipient_id": SENDER,
            "errors": [
                {
                    "code": 131047,
                    "title": "Re-engagement message",
                    "message": "Re-engagement message",
                    "error_data": {
                        "details": "Message failed to send because more than 24 hours have passed."
                    },
                }
            ],
        },
    ]
    with caplog.at_level(logging.WARNING, logger="engine.channels.whatsapp"):
        assert parsed(connector, wa.notification(statuses=statuses)) == []
    assert [r.getMessage() for r in caplog.records] == [
        "WhatsApp could not deliver message wamid.OUT2: error 131047 (Re-engagement message)"
    ]


def test_whatsapp_parse_ignores_other_fields(connector: WhatsAppConnector) -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": wa.WABA_ID,
                "changes": [
                    {
                        "field": "message_template_status_update",
                        "value": {
                            "event": "APPROVED",
                            "message_template_id": 1,
                            "message_template_name": "hello",
                        },
                    }
                ],
            }
        ],
    }
    assert parsed(connector, body) == []


def test_whatsapp_parse_reads_every_message_of_a_batch(connector: WhatsAppConnector) -> None:
    body = wa.notification(
        [message_of("text", {"body": "one"}, "wamid.1"), message_of("text", {"body": "two"}, "wamid.2")]
    )
    assert [(m.message_id, m.text) for m in parsed(connector, body)] == [
        ("wamid.1", "one"),
        ("wamid.2", "two"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"object": "page", "entry": []}).encode(),
        json.dumps({"object": "whatsapp_business_account", "entry": {}}).encode(),
        json.dumps(
            {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]}
        ).encode(),
        json.dumps(wa.notification([{"from": SENDER, "type": "text", "text": {"body": "no id"}}])).encode(),
        json.dumps(
            wa.notification([{"id": "wamid.X", "type": "text", "text": {"body": "no sender"}}])
        ).encode(),
        json.dumps(wa.notification([message_of("text", {"nobody": "here"})])).encode(),
        json.dumps(wa.notification([message_of("location", {"latitude": "north"})])).encode(),
        json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": wa.WABA_ID,
                        "changes": [
                            {
                                "field": "messages",
                                "value": {"messages": [message_of("text", {"body": "no metadata"})]},
                            }
                        ],
                    }
                ],
            }
        ).encode(),
    ],
)
def test_whatsapp_parse_refuses_what_meta_does_not_send(connector: WhatsAppConnector, body: bytes) -> None:
    with pytest.raises(Malformed):
        parsed(connector, body)


# -- the bot's messages --------------------------------------------------------------------------
def test_whatsapp_render_sends_a_text(connector: WhatsAppConnector) -> None:
    assert connector.render([{"recipient_id": SENDER, "text": "Your parcel left our depot."}], ADDRESS) == [
        call(text_body(SENDER, "Your parcel left our depot."))
    ]


def test_whatsapp_render_prefixes_an_agent_message(connector: WhatsAppConnector) -> None:
    rendered = connector.render([{"recipient_id": SENDER, "text": "I am on it.", "agent": "Alice"}], ADDRESS)
    assert rendered == [call(text_body(SENDER, "Alice: I am on it."))]


def test_whatsapp_render_shows_up_to_three_reply_buttons(connector: WhatsAppConnector) -> None:
    message = {
        "recipient_id": SENDER,
        "text": "What would you like to do?",
        "buttons": [
            {"title": "Track my order", "payload": "/track_order"},
            {"title": "Return an item I bought last week", "payload": "/return_item"},
        ],
    }
    assert connector.render([message], ADDRESS) == [
        call(
            interactive_body(
                {
                    "type": "button",
                    "body": {"text": "What would you like to do?"},
                    "action": {
                        "buttons": [
                            {"type": "reply", "reply": {"id": "/track_order", "title": "Track my order"}},
                            {
                                "type": "reply",
                                "reply": {"id": "/return_item", "title": "Return an item I bo…"},
                            },
                        ]
                    },
                }
            )
        )
    ]


def test_whatsapp_render_shows_quick_replies_as_buttons(connector: WhatsAppConnector) -> None:
    message = {
        "text": "Happy?",
        "quick_replies": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
    }
    [rendered] = connector.render([message], ADDRESS)
    assert rendered.json is not None
    assert rendered.json["interactive"]["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "/affirm", "title": "Yes"}},
        {"type": "reply", "reply": {"id": "/deny", "title": "No"}},
    ]


def test_whatsapp_render_shows_four_to_ten_buttons_as_a_list(connector: WhatsAppConnector) -> None:
    titles = ["Small", "Medium", "Large", "Extra large, the roomiest one"]
    message = {
        "text": "Which size?",
        "buttons": [{"title": t, "payload": f'/size{{"size": "{i}"}}'} for i, t in enumerate(titles)],
    }
    assert connector.render([message], ADDRESS) == [
        call(
            interactive_body(
                {
                    "type": "list",
                    "body": {"text": "Which size?"},
                    "action": {
                        "button": "Choose",
                        "sections": [
                            {
                                "rows": [
                                    {"id": '/size{"size": "0"}', "title": "Small"},
                                    {"id": '/size{"size": "1"}', "title": "Medium"},
                                    {"id": '/size{"size": "2"}', "title": "Large"},
                                    {"id": '/size{"size": "3"}', "title": "Extra large, the roomie…"},
                                ]
                            }
                        ],
                    },
                }
            )
        )
    ]


def test_whatsapp_render_numbers_more_than_ten_buttons(connector: WhatsAppConnector) -> None:
    buttons = [{"title": f"Store {n}", "payload": f"/store{n}"} for n in range(1, 12)]
    message = {"text": "Pick a store:", "buttons": buttons}
    assert connector.numbered(message)
    options = "\n".join(f"{n}. Store {n}" for n in range(1, 12))
    assert connector.render([message], ADDRESS) == [call(text_body(SENDER, f"Pick a store:\n\n{options}"))]


def test_whatsapp_render_numbers_buttons_with_a_payload_over_200_bytes(connector: WhatsAppConnector) -> None:
    message = {
        "text": "Confirm?",
        "buttons": [{"title": "Yes", "payload": "/affirm" + "x" * 200}, {"title": "No", "payload": "/deny"}],
    }
    assert connector.numbered(message)
    assert connector.render([message], ADDRESS) == [call(text_body(SENDER, "Confirm?\n\n1. Yes\n2. No"))]


@pytest.mark.parametrize(
    "buttons",
    [
        [{"title": "Same", "payload": "/a"}, {"title": "Same", "payload": "/b"}],
        [{"title": "A", "payload": "/same"}, {"title": "B", "payload": "/same"}],
        [{"title": "Empty", "payload": ""}],
        # Different titles that are the same once cut to 20 characters.
        [
            {"title": "Deliver to my home address", "payload": "/home"},
            {"title": "Deliver to my home address at work", "payload": "/work"},
        ],
    ],
)
def test_whatsapp_render_numbers_buttons_whatsapp_would_refuse(
    connector: WhatsAppConnector, buttons: list[dict[str, str]]
) -> None:
    message = {"text": "Choose", "buttons": buttons}
    assert connector.numbered(message)
    [rendered] = connector.render([message], ADDRESS)
    assert rendered.json is not None and rendered.json["type"] == "text"


def test_whatsapp_render_splits_a_long_text_with_buttons_on_the_last_piece(
    connector: WhatsAppConnector,
) -> None:
    first, second = "a" * 4000 + ".", "b" * 500 + "."
    message = {"text": f"{first} {second}", "buttons": [{"title": "OK", "payload": "/ok"}]}
    assert connector.render([message], ADDRESS) == [
        call(text_body(SENDER, first), describes=0),
        call(
            interactive_body(
                {
                    "type": "button",
                    "body": {"text": second},
                    "action": {"buttons": [{"type": "reply", "reply": {"id": "/ok", "title": "OK"}}]},
                }
            )
        ),
    ]


def test_whatsapp_render_splits_a_long_text(connector: WhatsAppConnector) -> None:
    first, second = "a" * 4000 + ".", "b" * 500 + "."
    assert connector.render([{"text": f"{first}\n\n{second}"}], ADDRESS) == [
        call(text_body(SENDER, first), describes=0),
        call(text_body(SENDER, second)),
    ]


def test_whatsapp_render_sends_text_over_the_body_limit_before_the_buttons(
    connector: WhatsAppConnector,
) -> None:
    first, second = "a" * 1000 + ".", "b" * 200 + "."
    message = {"text": f"{first} {second}", "buttons": [{"title": "OK", "payload": "/ok"}]}
    rendered = connector.render([message], ADDRESS)
    assert rendered[0] == call(text_body(SENDER, first), describes=0)
    assert rendered[1].json is not None and rendered[1].json["interactive"]["body"] == {"text": second}
    assert len(rendered) == 2


def test_whatsapp_render_gives_buttons_without_text_a_body(connector: WhatsAppConnector) -> None:
    [rendered] = connector.render([{"buttons": [{"title": "Yes", "payload": "/affirm"}]}], ADDRESS)
    assert rendered.json is not None and rendered.json["interactive"]["body"] == {"text": "Please choose:"}


def test_whatsapp_render_sends_an_image(connector: WhatsAppConnector) -> None:
    assert connector.render([{"image": "https://cdn.example.com/lamp.png"}], ADDRESS) == [
        call(
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": SENDER,
                "type": "image",
                "image": {"link": "https://cdn.example.com/lamp.png"},
            }
        )
    ]


def test_whatsapp_render_sends_text_then_image(connector: WhatsAppConnector) -> None:
    rendered = connector.render(
        [{"text": "Here it is:", "image": "https://cdn.example.com/lamp.png"}], ADDRESS
    )
    assert [c.json["type"] for c in rendered if c.json is not None] == ["text", "image"]


def test_whatsapp_render_passes_custom_through_with_the_recipient(connector: WhatsAppConnector) -> None:
    custom = {
        "type": "template",
        "template": {"name": "order_update", "language": {"code": "en_US"}},
    }
    assert connector.render([{"custom": custom}], ADDRESS) == [
        call(
            {
                "messaging_product": "whatsapp",
                "to": SENDER,
                "type": "template",
                "template": {"name": "order_update", "language": {"code": "en_US"}},
            }
        )
    ]


def test_whatsapp_render_sends_attachments(connector: WhatsAppConnector) -> None:
    rendered = connector.render(
        [
            {"attachment": {"type": "file", "payload": {"url": "https://cdn.example.com/invoice.pdf"}}},
            {"attachment": "https://cdn.example.com/manual"},
        ],
        ADDRESS,
    )
    assert rendered == [
        call(
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": SENDER,
                "type": "document",
                "document": {"link": "https://cdn.example.com/invoice.pdf"},
            }
        ),
        call(text_body(SENDER, "https://cdn.example.com/manual")),
    ]


def test_whatsapp_render_sends_nothing_for_an_empty_message(connector: WhatsAppConnector) -> None:
    assert connector.render([{"recipient_id": SENDER}], ADDRESS) == []


def test_whatsapp_render_needs_an_address(connector: WhatsAppConnector) -> None:
    with pytest.raises(ValueError, match="phone_number_id"):
        connector.render([{"text": "hi"}], {"to": SENDER})


# -- what Meta receives --------------------------------------------------------------------------
def test_whatsapp_calls_reach_the_graph_api_as_rendered(
    platform: FakePlatform, session: requests.Session
) -> None:
    connector = WhatsAppConnector.from_config(wa.config(platform.url), session, wa.ENVIRON)
    calls = connector.render(
        [
            {"text": "Hello!", "agent": "Alice"},
            {"text": "Anything else?", "buttons": [{"title": "No thanks", "payload": "/deny"}]},
        ],
        ADDRESS,
    )
    for outbound in calls:
        with session.request(
            outbound.method,
            outbound.url,
            json=outbound.json,
            data=outbound.form,
            headers=outbound.headers,
            auth=outbound.auth,
        ) as response:
            assert connector.failure(response) is None
    captured = platform.wait_for(2)
    assert [(c.method, c.path) for c in captured] == [("POST", f"/{wa.PHONE_NUMBER_ID}/messages")] * 2
    for c in captured:
        assert c.headers["authorization"] == f"Bearer {TOKEN}"
        assert c.headers["content-type"] == "application/json"
    assert captured[0].json() == text_body(SENDER, "Alice: Hello!")
    assert captured[1].json() == interactive_body(
        {
            "type": "button",
            "body": {"text": "Anything else?"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "/deny", "title": "No thanks"}}]},
        }
    )
    assert [wa.sent_texts(c) for c in captured] == [["Alice: Hello!"], ["Anything else?"]]
    assert [wa.sent_buttons(c) for c in captured] == [[], [("No thanks", "/deny")]]


def test_whatsapp_reports_a_graph_api_error(platform: FakePlatform, session: requests.Session) -> None:
    platform.script(
        400, {"error": {"message": "(#131030) Recipient phone number not in allowed list", "code": 131030}}
    )
    connector = WhatsAppConnector.from_config(wa.config(platform.url), session, wa.ENVIRON)
    [outbound] = connector.render([{"text": "hi"}], ADDRESS)
    with session.request(
        outbound.method, outbound.url, json=outbound.json, headers=outbound.headers
    ) as response:
        failure = connector.failure(response)
    assert failure is not None and failure.startswith("HTTP 400") and "131030" in failure


def test_whatsapp_sent_buttons_reads_a_list(platform: FakePlatform, session: requests.Session) -> None:
    connector = WhatsAppConnector.from_config(wa.config(platform.url), session, wa.ENVIRON)
    buttons = [{"title": f"Size {n}", "payload": f"/size{n}"} for n in range(4)]
    [outbound] = connector.render([{"text": "Size?", "buttons": buttons}], ADDRESS)
    with session.post(outbound.url, json=outbound.json, headers=outbound.headers):
        pass
    [captured] = platform.wait_for(1)
    assert wa.sent_texts(captured) == ["Size?"]
    assert wa.sent_buttons(captured) == [(f"Size {n}", f"/size{n}") for n in range(4)]
