"""WhatsApp through the WhatsApp Business Cloud API (Meta's Graph API).

Meta POSTs a `whatsapp_business_account` notification for each batch of changes to a business
phone number: customer messages under `messages`, and the fate of the business's own messages
(sent, delivered, read, failed) under `statuses`. Each notification is signed with the Meta app's
App Secret in `X-Hub-Signature-256`; there is no timestamp, so a replayed notification is only
recognised by its message ids (`wamid...`), which Meta keeps when it retries.

Replies are `POST {api_url}/{phone_number_id}/messages` with the System User access token as a
Bearer token. Texts longer than 4096 characters are split; up to 3 buttons are reply buttons, 4 to
10 a list; more, a payload over 200 bytes, or buttons WhatsApp would refuse (two with the same
title or payload, an empty payload) are numbered options in the text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import requests

from engine.channels import meta
from engine.channels.base import (
    Answer,
    Connector,
    Inbound,
    Malformed,
    OutboundCall,
    WebhookRequest,
    one_message,
)
from engine.channels.limits import LIMITS, cut
from engine.channels.settings import WhatsAppConfig
from engine.channels.text import buttons_of, numbered_options, split_text, text_of

log = logging.getLogger(__name__)

#: The `object` of every WhatsApp Business Account notification.
OBJECT = "whatsapp_business_account"
#: Longest body text of an interactive message; a longer text goes first as text messages.
MAX_BODY = 1024
#: The body of an interactive message whose bot message has no text (WhatsApp requires one).
NO_TEXT_BODY = "Please choose:"
#: The label of the button that opens a list (at most 20 characters).
LIST_BUTTON = "Choose"

_MEDIA = ("image", "video", "audio", "document", "sticker")
#: Message types that are not something the customer said: ignored.
_NOT_MESSAGES = frozenset({"reaction", "system", "request_welcome"})
#: Media types a Rasa `attachment` dict may name, and the WhatsApp message type each becomes.
_ATTACHMENT_TYPES = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "file": "document",
    "document": "document",
}


class WhatsAppConnector(Connector):
    """Translates WhatsApp Cloud API webhooks to `Inbound` messages and bot messages to Graph API
    calls. `sender_id` is the customer's WhatsApp id (`wa_id`, their phone number in digits)."""

    name = "whatsapp"
    limits = LIMITS["whatsapp"]

    def __init__(
        self,
        access_token: str,
        app_secret: str,
        verify_token: str,
        *,
        api_url: str,
        session: requests.Session,
    ) -> None:
        """Raises ValueError for an empty credential (every one is needed)."""
        for what, value in (
            ("access token", access_token),
            ("App Secret", app_secret),
            ("verify token", verify_token),
        ):
            if not value:
                raise ValueError(f"the WhatsApp connector needs a non-empty {what}")
        self.access_token = access_token
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.api_url = api_url.rstrip("/")
        self.session = session

    @classmethod
    def from_config(
        cls, config: WhatsAppConfig, session: requests.Session, environ: Mapping[str, str] | None = None
    ) -> WhatsAppConnector:
        """The connector `config` describes, with credentials from the environment; raises
        `MissingCredential` naming the variable that is not set."""
        access_token = config.secret(
            "whatsapp",
            config.access_token_variable,
            "a System User access token with the whatsapp_business_messaging permission "
            "(Meta Business Settings > Users > System users > Generate new token)",
            environ,
        )
        app_secret = config.secret(
            "whatsapp",
            config.app_secret_variable,
            "the Meta app's App Secret (App Dashboard > App settings > Basic > App secret)",
            environ,
        )
        verify_token = config.secret(
            "whatsapp",
            config.verify_token_variable,
            "the Verify token typed into the app's webhook settings (WhatsApp > Configuration > "
            "Webhook; any string you choose)",
            environ,
        )
        return cls(access_token, app_secret, verify_token, api_url=config.api_url, session=session)

    # -- the handshake and the signature -----------------------------------------------------------
    def subscribe(self, request: WebhookRequest) -> Answer:
        """Meta's subscription check (see engine.channels.meta)."""
        return meta.subscription(request, self.verify_token)

    def verify(self, request: WebhookRequest, now: float) -> None:
        """`X-Hub-Signature-256` with the App Secret (see engine.channels.meta); `now` is not
        used: Meta signs no timestamp (retries are deduplicated by their message ids)."""
        meta.verify_signature(request, self.app_secret)

    # -- customer messages -------------------------------------------------------------------------
    def parse(self, request: WebhookRequest) -> list[Inbound]:
        """The customer messages of a notification. Statuses, reactions, system messages and
        changes other than `messages` give none; a body that is not a WhatsApp Business Account
        notification raises `Malformed`."""
        body = request.json()
        if not isinstance(body, dict) or body.get("object") != OBJECT:
            raise Malformed(f"not a WhatsApp notification: the body's object is not {OBJECT!r}")
        found: list[Inbound] = []
        for entry in _list(body, "entry"):
            for change in _list(_dict(entry, "entry"), "changes"):
                change = _dict(change, "change")
                if change.get("field") != "messages":
                    continue
                found.extend(_change_messages(_dict(change.get("value"), "change value")))
        return found

    # -- the bot's messages ------------------------------------------------------------------------
    def render(self, messages: Sequence[Mapping[str, Any]], address: Mapping[str, Any]) -> list[OutboundCall]:
        """One Graph API call per WhatsApp message, in order: for each bot message its text
        (split, with its buttons on the last piece), then `custom`, `image` and `attachment`.
        Raises ValueError for an address without `to` and `phone_number_id`."""
        to, phone_number_id = address.get("to"), address.get("phone_number_id")
        if not isinstance(to, str) or not to or not isinstance(phone_number_id, str) or not phone_number_id:
            raise ValueError(
                "a WhatsApp address needs 'to' (the wa_id) and 'phone_number_id' (the business number)"
            )
        url = f"{self.api_url}/{phone_number_id}/messages"
        headers = {"Authorization": f"Bearer {self.access_token}"}
        calls: list[OutboundCall] = []
        for message in messages:
            calls.extend(
                one_message([OutboundCall(url, json=b, headers=headers) for b in self._bodies(message, to)])
            )
        return calls

    def _bodies(self, message: Mapping[str, Any], to: str) -> list[dict[str, Any]]:
        """The request bodies that show one bot message."""
        pieces, interactive = self._texts_and_buttons(message, to)
        bodies = [_message(to, "text", _text(piece)) for piece in pieces]
        if interactive is not None:
            bodies.append(interactive)
        custom = message.get("custom")
        if isinstance(custom, Mapping):
            bodies.append({"messaging_product": "whatsapp", "to": to, **custom})
        image = message.get("image")
        if isinstance(image, str) and image:
            bodies.append(_message(to, "image", {"link": image}))
        attachment = message.get("attachment")
        if attachment:
            bodies.append(_attachment(to, attachment))
        return bodies

    def _texts_and_buttons(
        self, message: Mapping[str, Any], to: str
    ) -> tuple[list[str], dict[str, Any] | None]:
        """The text messages' bodies, and the interactive message that shows the buttons (if any)."""
        text = text_of(message)
        buttons = buttons_of(message)
        if buttons and self.numbered(message):
            text, buttons = numbered_options(text or None, buttons), []
        pieces = split_text(text, self.limits.max_text) if text else []
        if not buttons:
            return pieces, None
        last = split_text(pieces.pop(), MAX_BODY) if pieces else [NO_TEXT_BODY]
        pieces.extend(last[:-1])
        return pieces, _message(to, "interactive", self._interactive(last[-1], buttons))

    def _interactive(self, body: str, buttons: Sequence[Mapping[str, str]]) -> dict[str, Any]:
        """Reply buttons (up to 3) or a one-section list (4 to 10) under `body` (see `LIMITS`)."""
        most = self.limits.title_limit(len(buttons))
        if self.limits.list_after is None or len(buttons) <= self.limits.list_after:
            replies = [
                {"type": "reply", "reply": {"id": b["payload"], "title": cut(b["title"], most)}}
                for b in buttons
            ]
            return {"type": "button", "body": {"text": body}, "action": {"buttons": replies}}
        rows = [{"id": b["payload"], "title": cut(b["title"], most)} for b in buttons]
        return {
            "type": "list",
            "body": {"text": body},
            "action": {"button": LIST_BUTTON, "sections": [{"rows": rows}]},
        }


