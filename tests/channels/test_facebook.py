"""The Messenger connector: Meta's webhook payloads in, Send API calls out."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests

from engine.channels.base import Answer, Inbound, Malformed, OutboundCall, Rejected, WebhookRequest
from engine.channels.facebook import FacebookConnector
from engine.channels.settings import FacebookConfig, MissingCredential
from tests.channels import facebook_platform as fb
from tests.channels.fake_platform import Captured, Delivery, FakePlatform

NOW = 1_718_000_000.0
API = "https://graph.facebook.com/v19.0"
URL = "http://testserver/webhooks/facebook/webhook"
PSID = "6743210987654321"
TOKEN = fb.ENVIRON["PARLEY_FACEBOOK_PAGE_ACCESS_TOKEN"]
SECRET = fb.ENVIRON["PARLEY_FACEBOOK_APP_SECRET"]
VERIFY = fb.ENVIRON["PARLEY_FACEBOOK_VERIFY_TOKEN"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEND = f"{API}/me/messages"
TO = {"recipient": {"id": PSID}, "messaging_type": "RESPONSE"}
AS_AGENT = {"recipient": {"id": PSID}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
#: The address of a message the customer sent at the events' timestamp (1718000000100 ms).
FROM_CUSTOMER = {"recipient_id": PSID, "customer_wrote_at": 1718000000.1}


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


@pytest.fixture
def connector(session: requests.Session) -> FacebookConnector:
    return FacebookConnector(TOKEN, SECRET, VERIFY, api_url=API, session=session)


def request_of(delivery: Delivery) -> WebhookRequest:
    query = delivery.path_and_query.lstrip("?")
    return WebhookRequest(
        delivery.method,
        URL + delivery.path_and_query,
        {name.lower(): value for name, value in delivery.headers.items()},
        dict(parse_qsl(query, keep_blank_values=True)),
        delivery.body,
    )


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-hub-signature-256": f"sha256={digest}"}


def webhook(*events: dict[str, Any], page_id: str = fb.PAGE_ID) -> WebhookRequest:
    """A signed Page webhook carrying `events` in one entry."""
    payload = {"object": "page", "entry": [{"id": page_id, "time": 1718000000123, "messaging": list(events)}]}
    return raw(payload)


def raw(payload: Any) -> WebhookRequest:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return WebhookRequest("POST", URL, signed(body), {}, body)


def event(**content: Any) -> dict[str, Any]:
    """A messaging event from the customer PSID to the Page (Meta's field order)."""
    return {"sender": {"id": PSID}, "recipient": {"id": fb.PAGE_ID}, "timestamp": 1718000000100, **content}


def parsed(connector: FacebookConnector, request: WebhookRequest) -> list[Inbound]:
    connector.verify(request, NOW)
    return connector.parse(request)


def call(message: dict[str, Any], envelope: dict[str, Any] = TO, describes: int = 1) -> OutboundCall:
    return OutboundCall(SEND, json={**envelope, "message": message}, headers=AUTH, describes=describes)


# -- configuration ---------------------------------------------------------------------------------
def test_facebook_from_config_reads_the_three_credentials(session: requests.Session) -> None:
    connector = FacebookConnector.from_config(fb.config(API + "/"), session, fb.ENVIRON)
    assert connector.api_url == API
    assert connector.render([{"text": "hi"}], {"recipient_id": PSID}) == [call({"text": "hi"})]
    assert connector.subscribe(subscription("subscribe", VERIFY, "1158201444")).status == 200


@pytest.mark.parametrize("variable", sorted(fb.ENVIRON))
def test_facebook_from_config_names_a_missing_variable(session: requests.Session, variable: str) -> None:
    environ = {name: value for name, value in fb.ENVIRON.items() if name != variable}
    with pytest.raises(MissingCredential, match=variable):
        FacebookConnector.from_config(FacebookConfig(), session, environ)


# -- the subscription handshake --------------------------------------------------------------------
def subscription(mode: str | None, token: str | None, challenge: str | None) -> WebhookRequest:
    query = {
        name: value
        for name, value in (("hub.mode", mode), ("hub.verify_token", token), ("hub.challenge", challenge))
        if value is not None
    }
    return WebhookRequest("GET", URL, {}, query, b"")


def test_facebook_subscribe_echoes_the_challenge(connector: FacebookConnector) -> None:
    assert connector.subscribe(subscription("subscribe", VERIFY, "1158201444")) == Answer(
        200, "1158201444", "text/plain"
    )


def test_facebook_subscribe_refuses_another_verify_token(connector: FacebookConnector) -> None:
    answer = connector.subscribe(subscription("subscribe", VERIFY + "x", "1158201444"))
    assert answer.status == 403
    assert "1158201444" not in answer.body


@pytest.mark.parametrize(
    ("mode", "token", "challenge"),
    [
        (None, VERIFY, "1158201444"),
        ("subscribe", None, "1158201444"),
        ("subscribe", VERIFY, None),
        ("subscribe", VERIFY, ""),
        ("unsubscribe", VERIFY, "1158201444"),
    ],
)
def test_facebook_subscribe_wants_every_parameter(
    connector: FacebookConnector, mode: str | None, token: str | None, challenge: str | None
) -> None:
    assert connector.subscribe(subscription(mode, token, challenge)).status == 400


# -- verification ----------------------------------------------------------------------------------
def test_facebook_verify_accepts_the_app_secrets_signature(connector: FacebookConnector) -> None:
    connector.verify(webhook(event(message={"mid": "m_1", "text": "hi"})), NOW)


def test_facebook_verify_accepts_upper_case_hex(connector: FacebookConnector) -> None:
    request = webhook(event(message={"mid": "m_1", "text": "hi"}))
    headers = {**request.headers, "x-hub-signature-256": request.headers["x-hub-signature-256"].upper()}
    headers["x-hub-signature-256"] = "sha256=" + headers["x-hub-signature-256"][len("sha256=") :]
    connector.verify(WebhookRequest("POST", URL, headers, {}, request.body), NOW)


def test_facebook_verify_ignores_the_clock(connector: FacebookConnector) -> None:
    # Meta signs no timestamp: a delivery retried hours later is still authentic.
    connector.verify(webhook(event(message={"mid": "m_1", "text": "hi"})), NOW + 86_400)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_facebook_verify_refuses_a_missing_signature_with_401(
    connector: FacebookConnector, header: str | None
) -> None:
    body = b'{"object":"page","entry":[]}'
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["x-hub-signature-256"] = header
    with pytest.raises(Rejected) as refused:
        connector.verify(WebhookRequest("POST", URL, headers, {}, body), NOW)
    assert refused.value.status == 401
    assert "X-Hub-Signature-256" in refused.value.reason


@pytest.mark.parametrize(
    "header",
    [
        "sha1=" + "a" * 40,
        "a" * 64,
        "sha256:" + "a" * 64,
        "sha256=" + "a" * 63,
        "sha256=" + "g" * 64,
        "SHA256=" + "a" * 64,
    ],
)
def test_facebook_verify_refuses_a_malformed_signature_with_403(
    connector: FacebookConnector, header: str
) -> None:
    body = b'{"object":"page","entry":[]}'
    with pytest.raises(Rejected) as refused:
        connector.verify(WebhookRequest("POST", URL, {"x-hub-signature-256": header}, {}, body), NOW)
    assert refused.value.status == 403


def test_facebook_verify_refuses_another_apps_signature_with_403(connector: FacebookConnector) -> None:
    body = json.dumps({"object": "page", "entry": [], "secret": "card 4242"}).encode()
    with pytest.raises(Rejected) as refused:
        connector.verify(WebhookRequest("POST", URL, signed(body, "another app's secret"), {}, body), NOW)
    assert refused.value.status == 403
    assert "App Secret" in refused.value.reason
    assert "4242" not in refused.value.reason


def test_facebook_verify_refuses_a_tampered_body_with_403(connector: FacebookConnector) -> None:
    request = webhook(event(message={"mid": "m_1", "text": "refund 10 EUR"}))
    tampered = request.body.replace(b"10 EUR", b"99 EUR")
    with pytest.raises(Rejected) as refused:
        connector.verify(WebhookRequest("POST", URL, request.headers, {}, tampered), NOW)
    assert refused.value.status == 403
    assert "EUR" not in refused.value.reason


# -- customer messages -----------------------------------------------------------------------------
MID = "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"


def test_facebook_parse_reads_a_text_message(connector: FacebookConnector) -> None:
    request = webhook(
        event(
            message={
                "mid": MID,
                "text": "Where is my order?",
            }
        )
    )
    assert parsed(connector, request) == [
        Inbound(
            MID,
            PSID,
            "Where is my order?",
            FROM_CUSTOMER,
            {"page_id": fb.PAGE_ID},
        )
    ]


def test_facebook_parse_reads_a_quick_reply_as_its_payload(connector: FacebookConnector) -> None:
    request = webhook(
        event(message={"mid": "m_2", "text": "Track order", "quick_reply": {"payload": "/track_order"}})
    )
    assert parsed(connector, request) == [
        Inbound(
            "m_2",
            PSID,
            "/track_order",
            FROM_CUSTOMER,
            {"page_id": fb.PAGE_ID, "button": {"kind": "quick_reply", "title": "Track order"}},
        )
    ]


def test_facebook_parse_reads_a_postback_as_its_payload(connector: FacebookConnector) -> None:
    request = webhook(
        event(
            postback={
                "mid": "m_3",
                "title": "Talk to a person",
                "payload": '/handoff{"queue": "billing"}',
            }
        )
    )
    assert parsed(connector, request) == [
        Inbound(
            "m_3",
            PSID,
            '/handoff{"queue": "billing"}',
            FROM_CUSTOMER,
            {"page_id": fb.PAGE_ID, "button": {"kind": "postback", "title": "Talk to a person"}},
        )
    ]


def test_facebook_parse_names_an_old_postback_without_mid_by_its_timestamp(
    connector: FacebookConnector,
) -> None:
    request = webhook(event(postback={"title": "Get Started", "payload": "/greet"}))
    (first,) = parsed(connector, request)
    (again,) = parsed(connector, request)
    assert first.message_id == again.message_id == f"postback:{PSID}:1718000000100"
    assert first.text == "/greet"


def test_facebook_parse_reads_a_postback_without_payload_as_its_title(connector: FacebookConnector) -> None:
    (inbound,) = parsed(connector, webhook(event(postback={"mid": "m_4", "title": "Yes"})))
    assert inbound.text == "Yes"


def test_facebook_parse_keeps_what_a_reply_answers(connector: FacebookConnector) -> None:
    request = webhook(event(message={"mid": "m_5", "text": "this one", "reply_to": {"mid": "m_1"}}))
    (inbound,) = parsed(connector, request)
    assert inbound.metadata == {"page_id": fb.PAGE_ID, "reply_to": "m_1"}


IMAGE_URL = "https://scontent.xx.fbcdn.net/v/t1.15752-9/448123_n.jpg?_nc_cat=1&oh=00_AfB"
FILE_URL = "https://cdn.fbsbx.com/v/t59.2708-21/44861234_n.pdf/invoice%202024.pdf?_nc_cat=104&oh=00_Af"


@pytest.mark.parametrize(
    ("attachment", "text", "details"),
    [
        (
            {"type": "image", "payload": {"url": IMAGE_URL}},
            "[image]",
            {"type": "image", "url": IMAGE_URL},
        ),
        (
            {"type": "video", "payload": {"url": "https://video.xx.fbcdn.net/v/t42.3356-2/1_n.mp4"}},
            "[video]",
            {"type": "video", "url": "https://video.xx.fbcdn.net/v/t42.3356-2/1_n.mp4"},
        ),
        (
            {
                "type": "audio",
                "payload": {"url": "https://cdn.fbsbx.com/v/t59.3654-21/1_n.mp4/audioclip.mp4"},
            },
            "[audio]",
            {"type": "audio", "url": "https://cdn.fbsbx.com/v/t59.3654-21/1_n.mp4/audioclip.mp4"},
        ),
        (
            {"type": "file", "payload": {"url": FILE_URL}},
            "[file invoice 2024.pdf]",
            {"type": "file", "url": FILE_URL, "name": "invoice 2024.pdf"},
        ),
        (
            {"type": "file", "payload": {"url": "https://cdn.fbsbx.com/v/download"}},
            "[file]",
            {"type": "file", "url": "https://cdn.fbsbx.com/v/download"},
        ),
        (
            {
                "type": "location",
                "title": "Alice's Location",
                "url": "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.bing.com%2Fmaps",
                "payload": {"coordinates": {"lat": 51.5074, "long": -0.1278}},
            },
            "[location 51.5074,-0.1278]",
            {
                "type": "location",
                "url": "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.bing.com%2Fmaps",
                "latitude": 51.5074,
                "longitude": -0.1278,
            },
        ),
        (
            {"type": "location", "payload": {}},
            "[location]",
            {"type": "location"},
        ),
        (
            {
                "type": "fallback",
                "title": "Order tracking",
                "URL": "https://shop.example.com/track",
                "payload": None,
            },
            "[link] Order tracking",
            {"type": "fallback", "url": "https://shop.example.com/track", "title": "Order tracking"},
        ),
        (
            {
                "type": "ig_reel",
                "payload": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"},
            },
            "[ig_reel]",
            {"type": "ig_reel", "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"},
        ),
    ],
)
def test_facebook_parse_describes_an_attachment(
    connector: FacebookConnector, attachment: dict[str, Any], text: str, details: dict[str, Any]
) -> None:
    (inbound,) = parsed(connector, webhook(event(message={"mid": "m_6", "attachments": [attachment]})))
    assert inbound.text == text
    assert inbound.metadata == {"page_id": fb.PAGE_ID, "attachments": [details]}
    assert inbound.address == FROM_CUSTOMER


def test_facebook_parse_describes_a_sticker(connector: FacebookConnector) -> None:
    sticker = "https://scontent.xx.fbcdn.net/v/t39.1997-6/851557_369239266556155_759568595_n.png"
    message = {
        "mid": "m_7",
        "attachments": [{"type": "image", "payload": {"url": sticker, "sticker_id": 369239263222822}}],
        "sticker_id": 369239263222822,
    }
    (inbound,) = parsed(connector, webhook(event(message=message)))
    assert inbound.text == "[sticker]"
    assert inbound.metadata["attachments"] == [
        {"type": "sticker", "url": sticker, "sticker_id": "369239263222822"}
    ]


def test_facebook_parse_describes_several_attachments(connector: FacebookConnector) -> None:
    message = {
        "mid": "m_8",
        "attachments": [
            {"type": "image", "payload": {"url": IMAGE_URL}},
            {"type": "image", "payload": {"url": IMAGE_URL + "2"}},
        ],
    }
    (inbound,) = parsed(connector, webhook(event(message=message)))
    assert inbound.text == "[image] [image]"
    assert [a["url"] for a in inbound.metadata["attachments"]] == [IMAGE_URL, IMAGE_URL + "2"]


def test_facebook_parse_reads_a_shared_links_text(connector: FacebookConnector) -> None:
    message = {
        "mid": "m_9",
        "text": "https://shop.example.com/track",
        "attachments": [
            {
                "type": "fallback",
                "title": "Tracking",
                "URL": "https://shop.example.com/track",
                "payload": None,
            }
        ],
    }
    (inbound,) = parsed(connector, webhook(event(message=message)))
    assert inbound.text == "https://shop.example.com/track"
    assert inbound.metadata["attachments"][0]["type"] == "fallback"


@pytest.mark.parametrize(
    "ignored",
    [
        event(delivery={"mids": ["m_1"], "watermark": 1718000000000}),
        event(read={"watermark": 1718000000000}),
        event(reaction={"reaction": "love", "emoji": "\u2764", "action": "react", "mid": "m_1"}),
        event(optin={"type": "notification_messages", "payload": "x", "notification_messages_token": "t"}),
        event(referral={"ref": "summer", "source": "SHORTLINK", "type": "OPEN_THREAD"}),
        event(message_edit={"mid": "m_1", "text": "edited", "num_edit": 1}),
        {
            "sender": {"id": fb.PAGE_ID},
            "recipient": {"id": PSID},
            "timestamp": 1718000000100,
            "message": {"is_echo": True, "app_id": 1517776481860111, "mid": "m_echo", "text": "Hello!"},
        },
        event(message={"is_echo": True, "app_id": 1517776481860111, "mid": "m_echo2", "text": "Hello!"}),
        {
            "sender": {"id": fb.PAGE_ID},
            "recipient": {"id": PSID},
            "timestamp": 1718000000100,
            "message": {"mid": "m_page", "text": "typed in the Page inbox"},
        },
        event(message={"mid": "m_empty"}),
    ],
)
def test_facebook_parse_ignores_what_is_not_a_customer_message(
    connector: FacebookConnector, ignored: dict[str, Any]
) -> None:
    assert parsed(connector, webhook(ignored)) == []


def test_facebook_parse_ignores_standby_events(connector: FacebookConnector) -> None:
    payload = {
        "object": "page",
        "entry": [{"id": fb.PAGE_ID, "time": 1, "standby": [event(message={"mid": "m_1", "text": "hi"})]}],
    }
    assert parsed(connector, raw(payload)) == []


def test_facebook_parse_reads_every_entry_and_event(connector: FacebookConnector) -> None:
    payload = {
        "object": "page",
        "entry": [
            {
                "id": fb.PAGE_ID,
                "time": 1718000000200,
                "messaging": [
                    event(message={"mid": "m_a", "text": "one"}),
                    event(read={"watermark": 1718000000000}),
                    event(message={"mid": "m_b", "text": "two"}),
                ],
            },
            {
                "id": fb.PAGE_ID,
                "time": 1718000000300,
                "messaging": [
                    {
                        "sender": {"id": "5550001"},
                        "recipient": {"id": fb.PAGE_ID},
                        "timestamp": 1718000000250,
                        "postback": {"mid": "m_c", "title": "Yes", "payload": "/affirm"},
                    }
                ],
            },
        ],
    }
    assert [(i.message_id, i.sender_id, i.text) for i in parsed(connector, raw(payload))] == [
        ("m_a", PSID, "one"),
        ("m_b", PSID, "two"),
        ("m_c", "5550001", "/affirm"),
    ]


def test_facebook_parse_gives_a_retried_delivery_the_same_message_id(connector: FacebookConnector) -> None:
    first = fb.customer_text(PSID, "hello", "m_retry", now=NOW, webhook_url=URL, api_url=API)
    retried = fb.customer_text(PSID, "hello", "m_retry", now=NOW + 20, webhook_url=URL, api_url=API)
    assert [i.message_id for i in parsed(connector, request_of(first))] == ["m_retry"]
    assert [i.message_id for i in parsed(connector, request_of(retried))] == ["m_retry"]


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "page",
        {"entry": []},
        {"object": "instagram", "entry": []},
        {"object": "whatsapp_business_account", "entry": []},
        {"object": "page"},
        {"object": "page", "entry": {"id": "1"}},
        {"object": "page", "entry": ["x"]},
        {"object": "page", "entry": [{"id": "1", "messaging": {}}]},
        {"object": "page", "entry": [{"id": "1", "messaging": ["x"]}]},
        {"object": "page", "entry": [{"id": "1", "messaging": [{"message": {"mid": "m", "text": "hi"}}]}]},
        {"object": "page", "entry": [{"id": "1", "messaging": [event(message={"text": "no mid"})]}]},
        {"object": "page", "entry": [{"id": "1", "messaging": [event(message="hi")]}]},
        {
            "object": "page",
            "entry": [{"id": "1", "messaging": [event(message={"mid": "m", "attachments": {}})]}],
        },
        {
            "object": "page",
            "entry": [{"id": "1", "messaging": [event(message={"mid": "m", "attachments": ["x"]})]}],
        },
        {
            "object": "page",
            "entry": [{"id": "1", "messaging": [{**event(postback={"payload": "/x"}), "timestamp": None}]}],
        },
    ],
)
def test_facebook_parse_refuses_what_meta_does_not_send(connector: FacebookConnector, payload: Any) -> None:
    with pytest.raises(Malformed):
        parsed(connector, raw(payload))


