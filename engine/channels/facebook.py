"""Facebook Messenger through the Meta Graph API: a Page's conversations with its customers.

In: Meta POSTs `{"object": "page", "entry": [{"id": <page id>, "time", "messaging": [<event>...]}]}`
to the webhook, signed in `X-Hub-Signature-256` (`sha256=<hex>`, the HMAC-SHA256 of the raw body
keyed with the App Secret). One request may carry several entries and several events each. The
customer messages among them are text messages, quick-reply clicks (the reply's payload is read),
button clicks (`postback`, its payload is read) and attachments (described as "[image]", "[file
invoice.pdf]", "[location 51.5074,-0.1278]" ...). Delivery and read receipts, reactions, opt-ins,
referrals and the Page's own messages (`is_echo`) are not. Meta signs no timestamp, so there is no
replay window: a retried delivery carries the same message id (`mid`) and is deduplicated by it.

The subscription handshake is a GET with `hub.mode=subscribe`, `hub.verify_token` and
`hub.challenge`: when the verify token is the configured one the challenge is answered back.

Out: one `POST {api_url}/me/messages` per Messenger message, with the Page access token as a
bearer token (never in the URL, so it stays out of access logs) and the body
`{"recipient": {"id": <PSID>}, "messaging_type": "RESPONSE", "message": {...}}`. Messenger takes
RESPONSE only within 24 hours of the customer's message; what is sent after the customer's turn
(an agent's reply, the desk's notices) more than 24 hours after it goes with `"messaging_type":
"MESSAGE_TAG", "tag": "HUMAN_AGENT"`, accepted for 7 days once the app has the Human Agent
feature.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

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
from engine.channels.settings import FacebookConfig
from engine.channels.text import buttons_of, numbered_options, split_text, text_of

#: Most buttons a button template shows; more (up to the limit of 13) become quick replies.
TEMPLATE_MAX_BUTTONS = 3
#: Longest text of a button template (a plain message may have 2000 characters).
TEMPLATE_MAX_TEXT = 640
#: The text of a message that has buttons but no text: Messenger shows no buttons without one.
NO_TEXT = "…"
#: Messenger takes RESPONSE messages within 24 hours of the customer's last message.
RESPONSE_WINDOW_SECONDS = 24 * 3600
#: Set by `later_address`: the messages are not the answer to the customer's turn.
LATER = "later"

_WHERE_SECRET = "the App Secret of the Meta app that owns the webhook (App settings > Basic > App secret)"

Body = dict[str, Any]


class FacebookConnector(Connector):
    """Messenger for one Facebook Page: verifies Meta's signature, reads the Page's messaging
    events and renders the bot's messages as Send API calls."""

    name = "facebook"
    limits = LIMITS["facebook"]

    def __init__(
        self,
        page_access_token: str,
        app_secret: str,
        verify_token: str,
        *,
        api_url: str,
        session: requests.Session,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.session = session
        self.clock = clock
        self._app_secret = app_secret
        self._verify_token = verify_token
        self._headers = {"Authorization": f"Bearer {page_access_token}"}

    @classmethod
    def from_config(
        cls, config: FacebookConfig, session: requests.Session, environ: Mapping[str, str] | None = None
    ) -> FacebookConnector:
        """The connector `config` describes, with its credentials read from the environment
        (`environ`, by default the process's); raises `MissingCredential` naming a variable that
        is not set."""
        token = config.secret(
            "facebook",
            config.page_access_token_variable,
            "the Page access token (Meta app dashboard > Messenger > Messenger API Settings > "
            "Generate access tokens > Generate, for the Page)",
            environ,
        )
        app_secret = config.secret("facebook", config.app_secret_variable, _WHERE_SECRET, environ)
        verify_token = config.secret(
            "facebook",
            config.verify_token_variable,
            "the Verify Token typed into the webhook's settings (Messenger API Settings > Configure "
            "webhooks), a string you choose",
            environ,
        )
        return cls(token, app_secret, verify_token, api_url=config.api_url, session=session)

    # -- in ----------------------------------------------------------------------------------------
    def subscribe(self, request: WebhookRequest) -> Answer:
        """Meta's subscription check (see engine.channels.meta)."""
        return meta.subscription(request, self._verify_token)

    def verify(self, request: WebhookRequest, now: float) -> None:
        """`X-Hub-Signature-256` with the App Secret (see engine.channels.meta); `now` is not
        used: Meta signs no timestamp (retries are deduplicated by `mid`)."""
        meta.verify_signature(request, self._app_secret)

    def parse(self, request: WebhookRequest) -> list[Inbound]:
        """The customer messages of a Page webhook: every entry's `messaging` events (Meta
        batches several). Delivery and read receipts, reactions, opt-ins, echoes of the Page's
        own messages and `standby` events (another app has the thread) give none; a body that is
        not a Page webhook raises `Malformed`."""
        body = request.json()
        if not isinstance(body, dict) or body.get("object") != "page":
            raise Malformed('not a Messenger webhook: its "object" must be "page"')
        entries = body.get("entry")
        if not isinstance(entries, list):
            raise Malformed("a Messenger webhook has an 'entry' list")
        found: list[Inbound] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise Malformed("each entry of a Messenger webhook is an object")
            events = entry.get("messaging", [])
            if not isinstance(events, list):
                raise Malformed("an entry's 'messaging' is a list")
            page_id = _string(entry.get("id"))
            for event in events:
                inbound = _inbound(event, page_id)
                if inbound is not None:
                    found.append(inbound)
        return found

    # -- out ---------------------------------------------------------------------------------------
    def render(self, messages: Sequence[Mapping[str, Any]], address: Mapping[str, Any]) -> list[OutboundCall]:
        """One Send API call per Messenger message, in order; the last call of each bot message
        `describes` it. Raises ValueError for an address without `recipient_id`."""
        recipient = address.get("recipient_id")
        if not isinstance(recipient, str) or not recipient:
            raise ValueError(
                "a Messenger address is {'recipient_id': <the customer's page-scoped id>}, "
                f"not {dict(address)!r}"
            )
        calls: list[OutboundCall] = []
        for message in messages:
            envelope = _envelope(recipient, tagged=self._needs_tag(address, message))
            bodies = self._bodies(message)
            calls.extend(
                one_message(
                    [
                        OutboundCall(self._url(), json={**envelope, "message": body}, headers=self._headers)
                        for body in bodies
                    ]
                )
            )
        return calls

    def later_address(self, address: Mapping[str, Any]) -> Mapping[str, Any]:
        """Messages sent after the customer's turn (an agent's, the desk's notices, the bot's on
        a hand-back) may come after Messenger's 24-hour window: `render` then tags them."""
        return {**address, LATER: True}

    def _needs_tag(self, address: Mapping[str, Any], message: Mapping[str, Any]) -> bool:
        """Whether a message goes out as HUMAN_AGENT instead of RESPONSE: when it is sent after the
        customer's turn and more than 24 hours after they wrote (or, when that time is unknown,
        when an agent wrote it)."""
        if not address.get(LATER):
            return False
        wrote_at = address.get("customer_wrote_at")
        if not isinstance(wrote_at, (int, float)):
            return bool(message.get("agent"))
        return self.clock() - wrote_at > RESPONSE_WINDOW_SECONDS

    def _url(self) -> str:
        return f"{self.api_url}/me/messages"

    def _bodies(self, message: Mapping[str, Any]) -> list[Body]:
        """The Messenger `message` objects showing one bot message, in Rasa's order: the text
        (with its buttons), custom, image, attachment, elements."""
        text = text_of(message)
        bodies: list[Body] = []
        buttons = buttons_of(message)
        if buttons and self.numbered(message):
            bodies += _texts(numbered_options(text, buttons), self.limits.max_text)
        elif buttons and message.get("buttons") and len(buttons) <= TEMPLATE_MAX_BUTTONS:
            bodies += self._button_template(text, buttons)
        elif buttons:
            bodies += self._quick_replies(text, buttons)
        else:
            bodies += _texts(text, self.limits.max_text)
        custom = message.get("custom")
        if isinstance(custom, Mapping) and custom:
            bodies.append(dict(custom))
        image = message.get("image")
        if isinstance(image, str) and image:
            bodies.append({"attachment": {"type": "image", "payload": {"url": image, "is_reusable": True}}})
        attachment = message.get("attachment")
        if attachment:
            bodies.append(_attachment_body(attachment))
        elements = message.get("elements")
        if isinstance(elements, list) and elements:
            bodies.append(_generic_template(elements))
        return bodies

    def _button_template(self, text: str, buttons: Sequence[Mapping[str, str]]) -> list[Body]:
        """Plain messages for all but the last 640 characters, then a button template with them."""
        pieces = split_text(text, self.limits.max_text) or [NO_TEXT]
        pieces[-1:] = split_text(pieces[-1], TEMPLATE_MAX_TEXT)
        template = {
            "template_type": "button",
            "text": pieces[-1],
            "buttons": [
                {"type": "postback", "title": self._title(button), "payload": button["payload"]}
                for button in buttons
            ],
        }
        return [{"text": piece} for piece in pieces[:-1]] + [
            {"attachment": {"type": "template", "payload": template}}
        ]

    def _quick_replies(self, text: str, buttons: Sequence[Mapping[str, str]]) -> list[Body]:
        pieces = split_text(text, self.limits.max_text) or [NO_TEXT]
        replies = [
            {"content_type": "text", "title": self._title(button), "payload": button["payload"]}
            for button in buttons
        ]
        return [{"text": piece} for piece in pieces[:-1]] + [{"text": pieces[-1], "quick_replies": replies}]

    def _title(self, button: Mapping[str, str]) -> str:
        """The button's title within Messenger's 20 characters."""
        return cut(button["title"], self.limits.max_title)


# -- parsing helpers -------------------------------------------------------------------------------
def _inbound(event: Any, page_id: str) -> Inbound | None:
    """The customer message of one messaging event, or None for the other kinds."""
    if not isinstance(event, dict):
        raise Malformed("each messaging event is an object")
    message, postback = event.get("message"), event.get("postback")
    if message is None and postback is None:
        return None  # delivery, read, reaction, optin, referral, message_edit, account_linking ...
    who = event.get("sender")
    sender = _string(who.get("id")) if isinstance(who, dict) else ""
    if not sender:
        raise Malformed("a messaging event's 'sender' has no 'id'")
    if sender == page_id:
        return None  # the Page's own message
    metadata: dict[str, Any] = {"page_id": page_id}
    address = _address(sender, event.get("timestamp"))
    if isinstance(message, dict):
        return _message(message, address, metadata)
    if isinstance(postback, dict):
        return _postback(postback, event.get("timestamp"), address, metadata)
    raise Malformed("a messaging event's 'message' or 'postback' is an object")


def _address(sender: str, timestamp: Any) -> dict[str, Any]:
    """Where replies go, and when the customer wrote (epoch seconds; Meta gives milliseconds):
    the Send API's 24-hour window is counted from it."""
    address: dict[str, Any] = {"recipient_id": sender}
    if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool) and timestamp > 0:
        address["customer_wrote_at"] = timestamp / 1000
    return address


