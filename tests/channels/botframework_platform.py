"""Microsoft Teams activities as the Bot Connector sends them (with a bearer token signed by a
test RSA key whose JSON Web Key Set `config` points at), and readers of the Bot Connector calls
the connector makes, for the connector's and the hub's tests.

Every reply first gets an access token from `config(api_url).token_url`, a path ending in
"/token" on the fake platform. The fake answers `{"ok": true}` by default, which is no token:
a test that sends replies must script the token answer first, e.g.
`platform.script(200, token_answer(), path="/token")` (once: the connector caches the token), or
set `platform.default = Scripted(200, token_answer())`.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from engine.channels.settings import BotFrameworkConfig
from tests.channels.fake_platform import Captured, Delivery

WEBHOOK = "/webhooks/botframework/webhook"
APP_ID = "7f3c1e52-8a4b-4d1e-9c7a-2b5e6f0d1a93"
ENVIRON: dict[str, str] = {
    "PARLEY_BOTFRAMEWORK_APP_ID": APP_ID,
    "PARLEY_BOTFRAMEWORK_APP_PASSWORD": "Xy8Q~test.client-secret_0123456789abcdefGHIJ",
}
ISSUER = "https://api.botframework.com"
KEY_ID = "test-bot-connector-key"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
#: The bot's Teams account ("28:" + App ID) and name.
BOT = {"id": f"28:{APP_ID}", "name": "Parley"}
#: The access token `token_answer` gives the bot for its replies.
ACCESS_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.test-access-token.signature"

#: The test Bot Connector's signing key (its public half is in the key set `config` names).
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(private_key: rsa.RSAPrivateKey, kid: str, endorsements: list[str] | None = None) -> dict[str, Any]:
    """The public JSON Web Key of `private_key`, as the Bot Framework publishes its keys."""
    key = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    assert isinstance(key, dict)
    key.update({"kid": kid, "use": "sig"})
    if endorsements is not None:
        key["endorsements"] = endorsements
    return key


def _write_jwks() -> str:
    folder = tempfile.mkdtemp(prefix="parley-botframework-")
    atexit.register(shutil.rmtree, folder, True)
    path = Path(folder) / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk(PRIVATE_KEY, KEY_ID, ["msteams"])]}), encoding="utf-8")
    return str(path)


JWKS_FILE = _write_jwks()


def config(api_url: str) -> BotFrameworkConfig:
    """Settings with the test key set and the token endpoint at `api_url` (the fake platform)."""
    return BotFrameworkConfig(
        api_url=api_url,
        jwks_file=JWKS_FILE,
        openid_metadata_url=f"{api_url}/v1/.well-known/openidconfiguration",
        token_url=f"{api_url}/botframework.com/oauth2/v2.0/token",
    )


def token_answer() -> dict[str, Any]:
    """What Entra ID answers the bot's client credentials request."""
    return {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": ACCESS_TOKEN}


def bearer_token(
    *,
    now: float,
    service_url: str | None,
    audience: str = APP_ID,
    issuer: str = ISSUER,
    key: rsa.RSAPrivateKey | None = None,
    kid: str = KEY_ID,
    lifetime: float = 3600,
) -> str:
    """A Bot Connector token as it signs them (`service_url` None: without a serviceurl claim)."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "exp": int(now + lifetime),
        "nbf": int(now - 60),
    }
    if service_url is not None:
        claims["serviceurl"] = service_url
    return jwt.encode(claims, key or PRIVATE_KEY, algorithm="RS256", headers={"kid": kid})


def activity(
    sender: str,
    message_id: str,
    *,
    now: float,
    service_url: str,
    text: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A Teams message activity from `sender` in their personal chat with the bot."""
    body: dict[str, Any] = {
        "type": "message",
        "id": message_id,
        "timestamp": _iso(now, UTC),
        "localTimestamp": _iso(now, timezone(timedelta(hours=1))),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": sender, "name": "Megan Bowen", "aadObjectId": "00000000-0000-4000-8000-00000000beef"},
        "conversation": {"conversationType": "personal", "tenantId": TENANT_ID, "id": f"a:1{sender}"},
        "recipient": dict(BOT),
        "entities": [{"locale": "en-US", "country": "US", "platform": "Web", "type": "clientInfo"}],
        "channelData": {"tenant": {"id": TENANT_ID}},
        "locale": "en-US",
    }
    if text is not None:
        body["text"] = text
        body["textFormat"] = "plain"
    body.update(fields)
    return body


def _iso(now: float, zone: timezone) -> str:
    """A timestamp as Teams writes them ("2027-01-15T08:00:00.123Z")."""
    written = datetime.fromtimestamp(now, zone).isoformat(timespec="milliseconds")
    return written.replace("+00:00", "Z")


def delivery(body: dict[str, Any] | bytes, *, now: float, service_url: str | None) -> Delivery:
    """The Bot Connector's POST of `body`, with a token for `service_url`."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    token = bearer_token(now=now, service_url=service_url)
    return Delivery(
        body=raw,
        headers={"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {token}"},
    )


def customer_text(
    sender: str, text: str, message_id: str, *, now: float, webhook_url: str, api_url: str
) -> Delivery:
    """`sender` (a Teams user id, "29:...") writes `text` to the bot in a personal chat."""
    body = activity(sender, message_id, now=now, service_url=api_url, text=text)
    return delivery(body, now=now, service_url=api_url)


def customer_click(
    sender: str, title: str, payload: str, message_id: str, *, now: float, webhook_url: str, api_url: str
) -> Delivery:
    """`sender` clicks the Adaptive Card button `title`: Teams sends the action's data as `value`."""
    body = activity(sender, message_id, now=now, service_url=api_url, value={"payload": payload})
    body["replyToId"] = "1768464000000"
    return delivery(body, now=now, service_url=api_url)


def _activity_of(call: Captured) -> dict[str, Any] | None:
    if "/v3/conversations/" not in call.path or not call.path.endswith("/activities"):
        return None
    body = call.json()
    return body if isinstance(body, dict) else None


def _cards(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        attachment["content"]
        for attachment in body.get("attachments") or []
        if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive"
    ]


def sent_texts(call: Captured) -> list[str]:
    """The texts an activity shows: its text and its Adaptive Cards' text blocks ([] for the
    token request)."""
    body = _activity_of(call)
    if body is None:
        return []
    texts = [body["text"]] if isinstance(body.get("text"), str) else []
    for card in _cards(body):
        texts.extend(block["text"] for block in card.get("body", []) if block.get("type") == "TextBlock")
    return texts


def sent_buttons(call: Captured) -> list[tuple[str, str]]:
    """(title, payload) of the Adaptive Card actions an activity shows: a click sends the payload."""
    body = _activity_of(call)
    if body is None:
        return []
    return [
        (action["title"], action["data"]["payload"])
        for card in _cards(body)
        for action in card.get("actions", [])
        if action.get("type") == "Action.Submit"
    ]
