"""Telegram: the Bot API's webhook in, `sendMessage`/`sendPhoto` calls out.

Telegram POSTs one JSON `Update` per request to the URL given to `setWebhook`, with the
`secret_token` given there in the `X-Telegram-Bot-Api-Secret-Token` header. It has no signature
over the body and no timestamp: the header is the whole proof, so there is no replay window to
check. Telegram retries an update it could not deliver with the same `update_id`, which is the
`Inbound.message_id`, so a retry is recognised as the same delivery.

What becomes a customer message:

- `message` from a person (not `from.is_bot`): its text, or a described attachment
  ("[image] caption", "[file invoice.pdf]", "[audio]", "[video]", "[sticker 😀]",
  "[location 51.5074,-0.1278]", "[contact +441234567890]") with the details (type, file id, name,
  mime type, ...) in `metadata["attachments"]`. Files are named by their `file_id` only: their
  download URL holds the bot token, so it is never put where custom actions and logs see it.
- `callback_query` (a click on an inline keyboard button): its `data`, the button's payload.

Everything else (`edited_message`, `channel_post`, `my_chat_member`, service messages such as
members joining, polls, dice ...) is acknowledged and ignored.

Replies are plain text (no `parse_mode`, so what customers or packs write is never read as
markup). Buttons and quick replies become an inline keyboard with one button per row. A click
on a button first gets `answerCallbackQuery`, so that the customer's app stops showing progress.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests

from engine.channels.base import (
    Connector,
    Inbound,
    Malformed,
    OutboundCall,
    Rejected,
    WebhookRequest,
    one_message,
)
from engine.channels.limits import LIMITS, cut
from engine.channels.settings import MissingCredential, TelegramConfig
from engine.channels.text import buttons_of, numbered_options, split_text, text_of

log = logging.getLogger(__name__)

#: The header Telegram puts setWebhook's `secret_token` in.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Longest caption of a photo; a longer text is sent as messages after the photo.
MAX_CAPTION = 1024
#: The text of a message that has buttons but no text (Telegram refuses an empty text).
BUTTONS_ONLY_TEXT = "👇"

_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_WHAT_TOKEN = (
    "the bot token @BotFather gave when the bot was created (123456789:AA...; /token shows it again)"
)
_WHAT_SECRET = (
    "the secret_token given to setWebhook (1-256 characters A-Z a-z 0-9 _ -), which Telegram "
    f"sends back in {SECRET_HEADER}"
)


class TelegramConnector(Connector):
    """A Telegram bot, reached by webhook (setWebhook with a `secret_token`)."""

    name = "telegram"
    limits = LIMITS["telegram"]

    def __init__(self, token: str, secret_token: str, *, api_url: str, session: requests.Session) -> None:
        """Raises ValueError when `token` or `secret_token` is not in the form Telegram uses (the
        token becomes part of every API URL, so it must not hold anything else)."""
        if not _TOKEN.fullmatch(token):
            raise ValueError(f"the bot token is not in Telegram's form: it must be {_WHAT_TOKEN}")
        if not _SECRET_TOKEN.fullmatch(secret_token):
            raise ValueError(
                f"the webhook secret token is not one Telegram accepts: it must be {_WHAT_SECRET}"
            )
        self._token = token
        self._secret_token = secret_token.encode("ascii")
        self.api_url = api_url.rstrip("/")
        self.session = session

    @classmethod
    def from_config(
        cls, config: TelegramConfig, session: requests.Session, environ: Mapping[str, str] | None = None
    ) -> TelegramConnector:
        """The connector with the credentials of `config`'s environment variables; raises
        `MissingCredential` naming the variable that is unset or holds a value Telegram refuses."""
        token = config.secret("telegram", config.token_variable, _WHAT_TOKEN, environ)
        secret_token = config.secret("telegram", config.secret_token_variable, _WHAT_SECRET, environ)
        if not _TOKEN.fullmatch(token):
            raise MissingCredential(
                f"channels.telegram: the environment variable {config.token_variable} is not a bot "
                f"token; it must hold {_WHAT_TOKEN}"
            )
        if not _SECRET_TOKEN.fullmatch(secret_token):
            raise MissingCredential(
                f"channels.telegram: the environment variable {config.secret_token_variable} holds "
                f"characters or a length Telegram refuses; it must hold {_WHAT_SECRET}"
            )
        return cls(token, secret_token, api_url=config.api_url, session=session)

    # -- in ----------------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, now: float) -> None:
        """Check the secret token header (401 when it is missing, 403 when it differs).

        `now` is not used: Telegram signs nothing and sends no delivery time, so a replay cannot
        be told from a retry here; retries and replays of one update share its `update_id` and
        are processed once."""
        given = request.header(SECRET_HEADER)
        if not given:
            raise Rejected(
                f"the {SECRET_HEADER} header is missing: the webhook was registered without "
                "secret_token, or the request is not from Telegram",
                401,
            )
        if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), self._secret_token):
            raise Rejected(
                f"the {SECRET_HEADER} header does not match the configured secret token: call "
                "setWebhook again with secret_token set to its value, or the request is not from Telegram",
                403,
            )

    def parse(self, request: WebhookRequest) -> list[Inbound]:
        """The customer message of one Update (none for updates that are not one); raises
        `Malformed` for a body that is not an Update."""
        update = request.json()
        if not isinstance(update, dict):
            raise Malformed("the body is not a Telegram Update (a JSON object)")
        update_id = update.get("update_id")
        if not _is_int(update_id):
            raise Malformed("the body is not a Telegram Update: it has no integer update_id")
        message_id = str(update_id)
        if "message" in update:
            found = _message(message_id, _object(update["message"], "message"))
        elif "callback_query" in update:
            found = _click(message_id, _object(update["callback_query"], "callback_query"))
        else:
            found = None
        return [] if found is None else [found]

    # -- out ---------------------------------------------------------------------------------------
    def render(self, messages: Sequence[Mapping[str, Any]], address: Mapping[str, Any]) -> list[OutboundCall]:
        """The Bot API calls that show `messages` in the chat of `address`.

        A reply to a click starts with `answerCallbackQuery` (describes 0). Each message's calls
        are, in order: its photo (`sendPhoto`, the text as caption when it fits in 1024
        characters, else without one), its text (`sendMessage`, split within 4096 characters,
        the inline keyboard on the last piece), a link to its attachment, then its custom
        payload (`sendMessage` with `{"chat_id": ..., **custom}`: keys of `custom` win). The last
        call of each message has `describes` 1 and the others 0, so each message shown counts
        once; a message with nothing Telegram can show (no text, image, attachment URL or
        custom object) gives no call. Raises ValueError for an address without `chat_id`."""
        target = _target(address)
        calls: list[OutboundCall] = []
        query_id = address.get("callback_query_id")
        if query_id:
            calls.append(self._call("answerCallbackQuery", {"callback_query_id": query_id}, describes=0))
        for message in messages:
            calls.extend(one_message(self._message_calls(message, target)))
        return calls

    def _message_calls(self, message: Mapping[str, Any], target: Mapping[str, Any]) -> list[OutboundCall]:
        """The calls of one message, each with describes 0 (`render` marks the last one)."""
        text = text_of(message)
        buttons = buttons_of(message)
        if self.numbered(message):
            text, buttons = numbered_options(text, buttons), []
        keyboard = self._keyboard(buttons)
        calls: list[OutboundCall] = []
        image = message.get("image")
        if isinstance(image, str) and image:
            body: dict[str, Any] = {**target, "photo": image}
            if text and len(text) <= MAX_CAPTION:
                body["caption"] = text
                text = ""
            if keyboard is not None and not text:
                body["reply_markup"] = keyboard
                keyboard = None
            calls.append(self._call("sendPhoto", body))
        if keyboard is not None and not text:
            text = BUTTONS_ONLY_TEXT
        pieces = split_text(text, self.limits.max_text)
        for index, piece in enumerate(pieces):
            body = {**target, "text": piece}
            if keyboard is not None and index == len(pieces) - 1:
                body["reply_markup"] = keyboard
            calls.append(self._call("sendMessage", body))
        link = _attachment_link(message.get("attachment"))
        if link:
            calls.append(self._call("sendMessage", {**target, "text": link}))
        custom = message.get("custom")
        if isinstance(custom, Mapping):
            calls.append(self._call("sendMessage", {**target, **custom}))
        elif custom is not None:
            log.warning("a custom payload that is not a JSON object was not sent to Telegram")
        return calls

    def later_address(self, address: Mapping[str, Any]) -> Mapping[str, Any]:
        """Without the click of the latest message: it was answered with that message's reply."""
        return {key: value for key, value in address.items() if key != "callback_query_id"}

    def retry_after(self, response: requests.Response) -> float | None:
        """Telegram says how long to wait in the body of a 429 (`parameters.retry_after`), and
        perhaps in a Retry-After header too."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            parameters = body.get("parameters")
            if isinstance(parameters, dict):
                wait = parameters.get("retry_after")
                if isinstance(wait, int | float) and not isinstance(wait, bool) and wait >= 0:
                    return float(wait)
        return super().retry_after(response)

    def failure(self, response: requests.Response) -> str | None:
        """Why Telegram refused a call (None when it took it). A refused `answerCallbackQuery` is
        not a failure: it only stops the button's progress display, and Telegram refuses it
        once the click is answered or older than its time limit, which is the case for every
        later reply to the same address (an agent's message after a click). Refusing the whole
        reply for it would leave the customer without the messages that follow."""
        refused = super().failure(response)
        if refused is not None and urlsplit(response.url).path.endswith("/answerCallbackQuery"):
            log.info(
                "Telegram did not take the answer to a click (HTTP %d); the reply goes on",
                response.status_code,
            )
            return None
        return refused

    def _keyboard(self, buttons: Sequence[Mapping[str, str]]) -> dict[str, Any] | None:
        """An inline keyboard of `buttons`, one per row (None without buttons). An empty title
        shows the payload, since Telegram refuses a button without text."""
        if not buttons:
            return None
        rows = [
            [{"text": cut(b["title"], self.limits.max_title), "callback_data": b["payload"]}] for b in buttons
        ]
        return {"inline_keyboard": rows}

    def _call(self, method: str, body: Mapping[str, Any], describes: int = 0) -> OutboundCall:
        return OutboundCall(f"{self.api_url}/bot{self._token}/{method}", json=dict(body), describes=describes)


# -- reading updates -------------------------------------------------------------------------------
def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"the Telegram Update's {where} is not an object")
    return value


def _chat_id(value: object, where: str) -> int | str:
    """A chat id: an integer in Telegram's updates (a string is accepted, as the Bot API does)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value:
        return value
    raise Malformed(f"the Telegram Update's {where} is not a chat id")


def _message(message_id: str, message: Mapping[str, Any]) -> Inbound | None:
    """A person's message as an Inbound; None for bots' and service messages."""
    sender = message.get("from")
    if sender is not None and _object(sender, "message.from").get("is_bot") is True:
        return None
    chat = _object(message.get("chat"), "message.chat")
    chat_id = _chat_id(chat.get("id"), "message.chat.id")
    described = _describe(message)
    if described is None:
        return None
    text, attachments = described
    metadata = _person(sender if isinstance(sender, Mapping) else {})
    if isinstance(chat.get("type"), str):
        metadata["chat_type"] = chat["type"]
    if attachments:
        metadata["attachments"] = attachments
    address: dict[str, Any] = {"chat_id": chat_id}
    thread = message.get("message_thread_id")
    if message.get("is_topic_message") is True and _is_int(thread):
        address["message_thread_id"] = thread
    return Inbound(message_id, str(chat_id), text, address, metadata)


def _click(message_id: str, query: Mapping[str, Any]) -> Inbound | None:
    """A click on an inline keyboard button; None for a query without data (a game's)."""
    query_id = query.get("id")
    if not isinstance(query_id, str) or not query_id:
        raise Malformed("the Telegram Update's callback_query has no id")
    sender = _object(query.get("from"), "callback_query.from")
    data = query.get("data")
    if not isinstance(data, str):
        return None
    shown_in = query.get("message")
    if shown_in is None:
        # The message with the keyboard is too old to be sent along: the click came from the
        # customer's private chat with the bot, whose id is the customer's id.
        chat_id = _chat_id(sender.get("id"), "callback_query.from.id")
        chat_type: object = "private"
    else:
        chat = _object(_object(shown_in, "callback_query.message").get("chat"), "callback_query.message.chat")
        chat_id = _chat_id(chat.get("id"), "callback_query.message.chat.id")
        chat_type = chat.get("type")
    metadata = _person(sender)
    if isinstance(chat_type, str):
        metadata["chat_type"] = chat_type
    address = {"chat_id": chat_id, "callback_query_id": query_id}
    return Inbound(message_id, str(chat_id), data, address, metadata)


def _person(sender: Mapping[str, Any]) -> dict[str, Any]:
    """What the metadata keeps of the customer: the names they show and their app's language."""
    return {
        key: sender[key]
        for key in ("username", "first_name", "language_code")
        if isinstance(sender.get(key), str)
    }


def _describe(message: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """The message's text, or its attachment as "[kind ...] caption" with its details; None for
    a message the engine has nothing to read in (service messages, polls, dice ...)."""
    text = message.get("text")
    if isinstance(text, str) and text:
        return text, []
    found = _attachment(message)
    if found is None:
        return None
    label, details = found
    caption = message.get("caption")
    if isinstance(caption, str) and caption.strip():
        label = f"{label} {caption.strip()}"
    return label, [details]


def _attachment(message: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The label and details of the message's attachment, if it has one the engine describes.

    `animation` is read before `document`, since Telegram sets both for a GIF; a venue is read
    as its `location`, with the venue's title and address in the details."""
    photo = message.get("photo")
    if isinstance(photo, list) and photo:
        sizes = [size for size in photo if isinstance(size, dict)]
        if not sizes:
            raise Malformed("the Telegram message's photo has no sizes")
        largest = max(
            sizes,
            key=lambda size: (
                _number(size.get("width")) * _number(size.get("height")),
                _number(size.get("file_size")),
            ),
        )
        return "[image]", _file("image", largest, ("width", "height", "file_size"), "photo")
    for field, kind, label in (
        ("animation", "animation", "[video]"),
        ("video", "video", "[video]"),
        ("video_note", "video_note", "[video]"),
        ("voice", "voice", "[audio]"),
        ("audio", "audio", "[audio]"),
    ):
        if field in message:
            details = _file(kind, _object(message[field], f"message.{field}"), _FILE_FIELDS, field)
            return label, details
    if "document" in message:
        details = _file("file", _object(message["document"], "message.document"), _FILE_FIELDS, "document")
        name = details.get("name")
        return (f"[file {name}]" if name else "[file]"), details
    if "sticker" in message:
        details = _file("sticker", _object(message["sticker"], "message.sticker"), ("emoji",), "sticker")
        emoji = details.get("emoji")
        return (f"[sticker {emoji}]" if emoji else "[sticker]"), details
    if "location" in message:
        return _location(message)
    if "contact" in message:
        contact = _object(message["contact"], "message.contact")
        details = {"type": "contact"}
        details.update(_kept(contact, ("phone_number", "first_name", "last_name", "user_id")))
        phone = details.get("phone_number")
        return (f"[contact {phone}]" if phone else "[contact]"), details
    return None


#: The details kept of a sent file, besides its ids (Telegram's names; `file_name` becomes `name`).
_FILE_FIELDS = ("file_name", "mime_type", "file_size", "duration", "width", "height", "title", "performer")


def _file(kind: str, file: Mapping[str, Any], fields: Sequence[str], where: str) -> dict[str, Any]:
    """The details of a sent file: its ids and those of `fields` it has (`where`: its field)."""
    file_id = file.get("file_id")
    if not isinstance(file_id, str) or not file_id:
        raise Malformed(f"the Telegram message's {where} has no file_id")
    details: dict[str, Any] = {"type": kind, "file_id": file_id}
    details.update(_kept(file, ("file_unique_id", *fields)))
    if "file_name" in details:
        details["name"] = details.pop("file_name")
    return details


def _location(message: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    location = _object(message["location"], "message.location")
    latitude, longitude = location.get("latitude"), location.get("longitude")
    if not all(
        isinstance(value, int | float) and not isinstance(value, bool) for value in (latitude, longitude)
    ):
        raise Malformed("the Telegram message's location has no latitude and longitude")
    details: dict[str, Any] = {"type": "location", "latitude": latitude, "longitude": longitude}
    venue = message.get("venue")
    if isinstance(venue, dict):
        details.update(_kept(venue, ("title", "address")))
    return f"[location {latitude},{longitude}]", details


def _kept(source: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The plain (string or number) values of `fields` that `source` has."""
    return {
        name: source[name]
        for name in fields
        if isinstance(source.get(name), str | int | float) and not isinstance(source.get(name), bool)
    }


def _number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# -- writing replies -------------------------------------------------------------------------------
def _target(address: Mapping[str, Any]) -> dict[str, Any]:
    """The chat (and forum topic) the replies go to."""
    chat_id = address.get("chat_id")
    if chat_id is None or chat_id == "":
        raise ValueError("a Telegram address needs the chat_id the customer wrote from")
    target: dict[str, Any] = {"chat_id": chat_id}
    if address.get("message_thread_id") is not None:
        target["message_thread_id"] = address["message_thread_id"]
    return target


def _attachment_link(attachment: object) -> str | None:
    """The URL of a response's `attachment` (a URL, or an object with `url` or `payload.url` /
    `payload.src`), sent as a link Telegram previews; None without one."""
    if attachment is None:
        return None
    if isinstance(attachment, str) and attachment.strip():
        return attachment.strip()
    if isinstance(attachment, Mapping):
        payload = attachment.get("payload")
        for holder in (attachment, payload if isinstance(payload, Mapping) else {}):
            for key in ("url", "src"):
                value = holder.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
    log.warning("an attachment without a URL was not sent to Telegram")
    return None
