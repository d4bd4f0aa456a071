"""What every messenger connector is: the platform's webhook in, the platform's API calls out.

A connector is pure translation and checking; it never runs a turn or sends anything itself.
The hub (engine.server.channels) does the rest, the same way for every platform:

1. `subscribe(request)` answers a GET (Messenger/WhatsApp `hub.challenge`).
2. `verify(request, now)` checks authenticity before anything reads the body; `Rejected`
   becomes 401/403 and the request is logged without its content.
3. `challenge(request)` answers a signed handshake (Slack `url_verification`), if it is one.
4. `parse(request)` turns the payload into `Inbound` messages (none for events that are not
   customer messages: delivery receipts, typing, the bot's own echoes).
5. The hub records each message durably (deduplicated by `Inbound.message_id`), answers
   `ack(...)`, and processes the messages after the answer.
6. `render(messages, address)` turns the bot's messages (Rasa's REST shape) into the platform's
   API calls, which the hub sends with a pooled session (429 and Retry-After honoured).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import requests

from engine.channels.limits import ChannelLimits, shows_numbered
from engine.channels.text import buttons_of
from engine.http import retry_after


class Rejected(Exception):
    """The request failed verification: it is answered `status` and never processed. `reason`
    says why (for the log) without quoting the request's content."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class Malformed(Exception):
    """A verified request whose body is not what the platform sends (answered 400)."""


@dataclass(frozen=True)
class WebhookRequest:
    """A platform's request as the connector sees it. `headers` has lower-case names; `url` is
    the public URL the platform called (what Twilio signs)."""

    method: str
    url: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body as JSON; raises `Malformed`."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise Malformed(f"the body is not JSON: {error}") from None

    def form(self) -> dict[str, str]:
        """The body as an HTML form (application/x-www-form-urlencoded); raises `Malformed`."""
        try:
            return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        except (UnicodeDecodeError, ValueError) as error:
            raise Malformed(f"the body is not a form: {error}") from None


@dataclass(frozen=True)
class Answer:
    """An HTTP answer a connector gives the platform at once (a handshake, an acknowledgement)."""

    status: int = 200
    body: str = ""
    media_type: str = "text/plain"


@dataclass(frozen=True)
class Inbound:
    """One customer message from a platform.

    - `message_id`: the platform's id for this delivery, unique within the connector (Telegram's
      update_id, Slack's event_id, Messenger's mid, ...). A delivery with an id seen before is
      acknowledged and not processed again.
    - `sender_id`: the conversation's id (Rasa's choice for the platform: Telegram's chat id,
      Slack's user id, the phone number for WhatsApp and SMS ...).
    - `text`: what the engine reads: the typed text, a button's payload, or for an attachment a
      described message such as "[image] my broken lamp" (its details are in `metadata`).
    - `address`: where the replies go (JSON): chat, channel, thread, service URL ...
    - `metadata`: what else the platform said (attachments, the customer's display name); kept
      on the user event, visible to custom actions.
    """

    message_id: str
    sender_id: str
    text: str
    address: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundCall:
    """One call to the platform's API. Exactly one of `json` and `form` is the body (or neither).
    `describes` is how many of the bot's messages it carries (0 for housekeeping calls such as
    Telegram's answerCallbackQuery)."""

    url: str
    json: Mapping[str, Any] | None = None
    form: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"
    auth: tuple[str, str] | None = None
    describes: int = 1


def one_message(calls: Sequence[OutboundCall]) -> list[OutboundCall]:
    """The calls that show one bot message, counted as one: the message has reached the
    customer once its last call went through."""
    return [replace(call, describes=1 if index == len(calls) - 1 else 0) for index, call in enumerate(calls)]


class Connector:
    """Base of the six connectors. Subclasses set `name` and `limits` and implement `verify`,
    `parse` and `render`; the other methods have the common answers."""

    name: ClassVar[str]
    limits: ClassVar[ChannelLimits]

    def subscribe(self, request: WebhookRequest) -> Answer:
        """Answer a GET to the webhook (a subscription handshake); default: not used."""
        return Answer(405, "this webhook takes POST requests")

    def verify(self, request: WebhookRequest, now: float) -> None:
        """Raise `Rejected` unless the request provably comes from the platform."""
        raise NotImplementedError

    def challenge(self, request: WebhookRequest) -> Answer | None:
        """The answer to a verified handshake request, or None when it is not one."""
        return None

    def parse(self, request: WebhookRequest) -> list[Inbound]:
        """The customer messages of a verified request; raises `Malformed`."""
        raise NotImplementedError

    def ack(self, request: WebhookRequest) -> Answer:
        """The answer once the request's messages are recorded."""
        return Answer(200, "ok")

    def render(self, messages: Sequence[Mapping[str, Any]], address: Mapping[str, Any]) -> list[OutboundCall]:
        """The API calls that show `messages` (the bot's, in Rasa's REST shape: text, buttons,
        quick_replies, image, custom, attachment) at `address`, in order."""
        raise NotImplementedError

    def failure(self, response: requests.Response) -> str | None:
        """Why the platform refused a call (None when it accepted it). Default: any status that is
        not 2xx; Slack overrides it (it answers 200 with `"ok": false`)."""
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:300]}"

    def later_address(self, address: Mapping[str, Any]) -> Mapping[str, Any]:
        """The address for messages sent after the customer's turn (an agent's reply), made from
        the address of their latest message: default the same; a connector drops what belonged
        to that message alone (Telegram: the click to answer)."""
        return address

    def retry_after(self, response: requests.Response) -> float | None:
        """Seconds a 429 answer asks to wait before trying again (None: it does not say).
        Default: the Retry-After header; Telegram overrides it (the wait is in its JSON body)."""
        return retry_after(response.headers.get("Retry-After"))

    def numbered(self, message: Mapping[str, Any]) -> bool:
        """Whether `message`'s buttons are shown as numbered options on this platform (the
        customer then answers with a digit, which the hub reads as the option's payload)."""
        return shows_numbered(self.limits, buttons_of(message))

    def close(self) -> None:
        return None
