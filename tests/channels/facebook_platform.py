"""Messenger as the end-to-end tests see it: signed webhook deliveries of a customer's messages
and clicks, and what the bot's Send API calls show."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from engine.channels.settings import FacebookConfig
from tests.channels.fake_platform import Captured, Delivery

WEBHOOK = "/webhooks/facebook/webhook"
PAGE_ID = "104387295123456"
ENVIRON: dict[str, str] = {
    "PARLEY_FACEBOOK_PAGE_ACCESS_TOKEN": "EAAGm0PX4ZCpsBAtestpagetoken",
    "PARLEY_FACEBOOK_APP_SECRET": "3f9c2a1b7d6e5f4a3b2c1d0e9f8a7b6c",
    "PARLEY_FACEBOOK_VERIFY_TOKEN": "parley-verify-token-7",
}


def config(api_url: str) -> FacebookConfig:
    """Settings with the Graph API at `api_url` and the credentials of `ENVIRON`."""
    return FacebookConfig(api_url=api_url)


def customer_text(
    sender: str, text: str, message_id: str, *, now: float, webhook_url: str, api_url: str
) -> Delivery:
    """Customer `sender` (a page-scoped id) typed `text`; `message_id` is the message's mid."""
    event = _event(sender, now, "message", {"mid": message_id, "text": text})
    return _delivery(event, now)


def customer_click(
    sender: str, title: str, payload: str, message_id: str, *, now: float, webhook_url: str, api_url: str
) -> Delivery:
    """Customer `sender` clicked a button template's postback button."""
    event = _event(sender, now, "postback", {"mid": message_id, "title": title, "payload": payload})
    return _delivery(event, now)


def sent_texts(call: Captured) -> list[str]:
    """The text a Send API call shows (a plain message, a quick-reply prompt or a button template)."""
    message = _message(call)
    if isinstance(message.get("text"), str):
        return [message["text"]]
    payload = (message.get("attachment") or {}).get("payload") or {}
    if payload.get("template_type") == "button":
        return [payload["text"]]
    return []


def sent_buttons(call: Captured) -> list[tuple[str, str]]:
    """(title, payload) of the postback buttons or quick replies a Send API call shows."""
    message = _message(call)
    if "quick_replies" in message:
        return [(reply["title"], reply["payload"]) for reply in message["quick_replies"]]
    payload = (message.get("attachment") or {}).get("payload") or {}
    if payload.get("template_type") == "button":
        return [(button["title"], button["payload"]) for button in payload["buttons"]]
    return []


def _message(call: Captured) -> dict[str, Any]:
    if not call.path.endswith("/me/messages"):
        return {}
    message = call.json().get("message")
    return message if isinstance(message, dict) else {}


def _event(sender: str, now: float, kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "sender": {"id": sender},
        "recipient": {"id": PAGE_ID},
        "timestamp": int(now * 1000),
        kind: content,
    }


def _delivery(event: dict[str, Any], now: float) -> Delivery:
    """The webhook POST Meta sends: compact JSON with non-ASCII escaped, as signed by Meta."""
    payload = {"object": "page", "entry": [{"id": PAGE_ID, "time": int(now * 1000), "messaging": [event]}]}
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    secret = ENVIRON["PARLEY_FACEBOOK_APP_SECRET"].encode("utf-8")
    return Delivery(
        body,
        {
            "Content-Type": "application/json",
            "X-Hub-Signature": "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest(),
            "X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
        },
    )