def test_facebook_parse_refuses_a_body_that_is_not_json(connector: FacebookConnector) -> None:
    body = b"object=page"
    with pytest.raises(Malformed):
        parsed(connector, WebhookRequest("POST", URL, signed(body), {}, body))


# -- rendering -------------------------------------------------------------------------------------
ADDRESS = {"recipient_id": PSID}


def test_facebook_render_sends_a_text(connector: FacebookConnector) -> None:
    assert connector.render([{"recipient_id": PSID, "text": "Your order ships today."}], ADDRESS) == [
        OutboundCall(
            "https://graph.facebook.com/v19.0/me/messages",
            json={
                "recipient": {"id": PSID},
                "messaging_type": "RESPONSE",
                "message": {"text": "Your order ships today."},
            },
            headers={"Authorization": f"Bearer {TOKEN}"},
            describes=1,
        )
    ]


def test_facebook_render_builds_urls_without_a_double_slash(session: requests.Session) -> None:
    connector = FacebookConnector(TOKEN, SECRET, VERIFY, api_url=API + "/", session=session)
    assert [c.url for c in connector.render([{"text": "hi"}], ADDRESS)] == [SEND]


def test_facebook_render_splits_a_long_text(connector: FacebookConnector) -> None:
    first, second = "a" * 1500 + ".", "b" * 800 + "."
    assert connector.render([{"text": f"{first} {second}"}], ADDRESS) == [
        call({"text": first}, describes=0),
        call({"text": second}),
    ]