# -- parsing helpers -------------------------------------------------------------------------------
def _list(container: Mapping[str, Any], key: str) -> list[Any]:
    value = container.get(key, [])
    if not isinstance(value, list):
        raise Malformed(f"'{key}' of a WhatsApp notification must be a list")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"a WhatsApp notification's {what} must be an object")
    return value


def _string(container: Mapping[str, Any], key: str, what: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"a WhatsApp {what} has no '{key}'")
    return value


def _change_messages(value: dict[str, Any]) -> list[Inbound]:
    """The customer messages of one `messages` change (its statuses are only logged)."""
    for status in _list(value, "statuses"):
        _log_failure(_dict(status, "status"))
    messages = _list(value, "messages")
    if not messages:
        return []
    metadata = _dict(value.get("metadata"), "metadata")
    phone_number_id = _string(metadata, "phone_number_id", "notification's metadata")
    names: dict[str, str] = {}
    for contact in _list(value, "contacts"):
        contact = _dict(contact, "contact")
        profile = contact.get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        if isinstance(contact.get("wa_id"), str) and isinstance(name, str) and name:
            names[contact["wa_id"]] = name
    found: list[Inbound] = []
    for message in messages:
        inbound = _inbound(_dict(message, "message"), phone_number_id, names)
        if inbound is not None:
            found.append(inbound)
    return found


