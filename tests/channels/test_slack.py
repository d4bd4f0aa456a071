"""The Slack connector: signature checks, the url_verification handshake, Events API and
Interactivity payloads (written after Slack's documented examples), and chat.postMessage calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from engine.channels.base import Answer, Inbound, Malformed, OutboundCall, Rejected, WebhookRequest
from engine.channels.settings import MissingCredential, SlackConfig
from engine.channels.slack import SlackConnector
from tests.channels.fake_platform import Delivery, FakePlatform
from tests.channels.slack_platform import (
    APP,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER,
    ENVIRON,
    TEAM,
    WEBHOOK,
    block_actions,
    config,
    customer_click,
    customer_text,
    dm_event,
    event_callback,
    form_delivery,
    json_delivery,
    sent_buttons,
    sent_texts,
    sign,
)

NOW = 1_700_000_000.0
API = "https://slack.test/api"
WEBHOOK_URL = f"http://testserver{WEBHOOK}"
POST_MESSAGE = f"{API}/chat.postMessage"
HEADERS = {"Authorization": f"Bearer {BOT_TOKEN}", "Content-Type": "application/json; charset=utf-8"}
CUSTOMER = "U0CUSTOMER1"
DM = f"D{CUSTOMER}"
TS = "1700000000.000100"


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


@pytest.fixture
def slack(session: requests.Session) -> SlackConnector:
    return SlackConnector.from_config(config(API), session, ENVIRON)


def request_of(delivery: Delivery) -> WebhookRequest:
    headers = {name.lower(): value for name, value in delivery.headers.items()}
    return WebhookRequest(delivery.method, WEBHOOK_URL, headers, {}, delivery.body)


def received(slack: SlackConnector, delivery: Delivery) -> list[Inbound]:
    """What the hub gets from a delivery: verified first, then parsed."""
    request = request_of(delivery)
    slack.verify(request, NOW)
    return slack.parse(request)


def event_delivery(event: dict[str, Any], event_id: str = "Ev0PARLEY01") -> Delivery:
    return json_delivery(event_callback(event, event_id, now=NOW), now=NOW)


def with_headers(delivery: Delivery, changes: dict[str, str | None]) -> Delivery:
    """`delivery` with headers replaced (a value) or removed (None)."""
    headers = {**delivery.headers, **changes}
    return Delivery(delivery.body, {name: value for name, value in headers.items() if value is not None})


def text_delivery(text: str = "hello", message_id: str = "Ev0PARLEY01") -> Delivery:
    return customer_text(CUSTOMER, text, message_id, now=NOW, webhook_url=WEBHOOK_URL, api_url=API)


# -- configuration -------------------------------------------------------------------------------
def test_slack_from_config_reads_both_credentials(session: requests.Session) -> None:
    environ = {"MY_TOKEN": BOT_TOKEN, "MY_SECRET": ENVIRON["PARLEY_SLACK_SIGNING_SECRET"]}
    settings = SlackConfig(
        api_url=API + "/",
        bot_token_variable="MY_TOKEN",
        signing_secret_variable="MY_SECRET",
        reply_in_thread=True,
    )
    slack = SlackConnector.from_config(settings, session, environ)
    assert slack.api_url == API
    assert slack.reply_in_thread is True
    slack.verify(request_of(text_delivery()), NOW)
    assert slack.render([{"text": "hi"}], {"channel": DM})[0].headers == HEADERS


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("PARLEY_SLACK_BOT_TOKEN", "Bot User OAuth Token"),
        ("PARLEY_SLACK_SIGNING_SECRET", "Signing Secret"),
    ],
)
def test_slack_from_config_names_a_missing_variable(
    session: requests.Session, missing: str, named: str
) -> None:
    environ = {k: v for k, v in ENVIRON.items() if k != missing}
    with pytest.raises(MissingCredential, match=missing) as raised:
        SlackConnector.from_config(config(API), session, environ)
    assert named in str(raised.value)


# -- verification --------------------------------------------------------------------------------
def test_slack_verify_accepts_a_signed_event_and_a_signed_click(slack: SlackConnector) -> None:
    slack.verify(request_of(text_delivery()), NOW)
    click = customer_click(CUSTOMER, "Yes", "/affirm", "t1", now=NOW, webhook_url=WEBHOOK_URL, api_url=API)
    slack.verify(request_of(click), NOW)


@pytest.mark.parametrize("skew", [-300, 300])
def test_slack_verify_accepts_the_edges_of_max_age(slack: SlackConnector, skew: int) -> None:
    slack.verify(request_of(text_delivery()), NOW + skew)


@pytest.mark.parametrize(
    ("missing", "status"),
    [("X-Slack-Signature", 401), ("X-Slack-Request-Timestamp", 401)],
)
def test_slack_verify_rejects_a_missing_header(slack: SlackConnector, missing: str, status: int) -> None:
    delivery = with_headers(text_delivery(), {missing: None})
    with pytest.raises(Rejected) as raised:
        slack.verify(request_of(delivery), NOW)
    assert raised.value.status == status
    assert missing in raised.value.reason


@pytest.mark.parametrize("skew", [-301, 301, 86_400])
def test_slack_verify_rejects_a_stale_timestamp(slack: SlackConnector, skew: int) -> None:
    with pytest.raises(Rejected, match="stale") as raised:
        slack.verify(request_of(text_delivery()), NOW + skew)
    assert raised.value.status == 401


@pytest.mark.parametrize("stamp", ["", "soon", "1700000000.5", "-1700000000"])
def test_slack_verify_rejects_a_timestamp_that_is_not_unix_seconds(slack: SlackConnector, stamp: str) -> None:
    delivery = with_headers(text_delivery(), {"X-Slack-Request-Timestamp": stamp})
    with pytest.raises(Rejected) as raised:
        slack.verify(request_of(delivery), NOW)
    assert raised.value.status == 401


def test_slack_verify_refuses_a_wrong_signature(slack: SlackConnector) -> None:
    delivery = text_delivery()
    forged = sign(delivery.body, NOW, secret="not-the-signing-secret")
    with pytest.raises(Rejected, match="Signing Secret") as raised:
        slack.verify(
            request_of(with_headers(delivery, {"X-Slack-Signature": forged["X-Slack-Signature"]})), NOW
        )
    assert raised.value.status == 403


@pytest.mark.parametrize("signature", ["v0=", "v0=abc", "sha256=00", "v0=é" + "0" * 63])
def test_slack_verify_refuses_a_malformed_signature(slack: SlackConnector, signature: str) -> None:
    with pytest.raises(Rejected) as raised:
        slack.verify(request_of(with_headers(text_delivery(), {"X-Slack-Signature": signature})), NOW)
    assert raised.value.status == 403


def test_slack_verify_refuses_a_tampered_body(slack: SlackConnector) -> None:
    delivery = text_delivery("pay 10 GBP")
    tampered = Delivery(delivery.body.replace(b"10 GBP", b"99 GBP"), delivery.headers)
    with pytest.raises(Rejected) as raised:
        slack.verify(request_of(tampered), NOW)
    assert raised.value.status == 403
    assert "GBP" not in raised.value.reason


def test_slack_verify_refuses_a_timestamp_changed_after_signing(slack: SlackConnector) -> None:
    delivery = with_headers(text_delivery(), {"X-Slack-Request-Timestamp": str(int(NOW) + 1)})
    with pytest.raises(Rejected) as raised:
        slack.verify(request_of(delivery), NOW)
    assert raised.value.status == 403


def test_slack_verify_honours_max_age_seconds(session: requests.Session) -> None:
    strict = SlackConnector(
        BOT_TOKEN, ENVIRON["PARLEY_SLACK_SIGNING_SECRET"], api_url=API, session=session, max_age_seconds=10
    )
    strict.verify(request_of(text_delivery()), NOW + 10)
    with pytest.raises(Rejected, match="stale"):
        strict.verify(request_of(text_delivery()), NOW + 11)


def test_slack_connector_needs_its_credentials(session: requests.Session) -> None:
    with pytest.raises(ValueError, match="Bot User OAuth Token"):
        SlackConnector("", "secret", api_url=API, session=session)
    with pytest.raises(ValueError, match="Signing Secret"):
        SlackConnector(BOT_TOKEN, "", api_url=API, session=session)


# -- the url_verification handshake --------------------------------------------------------------
def test_slack_challenge_answers_url_verification(slack: SlackConnector) -> None:
    body = {
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    request = request_of(json_delivery(body, now=NOW))
    slack.verify(request, NOW)
    assert slack.challenge(request) == Answer(
        200, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "text/plain"
    )


def test_slack_challenge_is_none_for_everything_else(slack: SlackConnector) -> None:
    click = customer_click(CUSTOMER, "Yes", "/affirm", "t1", now=NOW, webhook_url=WEBHOOK_URL, api_url=API)
    assert slack.challenge(request_of(text_delivery())) is None
    assert slack.challenge(request_of(click)) is None
    assert slack.challenge(request_of(Delivery(b"not json", {"Content-Type": "application/json"}))) is None
    no_challenge = json_delivery({"type": "url_verification", "token": "x"}, now=NOW)
    assert slack.challenge(request_of(no_challenge)) is None
    with pytest.raises(Malformed, match="challenge"):
        slack.parse(request_of(no_challenge))


def test_slack_subscribe_refuses_get(slack: SlackConnector) -> None:
    request = WebhookRequest("GET", WEBHOOK_URL, {}, {}, b"")
    assert slack.subscribe(request).status == 405


# -- customer messages ---------------------------------------------------------------------------
def test_slack_parse_a_direct_message(slack: SlackConnector) -> None:
    inbound = received(slack, text_delivery("Where is my order?", "Ev0TEXT01"))
    ts = json.loads(text_delivery("x", "Ev0TEXT01").body)["event"]["ts"]
    assert inbound == [
        Inbound(
            message_id="Ev0TEXT01",
            sender_id=CUSTOMER,
            text="Where is my order?",
            address={"channel": DM, "ts": ts, "thread_ts": ts, "in_thread": False},
            metadata={"team": TEAM, "channel_type": "im"},
        )
    ]


def test_slack_a_retried_event_keeps_its_message_id(slack: SlackConnector) -> None:
    first = text_delivery("hello", "Ev0RETRY01")
    retry = json_delivery(
        json.loads(first.body),
        now=NOW + 60,
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    request = request_of(retry)
    slack.verify(request, NOW + 60)
    assert [m.message_id for m in received(slack, first)] == ["Ev0RETRY01"]
    assert slack.parse(request) == received(slack, first)


def test_slack_parse_a_reply_in_a_thread(slack: SlackConnector) -> None:
    event = {
        **dm_event(CUSTOMER, "still broken", "1700000050.000200"),
        "thread_ts": TS,
        "parent_user_id": BOT_USER,
    }
    [inbound] = received(slack, event_delivery(event))
    assert inbound.address == {"channel": DM, "ts": "1700000050.000200", "thread_ts": TS, "in_thread": True}


def test_slack_parse_an_app_mention_without_the_mention(slack: SlackConnector) -> None:
    event = {
        "type": "app_mention",
        "user": CUSTOMER,
        "text": f"<@{BOT_USER}> is it everything a river should be?",
        "ts": "1515449522.000016",
        "team": TEAM,
        "channel": "C0LAN2Q65",
        "event_ts": "1515449522.000016",
    }
    [inbound] = received(slack, event_delivery(event, "Ev0MENTION1"))
    assert inbound == Inbound(
        "Ev0MENTION1",
        CUSTOMER,
        "is it everything a river should be?",
        {
            "channel": "C0LAN2Q65",
            "ts": "1515449522.000016",
            "thread_ts": "1515449522.000016",
            "in_thread": False,
        },
        {"team": TEAM},
    )


def test_slack_app_mention_keeps_other_people_mentioned(slack: SlackConnector) -> None:
    event = {
        "type": "app_mention",
        "user": CUSTOMER,
        "text": f"ask <@U0OTHER> about it <@{BOT_USER}>",
        "ts": TS,
        "channel": "C0LAN2Q65",
        "event_ts": TS,
        "thread_ts": "1699999000.000001",
    }
    [inbound] = received(slack, event_delivery(event))
    assert inbound.text == "ask <@U0OTHER> about it"
    assert inbound.address["in_thread"] is True


def test_slack_app_mention_without_authorizations_drops_the_leading_mention(slack: SlackConnector) -> None:
    body = {
        "token": "XXYYZZ",
        "team_id": TEAM,
        "api_app_id": APP,
        "event": {
            "type": "app_mention",
            "user": CUSTOMER,
            "text": "<@U0LAN0Z89>   refund please",
            "ts": TS,
            "channel": "C0LAN2Q65",
            "event_ts": TS,
        },
        "type": "event_callback",
        "event_id": "Ev0OLD01",
        "event_time": int(NOW),
    }
    [inbound] = received(slack, json_delivery(body, now=NOW))
    assert inbound.text == "refund please"


def test_slack_parse_undoes_slacks_encoding(slack: SlackConnector) -> None:
    typed = (
        "see <https://shop.example.com/o/42|shop.example.com/o/42> or <https://x.example> "
        "mail <mailto:ann@example.com|ann@example.com> in <#C024BE7LR|general>: 1 &lt; 2 &amp;&amp; 3 &gt; 2"
    )
    [inbound] = received(slack, text_delivery(typed))
    assert inbound.text == (
        "see shop.example.com/o/42 or https://x.example mail ann@example.com in #general: 1 < 2 && 3 > 2"
    )


def file_share(files: list[dict[str, Any]], text: str = "") -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "file_share",
        "text": text,
        "files": files,
        "upload": False,
        "user": CUSTOMER,
        "display_as_bot": False,
        "ts": TS,
        "client_msg_id": "0d3f0e27-9cbd-4b1f-9a7e-0f1b7d1d2c3e",
        "channel": DM,
        "event_ts": TS,
        "channel_type": "im",
    }


def slack_file(file_id: str, name: str, mimetype: str, filetype: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": file_id,
        "created": 1700000000,
        "timestamp": 1700000000,
        "name": name,
        "title": name,
        "mimetype": mimetype,
        "filetype": filetype,
        "pretty_type": filetype.upper(),
        "user": CUSTOMER,
        "user_team": TEAM,
        "editable": False,
        "size": 183734,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": False,
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": f"https://files.slack.com/files-pri/{TEAM}-{file_id}/{name}",
        "url_private_download": f"https://files.slack.com/files-pri/{TEAM}-{file_id}/download/{name}",
        "permalink": f"https://parley-test.slack.com/files/{CUSTOMER}/{file_id}/{name}",
        "is_starred": False,
        "has_rich_preview": False,
        "file_access": "visible",
        **extra,
    }


def test_slack_parse_an_image_with_a_caption(slack: SlackConnector) -> None:
    photo = slack_file("F0PHOTO01", "lamp.jpg", "image/jpeg", "jpg")
    [inbound] = received(slack, event_delivery(file_share([photo], "my broken lamp")))
    assert inbound.text == "[image] my broken lamp"
    assert inbound.metadata == {
        "team": TEAM,
        "channel_type": "im",
        "attachments": [
            {
                "type": "image",
                "file_id": "F0PHOTO01",
                "name": "lamp.jpg",
                "mime_type": "image/jpeg",
                "filetype": "jpg",
                "url": f"https://files.slack.com/files-pri/{TEAM}-F0PHOTO01/lamp.jpg",
            }
        ],
    }


@pytest.mark.parametrize(
    ("file", "text", "kind"),
    [
        (slack_file("F0PDF01", "invoice.pdf", "application/pdf", "pdf"), "[file invoice.pdf]", "file"),
        (
            slack_file("F0AUD01", "audio_message.webm", "audio/webm", "webm", subtype="slack_audio"),
            "[audio]",
            "audio",
        ),
        (slack_file("F0VID01", "clip.mp4", "video/mp4", "mp4"), "[video]", "video"),
        ({"id": "F0GONE1", "mode": "tombstone"}, "[file]", "file"),
    ],
)
def test_slack_parse_a_shared_file(slack: SlackConnector, file: dict[str, Any], text: str, kind: str) -> None:
    [inbound] = received(slack, event_delivery(file_share([file])))
    assert inbound.text == text
    assert inbound.metadata["attachments"][0]["type"] == kind
    assert inbound.metadata["attachments"][0]["file_id"] == file["id"]


def test_slack_parse_several_files(slack: SlackConnector) -> None:
    files = [
        slack_file("F0PHOTO01", "front.png", "image/png", "png"),
        slack_file("F0PDF01", "receipt.pdf", "application/pdf", "pdf"),
    ]
    [inbound] = received(slack, event_delivery(file_share(files, "both attached")))
    assert inbound.text == "[image] [file receipt.pdf] both attached"
    assert [a["name"] for a in inbound.metadata["attachments"]] == ["front.png", "receipt.pdf"]


IGNORED_EVENTS: dict[str, dict[str, Any]] = {
    "the app's own message": {
        "bot_id": BOT_ID,
        "type": "message",
        "text": "Pick one",
        "user": BOT_USER,
        "ts": TS,
        "app_id": APP,
        "team": TEAM,
        "channel": DM,
        "event_ts": TS,
        "channel_type": "im",
    },
    "bot_message": {
        "type": "message",
        "subtype": "bot_message",
        "text": "Build 42 passed",
        "ts": TS,
        "username": "ci",
        "bot_id": "B0CI",
        "channel": DM,
        "event_ts": TS,
        "channel_type": "im",
    },
    "message_changed": {
        "type": "message",
        "subtype": "message_changed",
        "message": {
            "type": "message",
            "user": CUSTOMER,
            "text": "hello!",
            "ts": TS,
            "edited": {"user": CUSTOMER},
        },
        "previous_message": {"type": "message", "user": CUSTOMER, "text": "hello", "ts": TS},
        "channel": DM,
        "hidden": True,
        "ts": "1700000100.000300",
        "event_ts": "1700000100.000300",
        "channel_type": "im",
    },
    "message_deleted": {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "deleted_ts": TS,
        "channel": DM,
        "previous_message": {"type": "message", "user": CUSTOMER, "text": "hello", "ts": TS},
        "ts": "1700000100.000300",
        "event_ts": "1700000100.000300",
        "channel_type": "im",
    },
    "channel_join": {
        "type": "message",
        "subtype": "channel_join",
        "user": CUSTOMER,
        "text": f"<@{CUSTOMER}> has joined the channel",
        "channel": "C0LAN2Q65",
        "ts": TS,
        "event_ts": TS,
        "channel_type": "channel",
    },
    "a channel message without a mention": {
        **dm_event(CUSTOMER, "lunch?", TS),
        "channel": "C0LAN2Q65",
        "channel_type": "channel",
    },
    "an app mention by another bot": {
        "type": "app_mention",
        "user": "U0OTHERBOT",
        "bot_id": "B0OTHER",
        "text": f"<@{BOT_USER}> ping",
        "ts": TS,
        "channel": "C0LAN2Q65",
        "event_ts": TS,
    },
    "the app's own file upload": {
        **file_share([slack_file("F0OWN01", "report.csv", "text/csv", "csv")]),
        "user": BOT_USER,
    },
    "a bare mention": {
        "type": "app_mention",
        "user": CUSTOMER,
        "text": f"<@{BOT_USER}>",
        "ts": TS,
        "channel": "C0LAN2Q65",
        "event_ts": TS,
    },
    "reaction_added": {
        "type": "reaction_added",
        "user": CUSTOMER,
        "reaction": "thumbsup",
        "item": {"type": "message", "channel": DM, "ts": TS},
        "item_user": BOT_USER,
        "event_ts": TS,
    },
    "app_home_opened": {
        "type": "app_home_opened",
        "user": CUSTOMER,
        "channel": DM,
        "tab": "messages",
        "event_ts": TS,
    },
}


@pytest.mark.parametrize("event", IGNORED_EVENTS.values(), ids=IGNORED_EVENTS.keys())
def test_slack_parse_ignores_what_is_not_a_customer_message(
    slack: SlackConnector, event: dict[str, Any]
) -> None:
    assert received(slack, event_delivery(event)) == []


def test_slack_parse_ignores_app_rate_limited(slack: SlackConnector) -> None:
    body = {
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "type": "app_rate_limited",
        "team_id": TEAM,
        "minute_rate_limited": 1518467820,
        "api_app_id": APP,
    }
    assert received(slack, json_delivery(body, now=NOW)) == []


# -- clicks --------------------------------------------------------------------------------------
def test_slack_parse_a_button_click(slack: SlackConnector) -> None:
    trigger = "13345224609.738474920.8088930838d88f008e0"
    click = customer_click(
        CUSTOMER, "Track my order", "/track", trigger, now=NOW, webhook_url=WEBHOOK_URL, api_url=API
    )
    shown_at = json.loads(request_of(click).form()["payload"])["container"]["message_ts"]
    assert received(slack, click) == [
        Inbound(
            message_id=trigger,
            sender_id=CUSTOMER,
            text="/track",
            address={"channel": DM, "ts": shown_at, "thread_ts": shown_at, "in_thread": False},
            metadata={
                "team": TEAM,
                "button": {"title": "Track my order", "action_id": "parley_button_0", "type": "button"},
            },
        )
    ]


def test_slack_a_resent_click_keeps_its_message_id(slack: SlackConnector) -> None:
    payload = block_actions(CUSTOMER, "Yes", "/affirm", "trig-1", now=NOW)
    first = received(slack, form_delivery(payload, now=NOW))
    again = received(slack, form_delivery(payload, now=NOW))
    other = received(
        slack, form_delivery(block_actions(CUSTOMER, "Yes", "/affirm", "trig-2", now=NOW), now=NOW)
    )
    assert first == again
    assert first[0].message_id != other[0].message_id


def test_slack_parse_a_click_in_a_thread(slack: SlackConnector) -> None:
    payload = block_actions(CUSTOMER, "Yes", "/affirm", "trig-1", now=NOW)
    payload["container"]["thread_ts"] = TS
    [inbound] = received(slack, form_delivery(payload, now=NOW))
    assert inbound.address["thread_ts"] == TS
    assert inbound.address["in_thread"] is True


def test_slack_parse_a_menu_choice(slack: SlackConnector) -> None:
    payload = block_actions(CUSTOMER, "Size", "", "trig-3", now=NOW)
    payload["actions"] = [
        {
            "type": "static_select",
            "action_id": "size",
            "block_id": "e3F",
            "selected_option": {
                "text": {"type": "plain_text", "text": "Large"},
                "value": '/choose{"size":"L"}',
            },
            "placeholder": {"type": "plain_text", "text": "Pick a size"},
            "action_ts": "1700000001.000200",
        }
    ]
    [inbound] = received(slack, form_delivery(payload, now=NOW))
    assert inbound.text == '/choose{"size":"L"}'
    assert inbound.message_id == "trig-3"


def test_slack_parse_a_click_without_a_trigger_id(slack: SlackConnector) -> None:
    payload = block_actions(CUSTOMER, "Yes", "/affirm", "trig-1", now=NOW)
    del payload["trigger_id"]
    [inbound] = received(slack, form_delivery(payload, now=NOW))
    action = payload["actions"][0]
    assert (
        inbound.message_id
        == f"action:{payload['container']['message_ts']}:parley_button_0:{action['action_ts']}"
    )


def test_slack_parse_ignores_a_link_button(slack: SlackConnector) -> None:
    payload = block_actions(CUSTOMER, "Open the shop", "", "trig-4", now=NOW)
    payload["actions"][0] = {
        "action_id": "shop",
        "block_id": "f4G",
        "text": {"type": "plain_text", "text": "Open the shop"},
        "type": "button",
        "url": "https://shop.example.com",
        "action_ts": "1700000001.000300",
    }
    assert received(slack, form_delivery(payload, now=NOW)) == []


def test_slack_parse_ignores_clicks_outside_messages(slack: SlackConnector) -> None:
    in_modal = block_actions(CUSTOMER, "Yes", "/affirm", "trig-5", now=NOW)
    in_modal["container"] = {"type": "view", "view_id": "V0MODAL1"}
    submission = {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": CUSTOMER},
        "view": {"id": "V0"},
    }
    assert received(slack, form_delivery(in_modal, now=NOW)) == []
    assert received(slack, form_delivery(submission, now=NOW)) == []


# -- malformed bodies ----------------------------------------------------------------------------
def signed(body: bytes, content_type: str = "application/json") -> Delivery:
    return Delivery(body, {"Content-Type": content_type, **sign(body, NOW)})


MALFORMED: dict[str, Delivery] = {
    "not JSON": signed(b"<xml/>"),
    "a JSON array": signed(b"[1, 2]"),
    "no type": signed(json.dumps({"event": {}}).encode()),
    "an event_callback without an event": signed(
        json.dumps({"type": "event_callback", "event_id": "Ev1"}).encode()
    ),
    "an event_callback without an event_id": signed(
        json.dumps({"type": "event_callback", "event": dm_event(CUSTOMER, "hi", TS)}).encode()
    ),
    "a message without a user": signed(
        json.dumps(
            {
                "type": "event_callback",
                "event_id": "Ev1",
                "event": {**dm_event(CUSTOMER, "hi", TS), "user": None},
            }
        ).encode()
    ),
    "a form without payload": signed(b"command=%2Fhelp&text=", "application/x-www-form-urlencoded"),
    "a payload that is not JSON": signed(
        urlencode({"payload": "{oops"}).encode(), "application/x-www-form-urlencoded"
    ),
    "a payload without a type": signed(
        urlencode({"payload": "{}"}).encode(), "application/x-www-form-urlencoded"
    ),
    "block_actions without a user": form_delivery(
        {**block_actions(CUSTOMER, "Yes", "/affirm", "t", now=NOW), "user": None}, now=NOW
    ),
    "block_actions without a channel": form_delivery(
        {
            **block_actions(CUSTOMER, "Yes", "/affirm", "t", now=NOW),
            "channel": None,
            "container": {"type": "message", "message_ts": TS},
        },
        now=NOW,
    ),
}


@pytest.mark.parametrize("delivery", MALFORMED.values(), ids=MALFORMED.keys())
def test_slack_parse_refuses_a_malformed_body(slack: SlackConnector, delivery: Delivery) -> None:
    with pytest.raises(Malformed):
        received(slack, delivery)


# -- rendering -----------------------------------------------------------------------------------
DM_ADDRESS = {"channel": DM, "ts": TS, "thread_ts": TS, "in_thread": False}


def post(body: dict[str, Any], describes: int = 1) -> OutboundCall:
    """A chat.postMessage call; `describes=0` for a call before the last of one bot message."""
    return OutboundCall(POST_MESSAGE, json=body, headers=HEADERS, describes=describes)


def test_slack_render_plain_text(slack: SlackConnector) -> None:
    calls = slack.render([{"recipient_id": CUSTOMER, "text": "Hello *there*"}], DM_ADDRESS)
    assert calls == [post({"channel": DM, "text": "Hello *there*"})]


def test_slack_render_in_the_customers_thread(slack: SlackConnector) -> None:
    address = {"channel": "C0LAN2Q65", "ts": "1700000050.000200", "thread_ts": TS, "in_thread": True}
    calls = slack.render([{"recipient_id": CUSTOMER, "text": "On it"}], address)
    assert calls == [post({"channel": "C0LAN2Q65", "text": "On it", "thread_ts": TS})]


def test_slack_render_in_a_thread_when_configured(session: requests.Session) -> None:
    threaded = SlackConnector.from_config(SlackConfig(api_url=API, reply_in_thread=True), session, ENVIRON)
    calls = threaded.render([{"text": "On it"}, {"image": "https://cdn.example.com/a.png"}], DM_ADDRESS)
    assert [c.json["thread_ts"] for c in calls if c.json] == [TS, TS]


def test_slack_render_buttons(slack: SlackConnector) -> None:
    message = {
        "recipient_id": CUSTOMER,
        "text": "What do you need?",
        "buttons": [
            {"title": "Track my order", "payload": "/track"},
            {
                "title": "A refund, because the parcel arrived damaged and late",
                "payload": '/refund{"why":"damaged"}',
            },
        ],
    }
    assert slack.render([message], DM_ADDRESS) == [
        post(
            {
                "channel": DM,
                "text": "What do you need?",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "What do you need?"}},
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "button",
                                "text": {"type": "plain_text", "text": "Track my order"},
                                "action_id": "parley_button_0",
                                "value": "/track",
                            },
                            {
                                "type": "button",
                                "text": {
                                    "type": "plain_text",
                                    "text": "A refund, because the parcel arrived damaged and late",
                                },
                                "action_id": "parley_button_1",
                                "value": '/refund{"why":"damaged"}',
                            },
                        ],
                    },
                ],
            }
        )
    ]


def test_slack_render_cuts_long_titles(slack: SlackConnector) -> None:
    title = "word " * 20
    [call] = slack.render(
        [{"text": "Pick", "quick_replies": [{"title": title, "payload": "/a"}]}], DM_ADDRESS
    )
    assert call.json is not None
    button = call.json["blocks"][1]["elements"][0]
    assert button["text"]["text"] == title[:74].rstrip() + "…"
    assert len(button["text"]["text"]) <= 75


def test_slack_render_buttons_without_text(slack: SlackConnector) -> None:
    message = {"buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]}
    assert slack.render([message], DM_ADDRESS) == [
        post(
            {
                "channel": DM,
                "text": "Yes | No",
                "blocks": [
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "button",
                                "text": {"type": "plain_text", "text": "Yes"},
                                "action_id": "parley_button_0",
                                "value": "/affirm",
                            },
                            {
                                "type": "button",
                                "text": {"type": "plain_text", "text": "No"},
                                "action_id": "parley_button_1",
                                "value": "/deny",
                            },
                        ],
                    }
                ],
            }
        )
    ]


def test_slack_render_too_many_buttons_as_numbered_options(slack: SlackConnector) -> None:
    buttons = [{"title": f"Store {n}", "payload": f'/store{{"n":{n}}}'} for n in range(1, 27)]
    message = {"text": "Which store?", "buttons": buttons}
    assert slack.numbered(message)
    options = "\n".join(f"{n}. Store {n}" for n in range(1, 27))
    assert slack.render([message], DM_ADDRESS) == [
        post({"channel": DM, "text": f"Which store?\n\n{options}"})
    ]


def test_slack_render_a_payload_too_long_as_numbered_options(slack: SlackConnector) -> None:
    message = {"text": "Confirm?", "buttons": [{"title": "Yes", "payload": "/affirm" + "x" * 2000}]}
    assert slack.render([message], DM_ADDRESS) == [post({"channel": DM, "text": "Confirm?\n\n1. Yes"})]


def test_slack_render_splits_a_long_text_with_buttons_on_the_last_piece(slack: SlackConnector) -> None:
    first, second = "A" * 2000, "B" * 1500
    message = {"text": f"{first}\n\n{second}", "buttons": [{"title": "OK", "payload": "/ok"}]}
    assert slack.render([message], DM_ADDRESS) == [
        post({"channel": DM, "text": first}, describes=0),
        post(
            {
                "channel": DM,
                "text": second,
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": second}},
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "button",
                                "text": {"type": "plain_text", "text": "OK"},
                                "action_id": "parley_button_0",
                                "value": "/ok",
                            }
                        ],
                    },
                ],
            }
        ),
    ]


def test_slack_render_an_image(slack: SlackConnector) -> None:
    message = {"text": "Here it is", "image": "https://cdn.example.com/lamp.png"}
    assert slack.render([message], DM_ADDRESS) == [
        post({"channel": DM, "text": "Here it is"}, describes=0),
        post(
            {
                "channel": DM,
                "text": "https://cdn.example.com/lamp.png",
                "blocks": [
                    {"type": "image", "image_url": "https://cdn.example.com/lamp.png", "alt_text": "image"}
                ],
            }
        ),
    ]


def test_slack_render_custom_as_the_message_body(slack: SlackConnector) -> None:
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "Your order"}}]
    custom = {"text": "Your order", "blocks": blocks, "unfurl_links": False}
    thread = {**DM_ADDRESS, "in_thread": True}
    assert slack.render([{"custom": custom}], thread) == [
        post({"channel": DM, "thread_ts": TS, "text": "Your order", "blocks": blocks, "unfurl_links": False})
    ]
    elsewhere = slack.render([{"custom": {"channel": "C0ORDERS", "text": "New order"}}], DM_ADDRESS)
    assert elsewhere == [post({"channel": "C0ORDERS", "text": "New order"})]


def test_slack_render_in_rasas_order(slack: SlackConnector) -> None:
    message = {
        "text": "Done",
        "image": "https://cdn.example.com/a.png",
        "custom": {"text": "custom"},
        "attachment": {
            "fallback": "Invoice",
            "title": "Invoice 42",
            "title_link": "https://shop.example.com/i/42",
        },
    }
    calls = slack.render([message, {"attachment": "https://shop.example.com/i/42.pdf"}], DM_ADDRESS)
    assert [c.json for c in calls] == [
        {"channel": DM, "text": "Done"},
        {"channel": DM, "text": "custom"},
        {
            "channel": DM,
            "text": "https://cdn.example.com/a.png",
            "blocks": [{"type": "image", "image_url": "https://cdn.example.com/a.png", "alt_text": "image"}],
        },
        {
            "channel": DM,
            "attachments": [
                {"fallback": "Invoice", "title": "Invoice 42", "title_link": "https://shop.example.com/i/42"}
            ],
        },
        {"channel": DM, "text": "https://shop.example.com/i/42.pdf"},
    ]


def test_slack_render_skips_what_it_cannot_send(slack: SlackConnector) -> None:
    assert slack.render([{"custom": "oops", "attachment": 42, "text": "  "}], DM_ADDRESS) == []


def test_slack_render_an_agents_message(slack: SlackConnector) -> None:
    message = {
        "text": "I have refunded you.",
        "agent": "Alice",
        "buttons": [{"title": "Thanks", "payload": "/thank"}],
    }
    assert slack.render([message], DM_ADDRESS) == [
        post(
            {
                "channel": DM,
                "text": "Alice: I have refunded you.",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "Alice: I have refunded you."}},
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "button",
                                "text": {"type": "plain_text", "text": "Thanks"},
                                "action_id": "parley_button_0",
                                "value": "/thank",
                            }
                        ],
                    },
                ],
            }
        )
    ]
    assert slack.render([{"text": "Done.", "agent": "Alice"}], DM_ADDRESS) == [
        post({"channel": DM, "text": "Alice: Done."})
    ]


def test_slack_render_needs_a_channel(slack: SlackConnector) -> None:
    with pytest.raises(ValueError, match="channel"):
        slack.render([{"text": "hi"}], {"thread_ts": TS})


# -- what Slack receives -------------------------------------------------------------------------
def test_slack_calls_reach_the_platform_exactly(platform: FakePlatform, session: requests.Session) -> None:
    slack = SlackConnector.from_config(config(platform.url), session, ENVIRON)
    messages: list[dict[str, Any]] = [
        {"recipient_id": CUSTOMER, "text": "Hi Ann ✨", "buttons": [{"title": "Track", "payload": "/track"}]},
        {"recipient_id": CUSTOMER, "image": "https://cdn.example.com/a.png"},
    ]
    for call in slack.render(messages, DM_ADDRESS):
        with session.request(
            call.method, call.url, json=call.json, data=call.form, headers=call.headers, auth=call.auth
        ) as response:
            assert slack.failure(response) is None
    first, second = platform.wait_for(2, path="/chat.postMessage")
    for captured in (first, second):
        assert captured.method == "POST"
        assert captured.path == "/chat.postMessage"
        assert captured.headers["authorization"] == f"Bearer {BOT_TOKEN}"
        assert captured.headers["content-type"] == "application/json; charset=utf-8"
    assert first.json() == {
        "channel": DM,
        "text": "Hi Ann ✨",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Hi Ann ✨"}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Track"},
                        "action_id": "parley_button_0",
                        "value": "/track",
                    }
                ],
            },
        ],
    }
    assert second.json() == {
        "channel": DM,
        "text": "https://cdn.example.com/a.png",
        "blocks": [{"type": "image", "image_url": "https://cdn.example.com/a.png", "alt_text": "image"}],
    }
    assert sent_texts(first) == ["Hi Ann ✨"]
    assert sent_buttons(first) == [("Track", "/track")]
    assert sent_texts(second) == []
    assert sent_buttons(second) == []


@pytest.mark.parametrize(
    ("status", "body", "problem"),
    [
        (200, {"ok": True, "channel": DM, "ts": TS}, None),
        (
            200,
            {
                "ok": True,
                "warning": "missing_charset",
                "response_metadata": {"warnings": ["missing_charset"]},
            },
            None,
        ),
        (
            200,
            {"ok": False, "error": "channel_not_found"},
            "channel_not_found: the conversation does not exist or the app cannot see it",
        ),
        (200, {"ok": False, "error": "some_new_error"}, "some_new_error"),
        (
            200,
            {"ok": False, "error": "missing_scope", "needed": "chat:write", "provided": "im:history"},
            "missing_scope: the token lacks chat:write; add it under OAuth & Permissions, Bot Token Scopes, "
            "and reinstall the app",
        ),
        (
            200,
            {
                "ok": False,
                "error": "invalid_blocks",
                "response_metadata": {
                    "messages": ["[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]"]
                },
            },
            "invalid_blocks: Slack refused the message's blocks (a custom payload's blocks, most likely) "
            "([ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text])",
        ),
        (200, [1], "Slack answered HTTP 200 with JSON that is not an object"),
        (
            200,
            b"<html>proxy</html>",
            "Slack answered HTTP 200 with a body that is not JSON: <html>proxy</html>",
        ),
        (500, {"ok": False, "error": "fatal_error"}, 'HTTP 500: {"ok": false, "error": "fatal_error"}'),
    ],
)
def test_slack_failure_reads_slacks_answer(
    platform: FakePlatform, session: requests.Session, status: int, body: Any, problem: str | None
) -> None:
    slack = SlackConnector.from_config(config(platform.url), session, ENVIRON)
    platform.script(status, body)
    [call] = slack.render([{"text": "hi"}], DM_ADDRESS)
    with session.post(call.url, json=call.json, headers=call.headers) as response:
        assert slack.failure(response) == problem


# -- the end-to-end helpers ----------------------------------------------------------------------
def test_slack_platform_helpers_round_trip(platform: FakePlatform, session: requests.Session) -> None:
    slack = SlackConnector.from_config(config(platform.url), session, ENVIRON)
    text = customer_text(
        "U0ANN", "hi there", "Ev0ANN01", now=NOW, webhook_url=WEBHOOK_URL, api_url=platform.url
    )
    click = customer_click(
        "U0ANN", "Yes", "/affirm", "click-1", now=NOW, webhook_url=WEBHOOK_URL, api_url=platform.url
    )
    [said] = received(slack, text)
    [chose] = received(slack, click)
    assert (said.message_id, said.sender_id, said.text) == ("Ev0ANN01", "U0ANN", "hi there")
    assert (chose.message_id, chose.sender_id, chose.text) == ("click-1", "U0ANN", "/affirm")
    assert said.address["channel"] == chose.address["channel"] == "DU0ANN"
    assert text.headers["Content-Type"] == "application/json"
    assert click.headers["Content-Type"] == "application/x-www-form-urlencoded"