def test_facebook_render_shows_up_to_three_buttons_as_a_button_template(connector: FacebookConnector) -> None:
    message = {
        "text": "Which order?",
        "buttons": [
            {"title": "Order 1042 (blue lamp, shipped)", "payload": '/choose{"order": "1042"}'},
            {"title": "Order 1043", "payload": '/choose{"order": "1043"}'},
        ],
    }
    assert connector.render([message], ADDRESS) == [
        call(
            {
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "button",
                        "text": "Which order?",
                        "buttons": [
                            {
                                "type": "postback",
                                "title": "Order 1042 (blue la…",
                                "payload": '/choose{"order": "1042"}',
                            },
                            {
                                "type": "postback",
                                "title": "Order 1043",
                                "payload": '/choose{"order": "1043"}',
                            },
                        ],
                    },
                }
            }
        )
    ]


def test_facebook_render_sends_a_long_text_before_the_button_template(connector: FacebookConnector) -> None:
    lead, last = "a" * 1990 + ".", "b" * 600 + "."
    tail = "c" * 500 + "."
    message = {"text": f"{lead} {last} {tail}", "buttons": [{"title": "OK", "payload": "/affirm"}]}
    calls = connector.render([message], ADDRESS)
    assert calls == [
        call({"text": lead}, describes=0),
        call({"text": last}, describes=0),
        call(
            {
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "button",
                        "text": tail,
                        "buttons": [{"type": "postback", "title": "OK", "payload": "/affirm"}],
                    },
                }
            }
        ),
    ]