def _log_failure(status: Mapping[str, Any]) -> None:
    """A message of the business's that WhatsApp could not deliver (the 24-hour window closed,
    the number is not on WhatsApp ...): worth a warning, since the API had accepted it."""
    if status.get("status") != "failed":
        return
    errors = status.get("errors")
    error = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    log.warning(
        "WhatsApp could not deliver message %s: error %s (%s)",
        status.get("id"),
        error.get("code", "unknown"),
        error.get("title") or error.get("message") or "no reason given",
    )


def _inbound(message: dict[str, Any], phone_number_id: str, names: Mapping[str, str]) -> Inbound | None:
    """One customer message, or None for one that is not (a reaction, a system notice)."""
    kind = _string(message, "type", "message")
    if kind in _NOT_MESSAGES:
        return None
    sender = _string(message, "from", "message")
    message_id = _string(message, "id", "message")
    text, attachments = _content(kind, message)
    metadata: dict[str, Any] = {}
    if sender in names:
        metadata["name"] = names[sender]
    if attachments:
        metadata["attachments"] = attachments
    if text == UNSUPPORTED:
        metadata["message_type"] = kind
    return Inbound(
        message_id=message_id,
        sender_id=sender,
        text=text,
        address={"to": sender, "phone_number_id": phone_number_id},
        metadata=metadata,
    )


#: The text of a message WhatsApp (or this connector) cannot show.
UNSUPPORTED = "[unsupported message]"


