"""SMS and MMS through Twilio Programmable Messaging.

Twilio POSTs every message a customer texts to one of the account's numbers (or to a Messaging
Service) to the webhook as a form (application/x-www-form-urlencoded), signed in
`X-Twilio-Signature`. The webhook answers an empty TwiML document, so Twilio sends nothing by
itself; the replies go out afterwards through the Messages REST API
(`POST /2010-04-01/Accounts/<AccountSid>/Messages.json`, HTTP basic auth with the Account SID and
the Auth Token).

Authenticity: the signature is base64(HMAC-SHA1(Auth Token, URL + every POST parameter's name and
value, in the parameters' sorted order)). The URL is the one configured in Twilio, exactly, with
its query string; behind a proxy that changes the scheme, host or path, `public_url` says what it
is. Twilio's signature carries no timestamp, so there is no replay window to check: a replayed
request repeats a MessageSid already recorded and is not processed twice.

SMS has no buttons: a message's buttons or quick replies become numbered options ("1. Yes") and
the customer answers with the digit. Images are sent as MMS (`MediaUrl`). A `custom` payload
cannot be expressed as an SMS and is left out (with a warning in the log).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from engine.channels.base import (
    Answer,
    Connector,
    Inbound,
    Malformed,
    OutboundCall,
    Rejected,
    WebhookRequest,
    one_message,
)
from engine.channels.limits import LIMITS, cut
from engine.channels.settings import TwilioConfig
from engine.channels.text import buttons_of, numbered_options, split_text, text_of

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
#: The webhook's answer: an empty TwiML document (Twilio sends no reply of its own).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Where Twilio located the sender's number (present for some countries only) -> metadata key.
_LOCATION_FIELDS = (("FromCity", "from_city"), ("FromState", "from_state"), ("FromCountry", "from_country"))


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's `X-Twilio-Signature` of a POST to `url` with the form fields `params`: the URL
    followed by each name and value (names sorted, then a name's distinct values sorted), HMAC-SHA1
    keyed with the Auth Token, base64-encoded."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> list[str]:
    """`url` as written, and with the scheme's default port added (or removed when it is written):
    Twilio signs some requests to an https URL with ":443" and some without."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return [url]
    if default is None or parts.hostname is None:
        return [url]
    if port is None:
        return [url, parts._replace(netloc=f"{parts.netloc}:{default}").geturl()]
    if port == default:
        return [url, parts._replace(netloc=parts.netloc.rsplit(":", 1)[0]).geturl()]
    return [url]


def media_kind(content_type: str) -> str:
    """What a medium is called in the described message: image, audio, video, else file."""
    major = content_type.split("/", 1)[0].strip().lower()
    return major if major in ("image", "audio", "video") else "file"