def test_facebook_render_shows_four_to_thirteen_buttons_as_quick_replies(
    connector: FacebookConnector,
) -> None:
    buttons = [
        {"title": f"Size {size}", "payload": f'/size{{"size": "{size}"}}'} for size in ("S", "M", "L", "XL")
    ]
    assert connector.render([{"text": "Which size?", "buttons": buttons}], ADDRESS) == [
        call(
            {
                "text": "Which size?",
                "quick_replies": [
                    {"content_type": "text", "title": "Size S", "payload": '/size{"size": "S"}'},
                    {"content_type": "text", "title": "Size M", "payload": '/size{"size": "M"}'},
                    {"content_type": "text", "title": "Size L", "payload": '/size{"size": "L"}'},
                    {"content_type": "text", "title": "Size XL", "payload": '/size{"size": "XL"}'},
                ],
            }
        )
    ]


def test_facebook_render_shows_quick_replies_as_quick_replies(connector: FacebookConnector) -> None:
    message = {
        "text": "Did that help?",
        "quick_replies": [
            {"title": "Yes", "payload": "/affirm"},
            {"title": "", "payload": "/deny"},
        ],
    }
    assert connector.render([message], ADDRESS) == [
        call(
            {
                "text": "Did that help?",
                "quick_replies": [
                    {"content_type": "text", "title": "Yes", "payload": "/affirm"},
                    {"content_type": "text", "title": "/deny", "payload": "/deny"},
                ],
            }
        )
    ]