def _message(message: dict[str, Any], address: dict[str, Any], metadata: dict[str, Any]) -> Inbound | None:
    if message.get("is_echo"):
        return None
    mid = _string(message.get("mid"))
    if not mid:
        raise Malformed("a Messenger message has no 'mid'")
    typed = message.get("text") if isinstance(message.get("text"), str) else ""
    attachments = message.get("attachments", [])
    if attachments is None:
        attachments = []
    if not isinstance(attachments, list):
        raise Malformed("a message's 'attachments' is a list")
    sticker = message.get("sticker_id")
    described = [_attachment(item, sticker) for item in attachments]
    if described:
        metadata["attachments"] = [details for _, details in described]
    reply_to = message.get("reply_to")
    if isinstance(reply_to, dict) and reply_to.get("mid"):
        metadata["reply_to"] = _string(reply_to.get("mid"))
    quick_reply = message.get("quick_reply")
    if isinstance(quick_reply, dict) and quick_reply.get("payload") is not None:
        metadata["button"] = {"kind": "quick_reply", "title": typed}
        text = _string(quick_reply.get("payload"))
    elif typed:
        text = typed  # a shared link comes as its URL here and a "fallback" attachment
    else:
        text = " ".join(description for description, _ in described)
    if not text:
        return None
    return Inbound(mid, address["recipient_id"], text, address, metadata)