def _content(kind: str, message: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """What the engine reads of a message, and its attachments' details."""
    if kind == "text":
        return _string(_dict(message.get("text"), "text message"), "body", "text message"), []
    if kind == "interactive":
        return _interactive_reply(_dict(message.get("interactive"), "interactive message")), []
    if kind == "button":
        button = _dict(message.get("button"), "button message")
        payload = button.get("payload") or button.get("text")
        if not isinstance(payload, str) or not payload:
            raise Malformed("a WhatsApp button message has neither 'payload' nor 'text'")
        return payload, []
    if kind in _MEDIA:
        return _media(kind, _dict(message.get(kind), f"{kind} message"))
    if kind == "location":
        return _location(_dict(message.get("location"), "location message"))
    if kind == "contacts":
        return _contacts(_list(message, "contacts"))
    return UNSUPPORTED, []


def _interactive_reply(interactive: Mapping[str, Any]) -> str:
    """The id of the reply button or list row the customer chose: the payload `render` gave it."""
    kind = interactive.get("type")
    if kind in ("button_reply", "list_reply"):
        return _string(_dict(interactive.get(kind), f"{kind}"), "id", f"{kind}")
    return UNSUPPORTED


def _media(kind: str, media: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """ "[image] caption", "[file invoice.pdf]", "[audio]" ... with the media id to download it."""
    details: dict[str, Any] = {"type": kind}
    for key in ("id", "mime_type", "filename"):
        if isinstance(media.get(key), str):
            details[key] = media[key]
    if media.get("voice") is True:
        details["voice"] = True
    if kind == "document":
        filename = details.get("filename")
        label = f"[file {filename}]" if filename else "[file]"
    else:
        label = f"[{kind}]"
    caption = media.get("caption")
    text = f"{label} {caption.strip()}" if isinstance(caption, str) and caption.strip() else label
    return text, [details]


def _location(location: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """ "[location 51.5074,-0.1278] name, address" with the coordinates in the details."""
    latitude, longitude = location.get("latitude"), location.get("longitude")
    if not _is_number(latitude) or not _is_number(longitude):
        raise Malformed("a WhatsApp location message needs a numeric latitude and longitude")
    details: dict[str, Any] = {"type": "location", "latitude": latitude, "longitude": longitude}
    words: list[str] = []
    for key in ("name", "address"):
        value = location.get(key)
        if isinstance(value, str) and value.strip():
            details[key] = value
            words.append(value.strip())
    label = f"[location {latitude},{longitude}]"
    return (f"{label} {', '.join(words)}" if words else label), [details]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _contacts(contacts: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """ "[contact Jane Doe]" (names joined by commas) with each card's name and phone numbers."""
    details: list[dict[str, Any]] = []
    for card in contacts:
        card = _dict(card, "contact card")
        name = card.get("name")
        formatted = name.get("formatted_name") if isinstance(name, dict) else None
        phones = [
            phone["phone"]
            for phone in card.get("phones") or []
            if isinstance(phone, dict) and isinstance(phone.get("phone"), str)
        ]
        details.append(
            {"type": "contact", "name": formatted if isinstance(formatted, str) else "", "phones": phones}
        )
    names = ", ".join(d["name"] for d in details if d["name"])
    return (f"[contact {names}]" if names else "[contact]"), details


# -- rendering helpers -----------------------------------------------------------------------------
def _text(body: str) -> dict[str, Any]:
    return {"body": body, "preview_url": False}


def _message(to: str, kind: str, content: dict[str, Any]) -> dict[str, Any]:
    """A Cloud API message body of type `kind`."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": kind,
        kind: content,
    }


def _attachment(to: str, attachment: Any) -> dict[str, Any]:
    """Rasa's `attachment`: {"type": image|video|audio|file|document, "payload": {"url": ...}} (or
    "url" at the top) becomes that media message; anything else is sent as text (a URL as it is)."""
    if isinstance(attachment, Mapping):
        kind = _ATTACHMENT_TYPES.get(str(attachment.get("type", "")))
        payload = attachment.get("payload")
        url = payload.get("url") if isinstance(payload, Mapping) else attachment.get("url")
        if kind is not None and isinstance(url, str) and url:
            return _message(to, kind, {"link": url})
        text = json.dumps(attachment, ensure_ascii=False, default=str)
    else:
        text = str(attachment)
    return _message(to, "text", _text(text[: LIMITS["whatsapp"].max_text]))