def test_facebook_render_puts_quick_replies_on_the_last_piece(connector: FacebookConnector) -> None:
    first, second = "a" * 1999 + ".", "Pick one."
    message = {"text": f"{first} {second}", "quick_replies": [{"title": "Yes", "payload": "/affirm"}]}
    assert connector.render([message], ADDRESS) == [
        call({"text": first}, describes=0),
        call(
            {
                "text": second,
                "quick_replies": [{"content_type": "text", "title": "Yes", "payload": "/affirm"}],
            }
        ),
    ]


def test_facebook_render_gives_buttons_without_text_a_placeholder(connector: FacebookConnector) -> None:
    message = {"buttons": [{"title": "Yes", "payload": "/affirm"}]}
    (only,) = connector.render([message], ADDRESS)
    assert only.json is not None
    assert only.json["message"]["attachment"]["payload"]["text"] == "…"


def test_facebook_render_numbers_more_than_thirteen_buttons(connector: FacebookConnector) -> None:
    buttons = [{"title": f"Store {n}", "payload": f"/store{n}"} for n in range(1, 15)]
    assert connector.numbered({"buttons": buttons})
    options = "\n".join(f"{n}. Store {n}" for n in range(1, 15))
    assert connector.render([{"text": "Which store?", "buttons": buttons}], ADDRESS) == [
        call({"text": f"Which store?\n\n{options}"})
    ]


