"""Telegram as the end-to-end tests see it: Updates as Telegram POSTs them to the webhook (with
the setWebhook secret token in its header), and what the bot's Bot API calls carry."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from engine.channels.settings import TelegramConfig
from tests.channels.fake_platform import Captured, Delivery

WEBHOOK = "/webhooks/telegram/webhook"
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET_TOKEN = "parley-test_secret-token-42"
ENVIRON: dict[str, str] = {
    "PARLEY_TELEGRAM_TOKEN": TOKEN,
    "PARLEY_TELEGRAM_SECRET_TOKEN": SECRET_TOKEN,
}
BOT_ID = 123456789
BOT = {"id": BOT_ID, "is_bot": True, "first_name": "Shop Assistant", "username": "shop_assistant_bot"}
BUTTON_PROMPT_ID = 900


def config(api_url: str) -> TelegramConfig:
    """Settings with the default variables and the API at `api_url`."""
    return TelegramConfig(api_url=api_url)


def update_id(message_id: str) -> int:
    """The update_id of delivery `message_id`: the number itself when it is one (then it is also
    the connector's `Inbound.message_id`), else a stable number made from it."""
    if message_id.isdigit():
        return int(message_id)
    return int.from_bytes(hashlib.sha256(message_id.encode("utf-8")).digest()[:4], "big") >> 1


def chat_id(sender: str) -> int | str:
    """The chat id of `sender`: Telegram's ids are integers; a name is kept as it is."""
    return int(sender) if sender.lstrip("-").isdigit() else sender


def person(sender: str) -> dict[str, Any]:
    """The customer `sender` as Telegram's `User` (their private chat's id is their user id)."""
    chat = chat_id(sender)
    return {
        "id": chat if isinstance(chat, int) else 1000,
        "is_bot": False,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "username": "ada_l",
        "language_code": "en",
    }


def private_chat(sender: str) -> dict[str, Any]:
    """The private `Chat` of `sender` with the bot."""
    return {
        "id": chat_id(sender),
        "first_name": "Ada",
        "last_name": "Lovelace",
        "username": "ada_l",
        "type": "private",
    }


def deliver(update: dict[str, Any], secret_token: str = SECRET_TOKEN) -> Delivery:
    """`update` POSTed as Telegram does (compact JSON, the secret token header)."""
    body = json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret_token}
    return Delivery(body=body, headers=headers)


def message_update(sender: str, message_id: str, fields: dict[str, Any], *, now: float) -> dict[str, Any]:
    """An Update with a `message` from `sender` holding `fields` (text, photo, ...)."""
    number = update_id(message_id)
    message = {
        "message_id": number % 100000 + 1,
        "from": person(sender),
        "chat": private_chat(sender),
        "date": int(now),
        **fields,
    }
    return {"update_id": number, "message": message}


def customer_text(
    sender: str, text: str, message_id: str, *, now: float, webhook_url: str, api_url: str
) -> Delivery:
    """The customer `sender` typing `text` to the bot in their private chat."""
    return deliver(message_update(sender, message_id, {"text": text}, now=now))


def customer_click(
    sender: str, title: str, payload: str, message_id: str, *, now: float, webhook_url: str, api_url: str
) -> Delivery:
    """The customer `sender` clicking the inline keyboard button `title` (callback_data
    `payload`) under one of the bot's messages."""
    number = update_id(message_id)
    shown_in = {
        "message_id": BUTTON_PROMPT_ID,
        "from": BOT,
        "chat": private_chat(sender),
        "date": int(now) - 5,
        "text": "Choose one",
        "reply_markup": {"inline_keyboard": [[{"text": title, "callback_data": payload}]]},
    }
    query = {
        "id": str(4382000000000000000 + number),
        "from": person(sender),
        "message": shown_in,
        "chat_instance": "-3907226301427488791",
        "data": payload,
    }
    return deliver({"update_id": number, "callback_query": query})


def sent_texts(call: Captured) -> list[str]:
    """The text of a `sendMessage`, the caption of a `sendPhoto` ([] for other calls)."""
    if call.path.endswith("/sendMessage"):
        text = call.json().get("text")
        return [text] if isinstance(text, str) else []
    if call.path.endswith("/sendPhoto"):
        caption = call.json().get("caption")
        return [caption] if isinstance(caption, str) else []
    return []


def sent_buttons(call: Captured) -> list[tuple[str, str]]:
    """The inline keyboard's buttons as (text, callback_data) ([] without one)."""
    if not call.body or not (call.path.endswith("/sendMessage") or call.path.endswith("/sendPhoto")):
        return []
    markup = call.json().get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or []
    return [(button["text"], button["callback_data"]) for row in rows for button in row]
