"""Twilio's side of the SMS connector for tests: incoming-message webhooks signed as Twilio signs
them, and readers of the Messages API calls the connector makes.

SMS has no buttons: the bot's options arrive as numbered lines and the customer "clicks" one by
texting its number. So `sent_buttons` reports each option's payload as that number, and
`customer_click` texts the payload it is given (the number) as the message's Body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import urlencode

from engine.channels.settings import TwilioConfig
from tests.channels.fake_platform import Captured, Delivery

WEBHOOK = "/webhooks/twilio/webhook"
ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "f00dfeedc0ffee0123456789abcdef01"
ENVIRON: dict[str, str] = {
    "PARLEY_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "PARLEY_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
}
#: The assistant's Twilio number, which customers text.
BOT_NUMBER = "+15017122661"

_OPTION = re.compile(r"^(\d+)\. (.*)$")


def config(api_url: str) -> TwilioConfig:
    """Settings with the Messages API at `api_url` and the credentials of ENVIRON."""
    return TwilioConfig(api_url=api_url)


def sign(url: str, fields: Mapping[str, str], auth_token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature as Twilio computes it: HMAC-SHA1 of the URL followed by each field's
    name and value in name order, base64."""
    data = url + "".join(name + fields[name] for name in sorted(fields))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def delivery(fields: Mapping[str, str], *, webhook_url: str, auth_token: str = AUTH_TOKEN) -> Delivery:
    """A webhook POST of `fields`, signed for `webhook_url` with `auth_token`."""
    return Delivery(
        body=urlencode(fields).encode("utf-8"),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(webhook_url, fields, auth_token),
            "User-Agent": "TwilioProxy/1.1",
        },
    )


def incoming(sender: str, body: str, message_id: str, **extra: str) -> dict[str, str]:
    """The form of Twilio's incoming-message webhook (an SMS from a UK number to BOT_NUMBER, as
    Twilio's documentation shows it), with `extra` fields added or replaced."""
    fields = {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": message_id,
        "NumMedia": "0",
        "ToCity": "SAN FRANCISCO",
        "FromZip": "",
        "SmsSid": message_id,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "GB",
        "To": BOT_NUMBER,
        "ToZip": "94105",
        "NumSegments": "1",
        "MessageSid": message_id,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    fields.update(extra)
    return fields


def customer_text(
    sender: str, text: str, message_id: str, *, now: float, webhook_url: str, api_url: str
) -> Delivery:
    """`sender` (a phone number) texts `text` to the assistant's number; `message_id` is the
    MessageSid (Twilio's are "SM" and 32 hex digits; any string works here)."""
    return delivery(incoming(sender, text, message_id), webhook_url=webhook_url)


def customer_click(
    sender: str, title: str, payload: str, message_id: str, *, now: float, webhook_url: str, api_url: str
) -> Delivery:
    """`sender` chooses an option: by SMS that is texting its number, which `sent_buttons` gives
    as the payload; `title` is not sent (SMS carries only the typed text)."""
    return delivery(incoming(sender, payload, message_id), webhook_url=webhook_url)


def _split_options(body: str) -> tuple[str, list[tuple[str, str]]]:
    """`body` without its trailing block of numbered options ("1. Title" lines numbered from 1),
    and the options as (title, number)."""
    head, _, tail = body.rpartition("\n\n")
    options: list[tuple[str, str]] = []
    for expected, line in enumerate(tail.split("\n"), start=1):
        match = _OPTION.match(line)
        if match is None or int(match.group(1)) != expected:
            return body, []
        options.append((match.group(2), match.group(1)))
    return head, options


def sent_texts(call: Captured) -> list[str]:
    """The text of the SMS a Messages API call sends (without the numbered options, which
    `sent_buttons` reads); [] for media without text and for calls to other endpoints."""
    if not call.path.endswith("/Messages.json"):
        return []
    text, _ = _split_options(call.form().get("Body", ""))
    return [text] if text else []


def sent_buttons(call: Captured) -> list[tuple[str, str]]:
    """The numbered options the SMS shows, as (title, the number a customer texts to choose it)."""
    if not call.path.endswith("/Messages.json"):
        return []
    return _split_options(call.form().get("Body", ""))[1]