def test_facebook_render_numbers_buttons_with_a_payload_too_long(connector: FacebookConnector) -> None:
    buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "Long", "payload": "x" * 1001}]
    assert connector.render([{"text": "Sure?", "buttons": buttons}], ADDRESS) == [
        call({"text": "Sure?\n\n1. Yes\n2. Long"})
    ]


def test_facebook_render_sends_an_image(connector: FacebookConnector) -> None:
    message = {"text": "Here is the lamp:", "image": "https://shop.example.com/lamp.jpg"}
    assert connector.render([message], ADDRESS) == [
        call({"text": "Here is the lamp:"}, describes=0),
        call(
            {
                "attachment": {
                    "type": "image",
                    "payload": {"url": "https://shop.example.com/lamp.jpg", "is_reusable": True},
                }
            }
        ),
    ]


def test_facebook_render_passes_custom_through_as_the_message(connector: FacebookConnector) -> None:
    custom = {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "generic",
                "elements": [
                    {"title": "Blue lamp", "subtitle": "29 EUR", "image_url": "https://x.example/l.jpg"}
                ],
            },
        }
    }
    assert connector.render([{"custom": custom}], ADDRESS) == [call(custom)]


def test_facebook_render_sends_text_then_custom(connector: FacebookConnector) -> None:
    custom = {"text": "custom", "metadata": "campaign-7"}
    assert connector.render([{"text": "plain", "custom": custom}], ADDRESS) == [
        call({"text": "plain"}, describes=0),
        call(custom),
    ]


