"""Slack as the end-to-end tests see it: signed Events API and Interactivity requests from a
customer in a direct message with the app, and readers of the chat.postMessage calls it gets."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

from engine.channels.settings import SlackConfig
from tests.channels.fake_platform import Captured, Delivery

WEBHOOK = "/webhooks/slack/webhook"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
ENVIRON: dict[str, str] = {
    "PARLEY_SLACK_BOT_TOKEN": BOT_TOKEN,
    "PARLEY_SLACK_SIGNING_SECRET": SIGNING_SECRET,
}
TEAM = "T0PARLEY1"
APP = "A0PARLEY1"
BOT_USER = "U0PARLEYBOT"
BOT_ID = "B0PARLEY1"


def config(api_url: str) -> SlackConfig:
    """Settings whose API is the fake platform at `api_url` (credentials from ENVIRON's names)."""
    return SlackConfig(api_url=api_url)


def sign(body: bytes, now: float, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Slack's signature headers for `body` sent at `now`."""
    timestamp = str(int(now))
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + mac.hexdigest()}


def dm_channel(sender: str) -> str:
    """The id of the direct-message conversation between `sender` and the app."""
    return f"D{sender}"


def message_ts(message_id: str, now: float) -> str:
    """A Slack message timestamp ("1700000000.000123"), distinct per message id."""
    micro = int(hashlib.sha256(message_id.encode()).hexdigest()[:8], 16) % 1_000_000
    return f"{int(now)}.{micro:06d}"


def event_callback(event: dict[str, Any], event_id: str, *, now: float) -> dict[str, Any]:
    """An Events API callback carrying `event`, as Slack posts it."""
    return {
        "token": "XXYYZZ",
        "team_id": TEAM,
        "context_team_id": TEAM,
        "context_enterprise_id": None,
        "api_app_id": APP,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMFBBUkxFWTEifQ",
    }


def json_delivery(body: dict[str, Any], *, now: float, headers: dict[str, str] | None = None) -> Delivery:
    """`body` posted as JSON and signed (the Events API)."""
    raw = json.dumps(body).encode()
    return Delivery(raw, {"Content-Type": "application/json", **sign(raw, now), **(headers or {})})


def form_delivery(payload: dict[str, Any], *, now: float) -> Delivery:
    """`payload` posted as Interactivity does: a form whose `payload` field holds the JSON."""
    raw = urlencode({"payload": json.dumps(payload)}).encode()
    return Delivery(raw, {"Content-Type": "application/x-www-form-urlencoded", **sign(raw, now)})


def dm_event(sender: str, text: str, ts: str) -> dict[str, Any]:
    """A `message.im` event: `sender` wrote `text` to the app."""
    return {
        "client_msg_id": "5f1b2f0e-54a1-4a8f-9a43-7e2a4f9d8c11",
        "type": "message",
        "text": text,
        "user": sender,
        "ts": ts,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "Wd2x",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ],
        "team": TEAM,
        "channel": dm_channel(sender),
        "event_ts": ts,
        "channel_type": "im",
    }


def customer_text(
    sender: str, text: str, message_id: str, *, now: float, webhook_url: str, api_url: str
) -> Delivery:
    """The Events API callback of `sender` writing `text` in a direct message (event_id `message_id`)."""
    event = dm_event(sender, text, message_ts(message_id, now))
    return json_delivery(event_callback(event, message_id, now=now), now=now)


def block_actions(
    sender: str, title: str, payload: str, trigger_id: str, *, now: float, channel: str | None = None
) -> dict[str, Any]:
    """The Interactivity payload of `sender` clicking the button `title` (value `payload`) under
    one of the app's messages in their direct message with it."""
    where = channel or dm_channel(sender)
    shown_at = message_ts("bot:" + trigger_id, now - 30)
    button = {"type": "button", "text": {"type": "plain_text", "text": title}, "value": payload}
    return {
        "type": "block_actions",
        "user": {"id": sender, "username": "customer", "name": "customer", "team_id": TEAM},
        "api_app_id": APP,
        "token": "XXYYZZ",
        "container": {
            "type": "message",
            "message_ts": shown_at,
            "channel_id": where,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,
        "team": {"id": TEAM, "domain": "parley-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": where, "name": "directmessage"},
        "message": {
            "user": BOT_USER,
            "type": "message",
            "ts": shown_at,
            "bot_id": BOT_ID,
            "app_id": APP,
            "text": "Pick one",
            "team": TEAM,
            "blocks": [
                {"type": "section", "block_id": "a1B", "text": {"type": "mrkdwn", "text": "Pick one"}},
                {
                    "type": "actions",
                    "block_id": "c2D",
                    "elements": [{**button, "action_id": "parley_button_0"}],
                },
            ],
        },
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0PARLEY1/6172846195/2d8mZVMUwbAUbhRGpaYIRpzY",
        "actions": [
            {
                "action_id": "parley_button_0",
                "block_id": "c2D",
                "text": {"type": "plain_text", "text": title, "emoji": True},
                "value": payload,
                "type": "button",
                "action_ts": message_ts("click:" + trigger_id, now),
            }
        ],
    }


def customer_click(
    sender: str, title: str, payload: str, message_id: str, *, now: float, webhook_url: str, api_url: str
) -> Delivery:
    """The Interactivity request of `sender` clicking a button (its trigger_id is `message_id`)."""
    return form_delivery(block_actions(sender, title, payload, message_id, now=now), now=now)


def sent_texts(call: Captured) -> list[str]:
    """The texts a chat.postMessage call shows: its section blocks' texts when it has blocks
    (an image alone shows none), else its `text`."""
    if not call.path.endswith("/chat.postMessage"):
        return []
    body = call.json()
    blocks = body.get("blocks")
    if isinstance(blocks, list):
        return [b["text"]["text"] for b in blocks if b.get("type") == "section" and "text" in b]
    text = body.get("text")
    return [text] if isinstance(text, str) and text else []


def sent_buttons(call: Captured) -> list[tuple[str, str]]:
    """The (title, value) of the buttons in a chat.postMessage call's actions blocks."""
    if not call.path.endswith("/chat.postMessage"):
        return []
    found: list[tuple[str, str]] = []
    for block in call.json().get("blocks") or []:
        if block.get("type") == "actions":
            found.extend(
                (e["text"]["text"], e.get("value", ""))
                for e in block["elements"]
                if e.get("type") == "button"
            )
    return found