class TwilioConnector(Connector):
    """SMS (and MMS) through Twilio Programmable Messaging; see the module's docstring."""

    name = "twilio"
    limits = LIMITS["twilio"]

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_url: str,
        session: requests.Session,
        public_url: str | None = None,
        messaging_service_sid: str | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_url = api_url.rstrip("/")
        self.session = session
        self.public_url = public_url
        self.messaging_service_sid = messaging_service_sid

    @classmethod
    def from_config(
        cls, config: TwilioConfig, session: requests.Session, environ: Mapping[str, str] | None = None
    ) -> TwilioConnector:
        """The connector `config` describes, credentials read from the environment; raises
        `MissingCredential` naming the variable that is not set."""
        account_sid = config.account_sid.strip() or config.secret(
            "twilio",
            config.account_sid_variable,
            "the Twilio Account SID (AC...), shown under Account Info on the Twilio Console's home page",
            environ,
        )
        auth_token = config.secret(
            "twilio",
            config.auth_token_variable,
            "the Twilio Auth Token, shown beside the Account SID under Account Info on the Twilio Console",
            environ,
        )
        return cls(
            account_sid,
            auth_token,
            api_url=config.api_url,
            session=session,
            public_url=config.public_url,
            messaging_service_sid=config.messaging_service_sid,
        )

    # -- the webhook -----------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, now: float) -> None:
        """Check `X-Twilio-Signature` (401 when it is missing, 403 when it does not match) and that
        the message is for the configured account (403). Twilio's requests carry no timestamp, so
        `now` is not used."""
        given = request.header(SIGNATURE_HEADER)
        if not given:
            raise Rejected(f"the request has no {SIGNATURE_HEADER} header: it does not come from Twilio", 401)
        try:
            params = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            raise Rejected("the body is not a URL-encoded form, so it cannot be Twilio's", 403) from None
        url = self.public_url or request.url
        expected = [signature(self.auth_token, variant, params) for variant in url_variants(url)]
        given_bytes = given.strip().encode("utf-8")
        if not any(hmac.compare_digest(candidate.encode("ascii"), given_bytes) for candidate in expected):
            raise Rejected(
                f"{SIGNATURE_HEADER} does not match a request to {url} signed with the Auth Token: either "
                "the Auth Token is not this account's, or the URL configured in Twilio differs from this "
                "one (behind a proxy, set channels.twilio.public_url to the URL exactly as configured)",
                403,
            )
        sids = [value for name, value in params if name == "AccountSid"]
        if not sids or not hmac.compare_digest(sids[-1].encode("utf-8"), self.account_sid.encode("utf-8")):
            raise Rejected("the message's AccountSid is not the configured Account SID", 403)

    def parse(self, request: WebhookRequest) -> list[Inbound]:
        """The customer's message of an incoming-message webhook; none for a status callback (a
        delivery report), an opt-out keyword Twilio handles itself, or an empty message."""
        form = request.form()
        if form.get("MessageStatus") or form.get("SmsStatus", "received") != "received":
            return []  # a status callback posted to this URL: not a customer message
        message_id, sender, to = form.get("MessageSid", ""), form.get("From", ""), form.get("To", "")
        if not (message_id and sender and to):
            raise Malformed("the form lacks MessageSid, From or To: it is not a Twilio incoming message")
        if form.get("OptOutType"):
            return []  # STOP/START/HELP under Advanced Opt-Out: Twilio has answered it already
        attachments = self._attachments(form)
        body = form.get("Body", "").strip()
        described = " ".join(f"[{attachment['type']}]" for attachment in attachments)
        text = f"{described} {body}".strip()
        if not text:
            return []
        metadata: dict[str, Any] = {key: form[field] for field, key in _LOCATION_FIELDS if form.get(field)}
        if attachments:
            metadata["attachments"] = attachments
        return [Inbound(message_id, sender, text, {"to": sender, "from": to}, metadata)]

    @staticmethod
    def _attachments(form: Mapping[str, str]) -> list[dict[str, str]]:
        """The MMS media of `form` (NumMedia, MediaUrl<n>, MediaContentType<n>)."""
        try:
            count = int(form.get("NumMedia") or 0)
        except ValueError:
            raise Malformed("NumMedia is not a number") from None
        if count < 0:
            raise Malformed("NumMedia is negative")
        found: list[dict[str, str]] = []
        for index in range(count):
            url = form.get(f"MediaUrl{index}", "")
            if not url:
                raise Malformed(f"NumMedia is {count} but MediaUrl{index} is missing")
            content_type = form.get(f"MediaContentType{index}", "")
            found.append({"type": media_kind(content_type), "url": url, "mime_type": content_type})
        return found

    def ack(self, request: WebhookRequest) -> Answer:
        """An empty TwiML document: Twilio sends no reply itself (the replies follow by the API)."""
        return Answer(200, EMPTY_TWIML, "text/xml")

    # -- the replies -----------------------------------------------------------------------------
    def render(self, messages: Sequence[Mapping[str, Any]], address: Mapping[str, Any]) -> list[OutboundCall]:
        """One Messages API call per SMS: texts longer than 1600 characters are split, buttons and
        quick replies become numbered options at the end of the last piece, an image or an
        attachment URL is sent as MMS media on the last piece (a second one in a call of its own).
        A `custom` payload is not sent (SMS cannot show it). The last call of each message has
        `describes` 1 and the others 0, so a message counts as sent once all of it is."""
        sender = self._sender(address)
        calls: list[OutboundCall] = []
        for message in messages:
            if message.get("custom") is not None:
                log.warning("a custom payload cannot be sent by SMS; skipped")
            pieces = self._pieces(message)
            media = self._media(message)
            if not pieces and media:
                pieces = [""]
            shown = [
                self._call(sender, piece, media[0] if media and index == len(pieces) - 1 else None)
                for index, piece in enumerate(pieces)
            ]
            shown.extend(self._call(sender, "", url) for url in media[1:])
            calls.extend(one_message(shown))
        return calls

    def _sender(self, address: Mapping[str, Any]) -> dict[str, str]:
        """The To and From (or MessagingServiceSid) fields of every reply to `address`."""
        to, written_to = address.get("to"), address.get("from")
        if not isinstance(to, str) or not to:
            raise ValueError("a Twilio address needs 'to', the customer's number (the webhook's From)")
        if self.messaging_service_sid:
            return {"To": to, "MessagingServiceSid": self.messaging_service_sid}
        if not isinstance(written_to, str) or not written_to:
            raise ValueError(
                "a Twilio address needs 'from', the number the customer wrote to (the webhook's To)"
            )
        return {"To": to, "From": written_to}

    def _pieces(self, message: Mapping[str, Any]) -> list[str]:
        """The SMS bodies of `message`: its text (prefixed with the agent's name when a person wrote
        it) split within the limit, the numbered options at the end of the last piece."""
        text = text_of(message)
        limit = self.limits.max_text
        pieces = split_text(text, limit)
        buttons = [
            {"title": cut(button["title"], self.limits.max_title), "payload": button["payload"]}
            for button in buttons_of(message)
        ]
        if not buttons:
            return pieces
        options = numbered_options(None, buttons)
        if pieces and len(numbered_options(pieces[-1], buttons)) <= limit:
            pieces[-1] = numbered_options(pieces[-1], buttons)
        else:
            pieces.extend(split_text(options, limit))
        return pieces

    @staticmethod
    def _media(message: Mapping[str, Any]) -> list[str]:
        """The media URLs of `message`: its image, and its attachment when that is a URL (a string,
        or a dict with `url` or `payload.url`)."""
        found: list[str] = []
        image = message.get("image")
        if isinstance(image, str) and image:
            found.append(image)
        attachment = message.get("attachment")
        if attachment is None:
            return found
        url = attachment
        if isinstance(attachment, Mapping):
            payload = attachment.get("payload")
            url = attachment.get("url") or (payload.get("url") if isinstance(payload, Mapping) else None)
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            found.append(url)
        else:
            log.warning("an attachment without a URL cannot be sent by SMS; skipped")
        return found

    def _call(self, sender: Mapping[str, str], body: str, media_url: str | None) -> OutboundCall:
        """A Messages API call sending `body` (and `media_url` as MMS) with `sender`'s fields
        (describes 0: `render` marks the last call of each message)."""
        form = dict(sender)
        if body:
            form["Body"] = body
        if media_url:
            form["MediaUrl"] = media_url
        return OutboundCall(
            url=f"{self.api_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json",
            form=form,
            auth=(self.account_sid, self.auth_token),
            describes=0,
        )

    def failure(self, response: requests.Response) -> str | None:
        """None for a 2xx (Twilio answers 201 Created); else the status with Twilio's error code
        and message (https://www.twilio.com/docs/errors/<code> explains each)."""
        if 200 <= response.status_code < 300:
            return None
        try:
            error = response.json()
        except ValueError:
            error = None
        if isinstance(error, Mapping) and error.get("code") is not None:
            return f"HTTP {response.status_code}: Twilio error {error['code']}: {error.get('message', '')}"
        return super().failure(response)