def _later(connector: FacebookConnector, hours_ago: float | None) -> Mapping[str, Any]:
    """The address of a message sent after the customer's turn, which was `hours_ago` (None:
    when is unknown)."""
    wrote = {} if hours_ago is None else {"customer_wrote_at": time.time() - hours_ago * 3600}
    return connector.later_address({"recipient_id": PSID, **wrote})


@pytest.mark.parametrize(
    ("hours_ago", "later", "agent", "tagged"),
    [
        pytest.param(0.1, False, None, False, id="the-bot-answers-the-turn"),
        pytest.param(0.1, True, "Alice", False, id="an-agent-within-24-hours"),
        pytest.param(23.5, True, None, False, id="a-notice-within-24-hours"),
        pytest.param(25, True, "Alice", True, id="an-agent-after-24-hours"),
        pytest.param(25, True, None, True, id="a-notice-after-24-hours"),
        pytest.param(None, True, "Alice", True, id="an-agent-when-unknown"),
        pytest.param(None, True, None, False, id="a-notice-when-unknown"),
    ],
)
def test_facebook_render_tags_what_is_sent_outside_the_24_hour_window(
    connector: FacebookConnector, hours_ago: float | None, later: bool, agent: str | None, tagged: bool
) -> None:
    address = _later(connector, hours_ago) if later else {**ADDRESS, "customer_wrote_at": time.time()}
    (only,) = connector.render([{"text": "Hello again", "agent": agent}], address)
    envelope = AS_AGENT if tagged else {"recipient": {"id": PSID}, "messaging_type": "RESPONSE"}
    assert {k: v for k, v in only.json.items() if k != "message"} == envelope


def test_facebook_render_tags_an_agents_message_and_names_the_agent(connector: FacebookConnector) -> None:
    message = {"text": "I have refunded the order.", "agent": "Alice", "custom": {"text": "as is"}}
    assert connector.render([message], _later(connector, 30)) == [
        call({"text": "Alice: I have refunded the order."}, AS_AGENT, describes=0),
        call({"text": "as is"}, AS_AGENT),
    ]


def test_facebook_render_names_the_agent_above_buttons(connector: FacebookConnector) -> None:
    message = {
        "text": "Shall I close it?",
        "agent": "Alice",
        "buttons": [{"title": "Yes", "payload": "/affirm"}],
    }
    (only,) = connector.render([message], _later(connector, 30))
    assert only.json == {
        **AS_AGENT,
        "message": {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "button",
                    "text": "Alice: Shall I close it?",
                    "buttons": [{"type": "postback", "title": "Yes", "payload": "/affirm"}],
                },
            }
        },
    }


@pytest.mark.parametrize(
    ("attachment", "message"),
    [
        (
            {"type": "video", "payload": {"url": "https://x.example/v.mp4"}},
            {"attachment": {"type": "video", "payload": {"url": "https://x.example/v.mp4"}}},
        ),
        (
            "https://x.example/manual.pdf",
            {
                "attachment": {
                    "type": "file",
                    "payload": {"url": "https://x.example/manual.pdf", "is_reusable": True},
                }
            },
        ),
        ("manual.pdf", {"text": "Attachment: manual.pdf"}),
    ],
)
def test_facebook_render_sends_an_attachment(
    connector: FacebookConnector, attachment: Any, message: dict[str, Any]
) -> None:
    assert connector.render([{"attachment": attachment}], ADDRESS) == [call(message)]


def test_facebook_render_shows_elements_as_a_generic_template(connector: FacebookConnector) -> None:
    elements = [
        {
            "title": "Blue lamp",
            "buttons": [
                {"title": "Buy", "payload": "/buy"},
                {"type": "web_url", "title": "See", "url": "https://x.example"},
            ],
        },
        {"title": "Red lamp"},
    ]
    assert connector.render([{"elements": elements}], ADDRESS) == [
        call(
            {
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "generic",
                        "elements": [
                            {
                                "title": "Blue lamp",
                                "buttons": [
                                    {"type": "postback", "title": "Buy", "payload": "/buy"},
                                    {"type": "web_url", "title": "See", "url": "https://x.example"},
                                ],
                            },
                            {"title": "Red lamp"},
                        ],
                    },
                }
            }
        )
    ]


def test_facebook_render_renders_each_message_in_order(connector: FacebookConnector) -> None:
    calls = connector.render([{"text": "one"}, {}, {"text": "two"}], ADDRESS)
    assert calls == [call({"text": "one"}), call({"text": "two"})]


def test_facebook_render_needs_a_recipient(connector: FacebookConnector) -> None:
    with pytest.raises(ValueError, match="recipient_id"):
        connector.render([{"text": "hi"}], {"chat_id": "1"})