def _postback(
    postback: dict[str, Any], timestamp: Any, address: dict[str, Any], metadata: dict[str, Any]
) -> Inbound | None:
    sender = address["recipient_id"]
    title = _string(postback.get("title"))
    text = _string(postback.get("payload")) or title
    if not text:
        return None
    mid = _string(postback.get("mid"))
    if not mid:
        # Older API versions give postbacks no mid; a retry repeats the event's timestamp.
        if timestamp is None:
            raise Malformed("a postback has neither 'mid' nor a 'timestamp'")
        mid = f"postback:{sender}:{_string(timestamp)}"
    metadata["button"] = {"kind": "postback", "title": title}
    return Inbound(mid, sender, text, address, metadata)


def _attachment(item: Any, sticker: Any) -> tuple[str, dict[str, Any]]:
    """An attachment as a description ("[image]") and its details for `metadata`."""
    if not isinstance(item, dict):
        raise Malformed("each attachment of a message is an object")
    kind = _string(item.get("type")) or "attachment"
    found = item.get("payload")
    payload: dict[str, Any] = found if isinstance(found, dict) else {}
    details: dict[str, Any] = {"type": kind}
    url = payload.get("url") or item.get("url") or item.get("URL")
    if isinstance(url, str) and url:
        details["url"] = url
    sticker_id = payload.get("sticker_id") or (sticker if kind == "image" else None)
    if kind == "image" and sticker_id is not None:
        details["type"] = "sticker"
        details["sticker_id"] = _string(sticker_id)
        return "[sticker]", details
    if kind == "location":
        return _location(payload, details)
    if kind == "file" and "url" in details:
        name = _file_name(details["url"])
        if name:
            details["name"] = name
            return f"[file {name}]", details
    if kind == "fallback":
        title = _string(item.get("title"))
        if title:
            details["title"] = title
        return ("[link] " + title if title else "[link]"), details
    return f"[{kind}]", details


