"""WhatsApp Cloud API webhooks as Meta sends them (signed with the App Secret in ENVIRON), and
readers of the Graph API calls the connector makes, for the connector's and the hub's tests."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from engine.channels.settings import WhatsAppConfig
from tests.channels.fake_platform import Captured, Delivery

WEBHOOK = "/webhooks/whatsapp/webhook"
ENVIRON: dict[str, str] = {
    "PARLEY_WHATSAPP_ACCESS_TOKEN": "EAAJtestSystemUserToken0123456789",
    "PARLEY_WHATSAPP_APP_SECRET": "6b1d2f0c9e8a7b3c4d5e6f708192a3b4",
    "PARLEY_WHATSAPP_VERIFY_TOKEN": "parley-verify-7f3a",
}
#: The business account, phone number id and display number of the test business.
WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "15550783881"
#: The id of the bot's message a click answers (clicks quote it in `context`).
BOT_MESSAGE_ID = "wamid.HBgLMTU1NTAxMjM0NTYVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"


def config(api_url: str) -> WhatsAppConfig:
    """Settings pointing the Graph API at `api_url` (the fake platform)."""
    return WhatsAppConfig(api_url=api_url)


def sign(body: bytes, secret: str | None = None) -> str:
    """The `X-Hub-Signature-256` Meta sends with `body`."""
    key = (secret or ENVIRON["PARLEY_WHATSAPP_APP_SECRET"]).encode("utf-8")
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def notification(
    messages: list[dict[str, Any]] | None = None,
    *,
    statuses: list[dict[str, Any]] | None = None,
    sender: str = "16505551234",
    name: str = "Kerry Fisher",
) -> dict[str, Any]:
    """A `messages` notification of the test business carrying `messages` and/or `statuses`."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
    }
    if messages is not None:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": sender}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


def delivery(body: dict[str, Any] | bytes) -> Delivery:
    """The signed POST Meta makes with `body`."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    return Delivery(body=raw, headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)})


def customer_text(
    sender: str, text: str, message_id: str, *, now: float, webhook_url: str, api_url: str
) -> Delivery:
    """`sender` (a wa_id) writes `text`; `message_id` is the message's id (a wamid in real life)."""
    message = {
        "from": sender,
        "id": message_id,
        "timestamp": str(int(now)),
        "text": {"body": text},
        "type": "text",
    }
    return delivery(notification([message], sender=sender))


def customer_click(
    sender: str, title: str, payload: str, message_id: str, *, now: float, webhook_url: str, api_url: str
) -> Delivery:
    """`sender` taps the reply button `title` whose id is `payload`."""
    message = {
        "context": {"from": DISPLAY_PHONE_NUMBER, "id": BOT_MESSAGE_ID},
        "from": sender,
        "id": message_id,
        "timestamp": str(int(now)),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": payload, "title": title}},
    }
    return delivery(notification([message], sender=sender))


def sent_texts(call: Captured) -> list[str]:
    """The text a Graph API message call shows: a text message's body or an interactive
    message's body text ([] for images and other media)."""
    body = call.json()
    kind = body.get("type")
    if kind == "text":
        return [body["text"]["body"]]
    if kind == "interactive":
        return [body["interactive"]["body"]["text"]]
    return []


def sent_buttons(call: Captured) -> list[tuple[str, str]]:
    """(title, id) of the reply buttons or list rows a call shows; the id is what a click sends."""
    body = call.json()
    if body.get("type") != "interactive":
        return []
    interactive = body["interactive"]
    action = interactive.get("action", {})
    if interactive.get("type") == "button":
        return [(b["reply"]["title"], b["reply"]["id"]) for b in action.get("buttons", [])]
    if interactive.get("type") == "list":
        return [
            (row["title"], row["id"]) for section in action.get("sections", []) for row in section["rows"]
        ]
    return []