# -- against a platform ----------------------------------------------------------------------------
def test_facebook_calls_reach_the_send_api_as_rendered(
    platform: FakePlatform, session: requests.Session
) -> None:
    connector = FacebookConnector.from_config(fb.config(platform.url), session, fb.ENVIRON)
    (inbound,) = parsed(
        connector,
        request_of(
            fb.customer_text(
                PSID, "Où est ma commande ?", "m_10", now=NOW, webhook_url=URL, api_url=platform.url
            )
        ),
    )
    assert inbound.text == "Où est ma commande ?"
    messages: list[dict[str, Any]] = [
        {
            "recipient_id": PSID,
            "text": "Which order?",
            "buttons": [{"title": "Order 1042", "payload": "/o1042"}],
        },
        {"recipient_id": PSID, "text": "Écrivez-moi.", "agent": "Alice"},
    ]
    # The agent writes after the customer's turn, and (NOW being in 2024) after Messenger's 24 hours.
    calls = [
        *connector.render(messages[:1], inbound.address),
        *connector.render(messages[1:], connector.later_address(inbound.address)),
    ]
    for rendered in calls:
        with session.request(
            rendered.method,
            rendered.url,
            json=rendered.json,
            data=rendered.form,
            headers=rendered.headers,
            auth=rendered.auth,
        ) as response:
            assert connector.failure(response) is None
    template, agent = platform.wait_for(2, path="/me/messages")
    for captured in (template, agent):
        assert captured.method == "POST"
        assert captured.path == "/me/messages"
        assert captured.query == {}
        assert captured.headers["authorization"] == f"Bearer {TOKEN}"
        assert captured.headers["content-type"] == "application/json"
    assert template.json() == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "button",
                    "text": "Which order?",
                    "buttons": [{"type": "postback", "title": "Order 1042", "payload": "/o1042"}],
                },
            }
        },
    }
    assert agent.json() == {
        "recipient": {"id": PSID},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "Alice: Écrivez-moi."},
    }
    assert fb.sent_texts(template) == ["Which order?"]
    assert fb.sent_buttons(template) == [("Order 1042", "/o1042")]
    assert fb.sent_texts(agent) == ["Alice: Écrivez-moi."]
    assert fb.sent_buttons(agent) == []


def test_facebook_failure_reports_a_graph_api_error(
    platform: FakePlatform, session: requests.Session
) -> None:
    connector = FacebookConnector(TOKEN, SECRET, VERIFY, api_url=platform.url, session=session)
    error = {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}
    platform.script(400, error, path="/me/messages")
    (rendered,) = connector.render([{"text": "hi"}], ADDRESS)
    with session.post(rendered.url, json=rendered.json, headers=rendered.headers) as response:
        reason = connector.failure(response)
    assert reason is not None
    assert reason.startswith("HTTP 400")
    assert "Invalid OAuth access token" in reason


# -- the end-to-end helpers ------------------------------------------------------------------------
def test_facebook_platform_click_is_a_signed_postback(session: requests.Session) -> None:
    connector = FacebookConnector.from_config(fb.config(API), session, fb.ENVIRON)
    delivery = fb.customer_click(PSID, "Order 1042", "/o1042", "m_11", now=NOW, webhook_url=URL, api_url=API)
    assert delivery.method == "POST"
    assert delivery.path_and_query == ""
    assert delivery.headers["Content-Type"] == "application/json"
    assert parsed(connector, request_of(delivery)) == [
        Inbound(
            "m_11",
            PSID,
            "/o1042",
            {"recipient_id": PSID, "customer_wrote_at": NOW},
            {"page_id": fb.PAGE_ID, "button": {"kind": "postback", "title": "Order 1042"}},
        )
    ]
    assert fb.WEBHOOK == "/webhooks/facebook/webhook"


def test_facebook_platform_reads_quick_replies_and_images() -> None:
    def captured(message: dict[str, Any], path: str = "/v19.0/me/messages") -> Captured:
        body = json.dumps({**TO, "message": message}).encode()
        return Captured("POST", path, {}, {}, body)

    quick = captured(
        {"text": "Size?", "quick_replies": [{"content_type": "text", "title": "S", "payload": "/s"}]}
    )
    assert fb.sent_texts(quick) == ["Size?"]
    assert fb.sent_buttons(quick) == [("S", "/s")]
    image = captured({"attachment": {"type": "image", "payload": {"url": "https://x.example/a.jpg"}}})
    assert fb.sent_texts(image) == []
    assert fb.sent_buttons(image) == []
    assert fb.sent_texts(captured({"text": "hi"}, "/v19.0/me/other")) == []