def _location(payload: Mapping[str, Any], details: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    coordinates = payload.get("coordinates")
    if isinstance(coordinates, dict):
        lat, long = coordinates.get("lat"), coordinates.get("long")
        if _number(lat) and _number(long):
            details["latitude"], details["longitude"] = lat, long
            return f"[location {lat},{long}]", details
    return "[location]", details


def _file_name(url: str) -> str | None:
    """The file's name: Messenger's file URLs end in it (…/12345_n.pdf/invoice.pdf?…)."""
    last = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    stem, dot, extension = last.rpartition(".")
    return last if dot and stem and extension else None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string(value: Any) -> str:
    """An id or text as a string (Meta sends some ids as numbers); "" for None."""
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)


# -- rendering helpers -----------------------------------------------------------------------------
def _envelope(recipient: str, *, tagged: bool) -> Body:
    """Recipient and messaging type: RESPONSE within Messenger's 24 hours of the customer's
    message; after them HUMAN_AGENT (accepted for 7 days, with the Human Agent feature)."""
    if tagged:
        return {"recipient": {"id": recipient}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    return {"recipient": {"id": recipient}, "messaging_type": "RESPONSE"}


def _texts(text: str, limit: int) -> list[Body]:
    return [{"text": piece} for piece in split_text(text, limit)]


def _attachment_body(attachment: Any) -> Body:
    """A Messenger attachment as it is (`{"type", "payload"}`), a URL as a file, anything else
    as the text "Attachment: ..." (what Rasa's channels send for attachments they cannot show)."""
    if isinstance(attachment, Mapping) and "type" in attachment and "payload" in attachment:
        return {"attachment": dict(attachment)}
    if isinstance(attachment, str) and attachment.startswith(("https://", "http://")):
        return {"attachment": {"type": "file", "payload": {"url": attachment, "is_reusable": True}}}
    return {"text": f"Attachment: {attachment}"}


def _generic_template(elements: list[Any]) -> Body:
    """Rasa's `elements` as a generic template (a carousel); buttons without a type are postbacks."""
    shown: list[Any] = []
    for element in elements:
        if isinstance(element, Mapping) and isinstance(element.get("buttons"), list):
            buttons = [
                {"type": "postback", **button}
                if isinstance(button, Mapping) and "type" not in button
                else button
                for button in element["buttons"]
            ]
            shown.append({**element, "buttons": buttons})
        else:
            shown.append(element)
    return {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": shown}}}
