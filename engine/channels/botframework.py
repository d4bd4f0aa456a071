"""Microsoft Teams through the Azure Bot Service (Bot Framework REST API v3).

The Bot Connector service POSTs each activity (a message, a member joining, a reaction ...) as
JSON to the bot's messaging endpoint, with `Authorization: Bearer <JWT>`. The token is RS256,
signed by one of the keys the Bot Framework publishes (its OpenID metadata's `jwks_uri`); it
names the Bot Connector as issuer, the bot's App ID as audience, and in its `serviceurl` claim
the service URL the activity tells the bot to answer at. `verify` checks all of it, so that
nobody but the Bot Connector can make the bot talk, or make it send its own access token (which
every reply carries) to an address of their choosing.

Replies are `POST {serviceUrl}/v3/conversations/{conversation id}/activities`, authorized with
a token the bot gets from Microsoft Entra ID with its App ID and client secret (the OAuth client
credentials grant). `render` gets that token itself (cached until 5 minutes before it expires)
and raises `TokenError` when Entra ID refuses or cannot be reached.

Texts longer than 25,000 characters are split; buttons (up to 6) are an Adaptive Card's
Action.Submit actions, whose click comes back as a message whose `value` is the action's data
(`{"payload": ...}`); more buttons are numbered options in the text.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jwt
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
from engine.channels.settings import BotFrameworkConfig
from engine.channels.text import buttons_of, numbered_options, split_text, text_of

log = logging.getLogger(__name__)

#: Seconds a token's `exp` and `nbf` may be off from our clock (the Bot Framework SDKs allow 5 minutes).
LEEWAY = 300.0
#: Seconds the fetched signing keys are used before they are fetched again.
KEYS_MAX_AGE = 3600.0
#: A token signed by a key we do not know fetches the keys again, at most this often (seconds):
#: anyone can send such a token, and each must not cost a request to Microsoft.
UNKNOWN_KEY_REFETCH = 300.0
#: Seconds between attempts at fetching the keys while none could be fetched yet (requests in
#: between are answered 503 at once instead of each waiting on Microsoft's servers).
KEYS_RETRY = 10.0
#: A reply token is fetched again this many seconds before it expires.
TOKEN_MARGIN = 300.0
#: The only signature algorithm the Bot Framework uses for its tokens.
ALGORITHM = "RS256"

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_VERSION = "1.4"
#: A file a Teams user shared with the bot in a personal chat.
TEAMS_FILE = "application/vnd.microsoft.teams.file.download.info"

_MENTION = re.compile(r"<at>(.*?)</at>", re.DOTALL)
_SPACES = re.compile(r"[ \t\u00a0]{2,}")


class TokenError(requests.RequestException):
    """The bot could not get an access token for its replies: Microsoft Entra ID refused its App
    ID and client secret (the message carries Entra ID's error code, e.g. AADSTS7000215 for a
    wrong secret) or could not be reached. `render` raises it; nothing was sent."""


@dataclass(frozen=True)
class _SigningKey:
    """One of the Bot Framework's public keys, and the channels ("msteams" ...) it may sign for
    (None: any)."""

    key: Any
    endorsements: frozenset[str] | None


class _KeysUnavailable(Exception):
    """The signing keys could not be fetched or read."""


class BotFrameworkConnector(Connector):
    """Microsoft Teams (and other Bot Framework channels) through the Azure Bot Service."""

    name = "botframework"
    limits = LIMITS["botframework"]

    def __init__(
        self,
        app_id: str,
        app_password: str,
        *,
        api_url: str,
        session: requests.Session,
        issuer: str = "https://api.botframework.com",
        openid_metadata_url: str = "https://login.botframework.com/v1/.well-known/openidconfiguration",
        jwks_file: str | Path | None = None,
        token_url: str = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token",
        token_scope: str = "https://api.botframework.com/.default",
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`app_id` and `app_password` are the bot's Microsoft App ID and client secret. Replies go
        to each activity's service URL, so `api_url` (the usual Teams service URL) is only kept
        for reference. Signing keys come from `jwks_file` when given (read now; ValueError when
        it is not a key set), else from `openid_metadata_url` on first use: nothing is fetched
        here. `clock` times the reply token's expiry."""
        self.app_id = app_id
        self.app_password = app_password
        self.api_url = api_url.rstrip("/")
        self.session = session
        self.issuer = issuer
        self.openid_metadata_url = openid_metadata_url
        self.token_url = token_url
        self.token_scope = token_scope
        self.timeout = timeout
        self.clock = clock
        self._keys_lock = threading.Lock()
        self._keys: dict[str, _SigningKey] | None = None
        self._keys_fetched_at = float("-inf")
        self._fixed_keys = jwks_file is not None
        if jwks_file is not None:
            self._keys = _read_jwks_file(Path(jwks_file))
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_expires_at = float("-inf")

    @classmethod
    def from_config(
        cls,
        config: BotFrameworkConfig,
        session: requests.Session,
        environ: Mapping[str, str] | None = None,
    ) -> BotFrameworkConnector:
        """The connector `config` describes, with its credentials read from the environment;
        raises `MissingCredential` naming the variable that is not set."""
        app_id = config.app_id or config.secret(
            "botframework",
            config.app_id_variable,
            "the bot's Microsoft App ID (Azure portal: the Azure Bot resource, Configuration, "
            "Microsoft App ID)",
            environ,
        )
        password = config.secret(
            "botframework",
            config.app_password_variable,
            "the bot's client secret (Azure portal: Microsoft Entra ID, App registrations, the bot's "
            "app, Certificates & secrets, the secret's Value)",
            environ,
        )
        return cls(
            app_id,
            password,
            api_url=config.api_url,
            session=session,
            issuer=config.issuer,
            openid_metadata_url=config.openid_metadata_url,
            jwks_file=config.jwks_file,
            token_url=config.token_url,
            token_scope=config.token_scope,
            timeout=config.timeout,
        )

    # -- verification ----------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, now: float) -> None:
        """Check the Bot Connector's bearer token: 401 when there is none, 403 when it is not
        valid (signature, issuer, audience, expiry, service URL, channel endorsement), 503 when
        the signing keys cannot be fetched."""
        token = _bearer_token(request.header("authorization"))
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise Rejected(f"the bearer token is not a JWT: {error}", 403) from None
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Rejected("the bearer token names no signing key (kid)", 403)
        signing_key = self._signing_key(kid, now)
        try:
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=[ALGORITHM],
                audience=self.app_id,
                issuer=self.issuer,
                # Expiry is checked below against `now`: PyJWT only knows the system clock.
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["exp", "iss", "aud"],
                },
            )
        except jwt.InvalidTokenError as error:
            raise Rejected(self._why_invalid(error), 403) from None
        _check_times(claims, now)
        self._check_activity(request, claims, signing_key)

    def _why_invalid(self, error: jwt.InvalidTokenError) -> str:
        """What PyJWT found wrong, in terms of the bot's settings."""
        if isinstance(error, jwt.InvalidAudienceError):
            return f"the bearer token is not valid: its audience (aud) is not this bot's App ID {self.app_id}"
        if isinstance(error, jwt.InvalidIssuerError):
            return f"the bearer token is not valid: its issuer (iss) is not {self.issuer}"
        if isinstance(error, jwt.InvalidSignatureError):
            return "the bearer token is not valid: Signature verification failed"
        return f"the bearer token is not valid: {error}"

    def _check_activity(self, request: WebhookRequest, claims: Mapping[str, Any], key: _SigningKey) -> None:
        """The checks that tie the token to this activity. A body that is not an activity is left
        to `parse` (Malformed)."""
        try:
            activity = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return
        if not isinstance(activity, dict):
            return
        service_url = claims.get("serviceurl")
        if not isinstance(service_url, str) or service_url != activity.get("serviceUrl"):
            # Without the claim, a token for this bot could send its replies (and the bot's
            # access token with them) to any serviceUrl the body names.
            raise Rejected(
                "the activity's serviceUrl is not the one the token was issued for (serviceurl claim)", 403
            )
        channel_id = activity.get("channelId")
        if key.endorsements is not None and channel_id not in key.endorsements:
            raise Rejected("the token's signing key is not endorsed for the activity's channelId", 403)

    def _signing_key(self, kid: str, now: float) -> _SigningKey:
        """The public key `kid`: fetched keys are used for an hour, and fetched again early when a
        token names an unknown key (at most every UNKNOWN_KEY_REFETCH seconds)."""
        with self._keys_lock:
            if not self._fixed_keys and self._keys_are_due(kid, now):
                self._refresh_keys(now)
            keys = self._keys
        if keys is None:
            raise Rejected("the Bot Framework's signing keys could not be fetched yet; try again", 503)
        found = keys.get(kid)
        if found is None:
            raise Rejected(
                f"the token's signing key {kid[:80]!r} is not one of the Bot Framework's keys", 403
            )
        return found

    def _keys_are_due(self, kid: str, now: float) -> bool:
        age = now - self._keys_fetched_at
        if self._keys is None:
            return age >= KEYS_RETRY
        if age >= KEYS_MAX_AGE:
            return True
        return kid not in self._keys and age >= UNKNOWN_KEY_REFETCH

    def _refresh_keys(self, now: float) -> None:
        """Fetch the keys (the caller holds the lock). When that fails, keys fetched before are
        kept; without any, the request is answered 503 so that the Bot Connector tries again."""
        self._keys_fetched_at = now
        try:
            self._keys = self._fetch_keys()
        except _KeysUnavailable as error:
            if self._keys is None:
                raise Rejected(
                    f"the Bot Framework's signing keys could not be fetched: {error}", 503
                ) from None
            log.warning("botframework: keeping the signing keys fetched before: %s", error)

    def _fetch_keys(self) -> dict[str, _SigningKey]:
        """The keys at the OpenID metadata's `jwks_uri`; raises `_KeysUnavailable`."""
        metadata = self._get_json(self.openid_metadata_url)
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise _KeysUnavailable(f"{self.openid_metadata_url} names no jwks_uri")
        return _key_set(self._get_json(jwks_uri), jwks_uri, _KeysUnavailable)

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self.session.get(url, timeout=self.timeout)
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as error:
            raise _KeysUnavailable(f"GET {url}: {type(error).__name__}: {error}") from None
        if not isinstance(body, dict):
            raise _KeysUnavailable(f"GET {url} did not answer a JSON object")
        return body

    # -- activities ------------------------------------------------------------------------------
    def parse(self, request: WebhookRequest) -> list[Inbound]:
        """The customer's message in an activity: typed text (the bot's @mention removed), an
        Adaptive Card button's payload, or described attachments. Activities that are not
        messages (conversationUpdate, typing, messageReaction, invoke, installationUpdate ...)
        give none. Raises `Malformed` for a body that is not an activity."""
        activity = request.json()
        if not isinstance(activity, dict) or not isinstance(activity.get("type"), str):
            raise Malformed("the body is not a Bot Framework activity (a JSON object with a type)")
        if activity["type"] != "message":
            return []
        fields = _message_fields(activity)
        sender, bot, conversation = fields.sender, fields.bot, fields.conversation
        if sender["id"] == bot["id"]:
            return []
        attachments = [
            described
            for item in _list(activity.get("attachments"))
            if (described := _describe(item)) is not None
        ]
        text = _typed_text(activity, bot)
        payload = _card_payload(activity.get("value"))
        if payload is not None:
            text = payload
        elif attachments:
            labels = " ".join(label for label, _ in attachments)
            text = f"{labels} {text}" if text else labels
        if not text:
            log.info("botframework: a message activity without text or attachments was ignored")
            return []
        address = {
            "service_url": fields.service_url,
            "conversation_id": conversation["id"],
            "bot": _party(bot),
            "user": _party(sender),
            "reply_to_id": fields.id,
            "channel_id": activity.get("channelId"),
        }
        metadata: dict[str, Any] = {"user_name": sender.get("name")}
        tenant = _tenant_id(activity)
        if tenant is not None:
            metadata["tenant_id"] = tenant
        if isinstance(conversation.get("conversationType"), str):
            metadata["conversation_type"] = conversation["conversationType"]
        if attachments:
            metadata["attachments"] = [details for _, details in attachments]
        return [
            Inbound(
                # Teams message ids are unique within a conversation only.
                message_id=f"{conversation['id']}|{fields.id}",
                sender_id=sender["id"],
                text=text,
                address=address,
                metadata=metadata,
            )
        ]

    # -- replies ---------------------------------------------------------------------------------
    def render(self, messages: Sequence[Mapping[str, Any]], address: Mapping[str, Any]) -> list[OutboundCall]:
        """One activity per text piece, card, image, attachment and custom payload, POSTed to the
        conversation at the address's service URL. `custom` is sent as the activity
        `{"type": "message", "from", "recipient", "conversation", "replyToId"}` updated with the
        custom dict's keys. Gets the reply token first (with the session; cached): raises
        `TokenError` when Entra ID refuses it, ValueError for an address that is not this
        connector's."""
        url, base = _reply_target(address)
        rendered: list[OutboundCall] = []
        for message in messages:
            rendered.extend(
                one_message(
                    [OutboundCall(url, json={**base, **activity}) for activity in self._activities(message)]
                )
            )
        if not rendered:
            return []
        headers = {"Authorization": f"Bearer {self._access_token()}"}
        return [
            OutboundCall(call.url, json=call.json, headers=headers, describes=call.describes)
            for call in rendered
        ]

    def _activities(self, message: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The activity bodies (without the address fields) that show one bot message, in order."""
        text = text_of(message) or None
        buttons = buttons_of(message)
        if buttons and self.numbered(message):
            text, buttons = numbered_options(text, buttons), []
        pieces = split_text(text, self.limits.max_text) if text else []
        activities: list[dict[str, Any]] = []
        if buttons:
            last = pieces.pop() if pieces else None
            activities.extend(_plain(piece) for piece in pieces)
            activities.append({"attachments": [self._card(last, buttons)]})
        else:
            activities.extend(_plain(piece) for piece in pieces)
        image = message.get("image")
        if isinstance(image, str) and image:
            activities.append({"attachments": [{"contentType": _image_type(image), "contentUrl": image}]})
        attachment = message.get("attachment")
        if isinstance(attachment, Mapping):
            activities.append({"attachments": [dict(attachment)]})
        elif attachment:
            activities.append(_plain(str(attachment)))
        custom = message.get("custom")
        if isinstance(custom, Mapping):
            activities.append(dict(custom))
        elif custom is not None:
            log.warning("botframework: a custom payload that is not an object was not sent")
        return activities

    def _card(self, text: str | None, buttons: Sequence[Mapping[str, str]]) -> dict[str, Any]:
        """An Adaptive Card showing `text` with one Action.Submit per button."""
        body = [{"type": "TextBlock", "text": text, "wrap": True}] if text else []
        actions = [
            {
                "type": "Action.Submit",
                "title": cut(button["title"], self.limits.max_title),
                "data": {"payload": button["payload"]},
            }
            for button in buttons
        ]
        return {
            "contentType": ADAPTIVE_CARD,
            "content": {
                "type": "AdaptiveCard",
                "$schema": ADAPTIVE_CARD_SCHEMA,
                "version": ADAPTIVE_CARD_VERSION,
                "body": body,
                "actions": actions,
            },
        }

    def failure(self, response: requests.Response) -> str | None:
        """As for every platform (any status that is not 2xx); a 401 also forgets the cached
        access token, so that the next reply gets a new one (it was revoked, or the secret
        changed)."""
        if response.status_code == 401:
            with self._token_lock:
                self._token = None
        return super().failure(response)

    def _access_token(self) -> str:
        """The bot's access token for the Bot Connector, fetched when there is none or it expires
        within TOKEN_MARGIN seconds; raises `TokenError`. One thread fetches while others wait."""
        with self._token_lock:
            if self._token is not None and self.clock() < self._token_expires_at - TOKEN_MARGIN:
                return self._token
            self._token, lifetime = self._fetch_token()
            self._token_expires_at = self.clock() + lifetime
            return self._token

    def _fetch_token(self) -> tuple[str, float]:
        """(access token, seconds it lasts) from the client credentials grant."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "client_secret": self.app_password,
            "scope": self.token_scope,
        }
        try:
            response = self.session.post(self.token_url, data=form, timeout=self.timeout)
        except requests.RequestException as error:
            raise TokenError(
                f"botframework: the token endpoint {self.token_url} could not be reached: "
                f"{type(error).__name__}: {error}"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not 200 <= response.status_code < 300:
            why = (body.get("error_description") or body.get("error")) if isinstance(body, dict) else None
            raise TokenError(
                f"botframework: {self.token_url} refused a token for App ID {self.app_id} "
                f"(HTTP {response.status_code}): {str(why or response.text)[:400]}; check the App ID, "
                "the client secret (its Value, not its ID) and, for a single-tenant bot, token_url"
            )
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise TokenError(f"botframework: {self.token_url} answered without an access_token")
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        try:
            seconds = float(lifetime) if lifetime is not None else 3600.0
        except (TypeError, ValueError):
            seconds = 3600.0
        return token, seconds


# -- verification helpers --------------------------------------------------------------------------
def _bearer_token(header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; 401 without one."""
    if not header:
        raise Rejected(
            "no Authorization header: the Bot Connector sends a bearer token with every activity", 401
        )
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Rejected("the Authorization header is not 'Bearer <token>'", 401)
    return token.strip()


def _check_times(claims: Mapping[str, Any], now: float) -> None:
    """`exp` and `nbf` against `now`, with LEEWAY seconds either way."""
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise Rejected("the bearer token's exp is not a number", 403)
    if now > expires + LEEWAY:
        raise Rejected("the bearer token has expired", 403)
    not_before = claims.get("nbf")
    if not_before is not None:
        if not isinstance(not_before, int | float) or isinstance(not_before, bool):
            raise Rejected("the bearer token's nbf is not a number", 403)
        if now < not_before - LEEWAY:
            raise Rejected("the bearer token is not valid yet (nbf)", 403)


def _read_jwks_file(path: Path) -> dict[str, _SigningKey]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"channels.botframework.jwks_file: cannot read {path}: {error}") from None
    return _key_set(document, str(path), ValueError)


def _key_set(document: Any, source: str, error: type[Exception]) -> dict[str, _SigningKey]:
    """The RSA keys of a JSON Web Key Set by their kid; raises `error` when there are none."""
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise error(f"{source} is not a JSON Web Key Set (an object with a 'keys' list)")
    found: dict[str, _SigningKey] = {}
    for jwk in keys:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
            continue
        try:
            key = jwt.PyJWK(jwk, ALGORITHM).key
        except jwt.PyJWKError as problem:
            log.warning("botframework: skipping signing key %r of %s: %s", jwk["kid"], source, problem)
            continue
        endorsements = jwk.get("endorsements")
        allowed = frozenset(str(e) for e in endorsements) if isinstance(endorsements, list) else None
        found[jwk["kid"]] = _SigningKey(key, allowed)
    if not found:
        raise error(f"{source} holds no RSA signing key with a kid")
    return found


# -- activity helpers ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _MessageFields:
    id: str
    service_url: str
    sender: Mapping[str, Any]
    bot: Mapping[str, Any]
    conversation: Mapping[str, Any]


def _message_fields(activity: Mapping[str, Any]) -> _MessageFields:
    """The fields every message activity has; raises `Malformed` naming a missing one."""
    activity_id, service_url = activity.get("id"), activity.get("serviceUrl")
    if not isinstance(activity_id, str) or not activity_id:
        raise Malformed("the message activity has no id")
    if not isinstance(service_url, str) or not service_url:
        raise Malformed("the message activity has no serviceUrl")
    parties: dict[str, Mapping[str, Any]] = {}
    for name in ("from", "recipient", "conversation"):
        value = activity.get(name)
        if not isinstance(value, Mapping) or not isinstance(value.get("id"), str) or not value["id"]:
            raise Malformed(f"the message activity has no {name}.id")
        parties[name] = value
    return _MessageFields(
        activity_id, service_url, parties["from"], parties["recipient"], parties["conversation"]
    )


def _typed_text(activity: Mapping[str, Any], bot: Mapping[str, Any]) -> str:
    """The activity's text without the bot's @mention; other people's mentions become their
    names. Mentions of the bot are found by the mention entities (mentioned.id) and, failing
    those, by the bot's name."""
    text = activity.get("text")
    if not isinstance(text, str):
        return ""
    for entity in _list(activity.get("entities")):
        if not isinstance(entity, Mapping) or entity.get("type") != "mention":
            continue
        mentioned, written = entity.get("mentioned"), entity.get("text")
        if isinstance(mentioned, Mapping) and mentioned.get("id") == bot["id"] and isinstance(written, str):
            text = text.replace(written, " ")
    bot_name = bot.get("name")
    text = _MENTION.sub(lambda match: " " if match.group(1).strip() == bot_name else match.group(1), text)
    return _SPACES.sub(" ", text).strip()


def _card_payload(value: Any) -> str | None:
    """The payload of an Adaptive Card Action.Submit click (`value` is the action's data)."""
    if not isinstance(value, Mapping):
        return None
    payload = value.get("payload")
    if payload is None or isinstance(payload, Mapping | list):
        return None
    return str(payload)


def _describe(attachment: Any) -> tuple[str, dict[str, Any]] | None:
    """(label for the text, details for metadata) of one attachment; None for the text/html copy
    of the message that Teams attaches."""
    if not isinstance(attachment, Mapping):
        return None
    content_type = str(attachment.get("contentType") or "")
    name = attachment.get("name") if isinstance(attachment.get("name"), str) else None
    url = attachment.get("contentUrl") if isinstance(attachment.get("contentUrl"), str) else None
    content = attachment.get("content")
    if content_type == "text/html":
        return None
    if content_type == TEAMS_FILE:
        details: dict[str, Any] = {"type": "file", "mime_type": content_type, "name": name}
        if isinstance(content, Mapping):
            details["url"] = content.get("downloadUrl")
            details["file_type"] = content.get("fileType")
        return f"[file {name}]" if name else "[file]", details
    for kind in ("image", "audio", "video"):
        if content_type.startswith(f"{kind}/"):
            return f"[{kind}]", {"type": kind, "mime_type": content_type, "url": url, "name": name}
    if content_type.startswith("application/vnd.microsoft.card."):
        return "[card]", {"type": "card", "mime_type": content_type}
    details = {"type": "file", "mime_type": content_type, "url": url, "name": name}
    return f"[file {name}]" if name else "[file]", details


def _tenant_id(activity: Mapping[str, Any]) -> str | None:
    conversation, channel_data = activity.get("conversation"), activity.get("channelData")
    if isinstance(conversation, Mapping) and isinstance(conversation.get("tenantId"), str):
        return str(conversation["tenantId"])
    if isinstance(channel_data, Mapping):
        tenant = channel_data.get("tenant")
        if isinstance(tenant, Mapping) and isinstance(tenant.get("id"), str):
            return str(tenant["id"])
    return None


def _party(account: Mapping[str, Any]) -> dict[str, Any]:
    """The id and name of an account (what a reply's from/recipient carries)."""
    party: dict[str, Any] = {"id": account["id"]}
    if isinstance(account.get("name"), str):
        party["name"] = account["name"]
    return party


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- reply helpers ---------------------------------------------------------------------------------
def _reply_target(address: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(URL, the activity fields every reply has) of an address `parse` made."""
    service_url, conversation_id = address.get("service_url"), address.get("conversation_id")
    bot, user = address.get("bot"), address.get("user")
    if not isinstance(service_url, str) or not service_url or not isinstance(conversation_id, str):
        raise ValueError(
            "the address has no service_url and conversation_id: it is not a Bot Framework address"
        )
    if not isinstance(bot, Mapping) or not isinstance(user, Mapping):
        raise ValueError("the address has no bot and user accounts: it is not a Bot Framework address")
    url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/activities"
    base: dict[str, Any] = {
        "type": "message",
        "from": dict(bot),
        "recipient": dict(user),
        "conversation": {"id": conversation_id},
    }
    if address.get("reply_to_id"):
        base["replyToId"] = address["reply_to_id"]
    return url, base


def _plain(text: str) -> dict[str, Any]:
    return {"text": text, "textFormat": "plain"}


def _image_type(url: str) -> str:
    """The image's MIME type from its URL's extension; "image/*" when it does not say."""
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed if guessed and guessed.startswith("image/") else "image/*"
