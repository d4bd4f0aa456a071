"""The Bot Framework (Microsoft Teams) connector: the Bot Connector's bearer token and its signing
keys, Teams activities (texts, @mentions, Adaptive Card clicks, files, images, events that are
not messages) and the reply activities the bot's messages become, with the bot's own token."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from engine.channels.base import Inbound, Malformed, OutboundCall, Rejected, WebhookRequest
from engine.channels.botframework import BotFrameworkConnector, TokenError
from engine.channels.settings import BotFrameworkConfig, MissingCredential
from tests.channels import botframework_platform as bf
from tests.channels.fake_platform import Delivery, FakePlatform, Scripted

NOW = 1_800_000_000.0
SERVICE_URL = "https://smba.trafficmanager.net/amer/"
SENDER = "29:1GcS4EyB_oSI8A88XmWBN7NJFyMqe3QGnJdgLfFGkJnVelzRGos0bPbpsfJjcbAD22bmKc4GMbrY2g4JDrrA8vM"
CONVERSATION = f"a:1{SENDER}"
WEBHOOK_URL = f"http://testserver{bf.WEBHOOK}"
ACCESS = {"Authorization": f"Bearer {bf.ACCESS_TOKEN}"}
ADDRESS: dict[str, Any] = {
    "service_url": SERVICE_URL,
    "conversation_id": CONVERSATION,
    "bot": dict(bf.BOT),
    "user": {"id": SENDER, "name": "Megan Bowen"},
    "reply_to_id": "1768464001234",
    "channel_id": "msteams",
}
REPLY_URL = f"https://smba.trafficmanager.net/amer/v3/conversations/{quote(CONVERSATION, safe='')}/activities"
BASE = {
    "type": "message",
    "from": dict(bf.BOT),
    "recipient": {"id": SENDER, "name": "Megan Bowen"},
    "conversation": {"id": CONVERSATION},
    "replyToId": "1768464001234",
}
DRIVE = "https://contoso-my.sharepoint.com/personal/megan_contoso_onmicrosoft_com"
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


@pytest.fixture
def connector(session: requests.Session) -> BotFrameworkConnector:
    """The connector as `parley run` builds it (with the test key set; it never calls anything
    while it verifies and parses)."""
    return BotFrameworkConnector.from_config(bf.config("http://127.0.0.1:9"), session, bf.ENVIRON)


@pytest.fixture
def replier(session: requests.Session, platform: FakePlatform) -> BotFrameworkConnector:
    """The connector with its token endpoint on the fake platform, which answers every request
    with a token."""
    platform.default = Scripted(200, bf.token_answer())
    return BotFrameworkConnector.from_config(bf.config(platform.url), session, bf.ENVIRON)


def request_of(delivery: Delivery) -> WebhookRequest:
    parts = urlsplit(delivery.path_and_query)
    return WebhookRequest(
        method=delivery.method,
        url=WEBHOOK_URL + delivery.path_and_query,
        headers={name.lower(): value for name, value in delivery.headers.items()},
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        body=delivery.body,
    )


def signed(body: dict[str, Any] | bytes, token: str | None = None) -> WebhookRequest:
    """`body` POSTed by the Bot Connector with `token` (default: a valid one for SERVICE_URL)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    token = token if token is not None else bf.bearer_token(now=NOW, service_url=SERVICE_URL)
    return request_of(Delivery(raw, {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}))


def message(message_id: str = "1768464001234", **fields: Any) -> dict[str, Any]:
    return bf.activity(SENDER, message_id, now=NOW, service_url=SERVICE_URL, **fields)


def parsed(connector: BotFrameworkConnector, body: dict[str, Any] | bytes) -> list[Inbound]:
    request = signed(body)
    connector.verify(request, NOW)
    return connector.parse(request)


def one(connector: BotFrameworkConnector, body: dict[str, Any]) -> Inbound:
    found = parsed(connector, body)
    assert len(found) == 1
    return found[0]


def rejected(connector: BotFrameworkConnector, request: WebhookRequest, now: float = NOW) -> Rejected:
    with pytest.raises(Rejected) as caught:
        connector.verify(request, now)
    return caught.value


def bodies(calls: list[OutboundCall]) -> list[Any]:
    assert all(call.url == REPLY_URL and call.headers == ACCESS and call.method == "POST" for call in calls)
    return [call.json for call in calls]


# -- configuration ---------------------------------------------------------------------------------
def test_botframework_from_config_names_a_missing_variable(session: requests.Session) -> None:
    with pytest.raises(MissingCredential, match=r"PARLEY_BOTFRAMEWORK_APP_PASSWORD.*client secret"):
        BotFrameworkConnector.from_config(
            bf.config("http://127.0.0.1:1"), session, {"PARLEY_BOTFRAMEWORK_APP_ID": bf.APP_ID}
        )
    with pytest.raises(MissingCredential, match=r"PARLEY_BOTFRAMEWORK_APP_ID.*App ID"):
        BotFrameworkConnector.from_config(bf.config("http://127.0.0.1:1"), session, {})


def test_botframework_app_id_may_be_written_in_config(session: requests.Session) -> None:
    settings = BotFrameworkConfig(app_id="in-config", jwks_file=bf.JWKS_FILE)
    connector = BotFrameworkConnector.from_config(
        settings, session, {"PARLEY_BOTFRAMEWORK_APP_PASSWORD": "secret"}
    )
    assert (connector.app_id, connector.app_password) == ("in-config", "secret")


def test_botframework_rejects_a_jwks_file_that_is_not_a_key_set(
    session: requests.Session, tmp_path: Path
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "x"}]}), encoding="utf-8")
    with pytest.raises(ValueError, match="no RSA signing key"):
        BotFrameworkConnector("a", "b", api_url="x", session=session, jwks_file=path)
    with pytest.raises(ValueError, match="cannot read"):
        BotFrameworkConnector("a", "b", api_url="x", session=session, jwks_file=tmp_path / "missing.json")


# -- verification ----------------------------------------------------------------------------------
def test_botframework_accepts_the_platform_helpers_deliveries(
    replier: BotFrameworkConnector, platform: FakePlatform
) -> None:
    connector = replier
    for delivery in (
        bf.customer_text(SENDER, "hi", "1", now=NOW, webhook_url=WEBHOOK_URL, api_url=platform.url),
        bf.customer_click(
            SENDER, "Yes", "/affirm", "2", now=NOW, webhook_url=WEBHOOK_URL, api_url=platform.url
        ),
    ):
        connector.verify(request_of(delivery), NOW)
    assert platform.calls == []  # keys from the file: nothing fetched


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "])
def test_botframework_without_a_bearer_token_is_401(
    connector: BotFrameworkConnector, header: str | None
) -> None:
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["authorization"] = header
    request = WebhookRequest("POST", WEBHOOK_URL, headers, {}, json.dumps(message(text="hi")).encode())
    error = rejected(connector, request)
    assert error.status == 401


def claims_token(
    claims: dict[str, Any], key: rsa.RSAPrivateKey = bf.PRIVATE_KEY, kid: str = bf.KEY_ID
) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


VALID = {
    "iss": bf.ISSUER,
    "aud": bf.APP_ID,
    "exp": int(NOW + 3600),
    "nbf": int(NOW - 60),
    "serviceurl": SERVICE_URL,
}


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("not-a-jwt", "not a JWT"),
        (claims_token(VALID, key=OTHER_KEY), "Signature verification failed"),
        (claims_token(VALID, kid="rotated-away"), "not one of the Bot Framework's keys"),
        (jwt.encode(VALID, "x" * 32, algorithm="HS256", headers={"kid": bf.KEY_ID}), "not valid"),
        (claims_token({**VALID, "aud": "another-bot"}), "audience"),
        (claims_token({**VALID, "iss": "https://sts.windows.net/evil/"}), "issuer"),
        (claims_token({key: v for key, v in VALID.items() if key != "exp"}), "exp"),
        (claims_token({**VALID, "exp": int(NOW - 301)}), "expired"),
        (claims_token({**VALID, "nbf": int(NOW + 301)}), "not valid yet"),
        (claims_token({**VALID, "serviceurl": "https://attacker.example/"}), "serviceUrl"),
    ],
    ids=[
        "garbage",
        "other key",
        "unknown kid",
        "hs256",
        "audience",
        "issuer",
        "no exp",
        "expired",
        "nbf",
        "serviceurl",
    ],
)
def test_botframework_an_invalid_token_is_403(
    connector: BotFrameworkConnector, token: str, reason: str
) -> None:
    error = rejected(connector, signed(message(text="hi"), token))
    assert error.status == 403
    assert reason in error.reason
    assert "hi" not in error.reason.split()


def test_botframework_a_token_without_kid_is_403(connector: BotFrameworkConnector) -> None:
    token = jwt.encode(VALID, bf.PRIVATE_KEY, algorithm="RS256")
    assert "kid" in rejected(connector, signed(message(text="hi"), token)).reason


def test_botframework_expiry_allows_five_minutes_of_clock_skew(connector: BotFrameworkConnector) -> None:
    body = message(text="hi")
    connector.verify(signed(body, claims_token({**VALID, "exp": int(NOW - 300)})), NOW)
    connector.verify(signed(body, claims_token({**VALID, "nbf": int(NOW + 300)})), NOW)
    token = bf.bearer_token(now=NOW, service_url=SERVICE_URL, lifetime=3600)
    connector.verify(signed(body, token), NOW + 3600 + 300)
    assert rejected(connector, signed(body, token), NOW + 3600 + 301).status == 403


def test_botframework_a_tampered_service_url_is_403(connector: BotFrameworkConnector) -> None:
    """A valid token replayed with another serviceUrl would send the bot's access token there."""
    body = message(text="hi", serviceUrl="https://attacker.example/")
    error = rejected(connector, signed(body))
    assert (error.status, error.reason) == (
        403,
        "the activity's serviceUrl is not the one the token was issued for (serviceurl claim)",
    )


def test_botframework_a_token_without_serviceurl_claim_is_refused(connector: BotFrameworkConnector) -> None:
    token = bf.bearer_token(now=NOW, service_url=None)
    error = rejected(connector, signed(message(text="hi"), token))
    assert error.status == 403 and "serviceurl claim" in error.reason


def test_botframework_the_key_must_be_endorsed_for_the_channel(connector: BotFrameworkConnector) -> None:
    error = rejected(connector, signed(message(text="hi", channelId="skype")))
    assert (error.status, error.reason) == (
        403,
        "the token's signing key is not endorsed for the activity's channelId",
    )


def test_botframework_a_valid_token_with_a_body_that_is_not_an_activity_is_malformed(
    connector: BotFrameworkConnector,
) -> None:
    for body in (b"\xff not json", b"[1, 2]"):
        request = signed(body)
        connector.verify(request, NOW)
        with pytest.raises(Malformed):
            connector.parse(request)
    # An object without serviceUrl does not match the token's serviceurl claim.
    assert rejected(connector, signed({"type": "message", "id": "1"})).status == 403


# -- signing keys from the Bot Framework's OpenID metadata ---------------------------------------
def jwks(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(keys)}


@pytest.fixture
def fetching(session: requests.Session, platform: FakePlatform) -> BotFrameworkConnector:
    """A connector that fetches its keys from the fake platform's OpenID metadata."""
    return BotFrameworkConnector(
        bf.APP_ID,
        "secret",
        api_url=platform.url,
        session=session,
        openid_metadata_url=f"{platform.url}/v1/.well-known/openidconfiguration",
    )


def script_keys(platform: FakePlatform, *keys: dict[str, Any]) -> None:
    platform.script(
        200,
        {"issuer": bf.ISSUER, "jwks_uri": f"{platform.url}/v1/.well-known/keys"},
        path="/openidconfiguration",
    )
    platform.script(200, jwks(*keys), path="/keys")


def test_botframework_fetches_the_keys_on_first_use_and_keeps_them_an_hour(
    fetching: BotFrameworkConnector, platform: FakePlatform
) -> None:
    assert platform.calls == []  # nothing fetched when built: `parley run` starts offline
    script_keys(platform, bf.jwk(bf.PRIVATE_KEY, bf.KEY_ID, ["msteams", "skype"]))
    request = signed(message(text="hi"))
    fetching.verify(request, NOW)
    assert [(c.method, c.path) for c in platform.calls] == [
        ("GET", "/v1/.well-known/openidconfiguration"),
        ("GET", "/v1/.well-known/keys"),
    ]
    fetching.verify(request, NOW + 3599)
    assert len(platform.calls) == 2
    script_keys(platform, bf.jwk(bf.PRIVATE_KEY, bf.KEY_ID))
    fetching.verify(request, NOW + 3600)
    assert len(platform.calls) == 4
    # A key without endorsements signs for any channel.
    fetching.verify(signed(message(text="hi", channelId="webchat")), NOW + 3600)


def test_botframework_an_unknown_key_fetches_the_keys_again_at_most_every_five_minutes(
    fetching: BotFrameworkConnector, platform: FakePlatform
) -> None:
    script_keys(platform, bf.jwk(bf.PRIVATE_KEY, bf.KEY_ID))
    fetching.verify(signed(message(text="hi")), NOW)
    rotated = claims_token(VALID, key=OTHER_KEY, kid="new-key")
    # Just fetched: a key not among them is not a reason to fetch again.
    assert rejected(fetching, signed(message(text="hi"), rotated), NOW + 10).status == 403
    assert len(platform.calls) == 2
    script_keys(platform, bf.jwk(bf.PRIVATE_KEY, bf.KEY_ID), bf.jwk(OTHER_KEY, "new-key"))
    fetching.verify(signed(message(text="hi"), rotated), NOW + 300)
    assert len(platform.calls) == 4
    forged = claims_token(VALID, key=OTHER_KEY, kid="forged")
    for _ in range(3):
        assert rejected(fetching, signed(message(text="hi"), forged), NOW + 301).status == 403
    assert len(platform.calls) == 4


def test_botframework_keys_that_cannot_be_fetched_answer_503(
    fetching: BotFrameworkConnector, platform: FakePlatform
) -> None:
    platform.script(500, {"error": "unavailable"}, path="/openidconfiguration")
    error = rejected(fetching, signed(message(text="hi")))
    assert error.status == 503
    assert "signing keys could not be fetched" in error.reason
    platform.script(200, {"issuer": bf.ISSUER}, path="/openidconfiguration")
    # Requests right after a failed fetch do not each wait on Microsoft's servers: 503 at once.
    assert "could not be fetched yet" in rejected(fetching, signed(message(text="hi")), NOW + 1).reason
    assert len(platform.calls) == 1
    later = bf.bearer_token(now=NOW + 10, service_url=SERVICE_URL)
    assert "names no jwks_uri" in rejected(fetching, signed(message(text="hi"), later), NOW + 10).reason


def test_botframework_keeps_its_keys_when_a_refresh_fails(
    fetching: BotFrameworkConnector, platform: FakePlatform
) -> None:
    script_keys(platform, bf.jwk(bf.PRIVATE_KEY, bf.KEY_ID))
    fetching.verify(signed(message(text="hi")), NOW)
    platform.script(503, {"error": "down"}, path="/openidconfiguration")
    later = NOW + 4000
    token = bf.bearer_token(now=later, service_url=SERVICE_URL)
    fetching.verify(signed(message(text="hi"), token), later)
    fetching.verify(signed(message(text="hi"), token), later + 10)
    assert len(platform.calls) == 3  # the failed attempt counts: no retry on every request


# -- activities ------------------------------------------------------------------------------------
def test_botframework_a_personal_chat_message(connector: BotFrameworkConnector) -> None:
    inbound = one(connector, message(text="Where is my order?"))
    assert inbound == Inbound(
        message_id=f"{CONVERSATION}|1768464001234",
        sender_id=SENDER,
        text="Where is my order?",
        address=ADDRESS,
        metadata={"user_name": "Megan Bowen", "tenant_id": bf.TENANT_ID, "conversation_type": "personal"},
    )
    json.dumps(inbound.address)


def test_botframework_a_retried_activity_has_the_same_message_id(connector: BotFrameworkConnector) -> None:
    first = one(connector, message(text="hello"))
    again = one(connector, message(text="hello"))
    other = one(connector, message("1768464009999", text="hello"))
    assert first.message_id == again.message_id != other.message_id


def test_botframework_a_channel_mention_of_the_bot_is_removed(connector: BotFrameworkConnector) -> None:
    body = message(
        "1768464005555",
        text="<at>Parley</at> can <at>Adele Vance</at> get a refund?\n",
        conversation={
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": bf.TENANT_ID,
            "id": "19:c1a9d3f2e6b84f0a9d1e@thread.tacv2;messageid=1768464005555",
        },
        entities=[
            {"type": "mention", "text": "<at>Parley</at>", "mentioned": dict(bf.BOT)},
            {
                "type": "mention",
                "text": "<at>Adele Vance</at>",
                "mentioned": {"id": "29:adele", "name": "Adele Vance"},
            },
        ],
        channelData={
            "teamsChannelId": "19:c1a9d3f2e6b84f0a9d1e@thread.tacv2",
            "teamsTeamId": "19:team@thread.tacv2",
            "channel": {"id": "19:c1a9d3f2e6b84f0a9d1e@thread.tacv2"},
            "team": {"id": "19:team@thread.tacv2"},
            "tenant": {"id": bf.TENANT_ID},
        },
    )
    inbound = one(connector, body)
    assert inbound.text == "can Adele Vance get a refund?"
    assert (
        inbound.address["conversation_id"] == "19:c1a9d3f2e6b84f0a9d1e@thread.tacv2;messageid=1768464005555"
    )
    assert inbound.metadata["conversation_type"] == "channel"


def test_botframework_a_mention_without_entities_is_found_by_the_bots_name(
    connector: BotFrameworkConnector,
) -> None:
    assert one(connector, message(text="<at>Parley</at>\u00a0 help", entities=[])).text == "help"


def test_botframework_an_adaptive_card_click_is_its_payload(connector: BotFrameworkConnector) -> None:
    delivery = bf.customer_click(
        SENDER, "Yes", "/affirm", "1768464007777", now=NOW, webhook_url=WEBHOOK_URL, api_url=SERVICE_URL
    )
    request = request_of(delivery)
    connector.verify(request, NOW)
    [inbound] = connector.parse(request)
    assert (inbound.text, inbound.sender_id) == ("/affirm", SENDER)
    assert inbound.message_id == f"{CONVERSATION}|1768464007777"


def test_botframework_a_card_submit_without_payload_is_ignored(connector: BotFrameworkConnector) -> None:
    assert parsed(connector, message(value={"comment": "typed into a form"})) == []


def test_botframework_an_image_with_text(connector: BotFrameworkConnector) -> None:
    url = "https://smba.trafficmanager.net/amer/v3/attachments/0-eus-d4-a1b2/views/original"
    body = message(
        text="my broken lamp",
        attachments=[
            {"contentType": "image/*", "contentUrl": url},
            {
                "contentType": "text/html",
                "content": '<div><div><img src="x"></div><p>my broken lamp</p></div>',
            },
        ],
    )
    inbound = one(connector, body)
    assert inbound.text == "[image] my broken lamp"
    assert inbound.metadata["attachments"] == [
        {"type": "image", "mime_type": "image/*", "url": url, "name": None}
    ]


def test_botframework_a_shared_file(connector: BotFrameworkConnector) -> None:
    download = f"{DRIVE}/_layouts/15/download.aspx?UniqueId=4ee9&Translate=false"
    body = message(
        attachments=[
            {
                "contentType": "application/vnd.microsoft.teams.file.download.info",
                "contentUrl": f"{DRIVE}/Documents/Microsoft Teams Chat Files/invoice.pdf",
                "name": "invoice.pdf",
                "content": {"downloadUrl": download, "uniqueId": "4ee9", "fileType": "pdf"},
            }
        ]
    )
    inbound = one(connector, body)
    assert inbound.text == "[file invoice.pdf]"
    assert inbound.metadata["attachments"] == [
        {
            "type": "file",
            "mime_type": "application/vnd.microsoft.teams.file.download.info",
            "name": "invoice.pdf",
            "url": download,
            "file_type": "pdf",
        }
    ]


def test_botframework_a_card_a_user_forwards(connector: BotFrameworkConnector) -> None:
    body = message(
        attachments=[{"contentType": "application/vnd.microsoft.card.hero", "content": {"title": "x"}}]
    )
    assert one(connector, body).text == "[card]"


def test_botframework_only_the_html_copy_of_an_empty_text_is_no_message(
    connector: BotFrameworkConnector,
) -> None:
    body = message(text="", attachments=[{"contentType": "text/html", "content": "<p></p>"}])
    assert parsed(connector, body) == []


@pytest.mark.parametrize(
    "event",
    [
        {"type": "conversationUpdate", "membersAdded": [{"id": SENDER}]},
        {"type": "typing"},
        {"type": "messageReaction", "reactionsAdded": [{"type": "like"}], "replyToId": "1768464001234"},
        {"type": "invoke", "name": "adaptiveCard/action", "value": {"action": {"type": "Action.Execute"}}},
        {"type": "installationUpdate", "action": "add"},
        {"type": "messageUpdate", "text": "edited"},
    ],
    ids=lambda event: event["type"],
)
def test_botframework_events_that_are_not_messages_give_nothing(
    connector: BotFrameworkConnector, event: dict[str, Any]
) -> None:
    body = {**message(), **event}
    assert parsed(connector, body) == []


def test_botframework_the_bots_own_activity_is_ignored(connector: BotFrameworkConnector) -> None:
    body = message(text="echo")
    body["from"] = dict(bf.BOT)
    assert parsed(connector, body) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a Bot Framework activity"),
        (json.dumps({"text": "hi"}).encode(), "not a Bot Framework activity"),
        (json.dumps({"type": "message", "text": "hi"}).encode(), "no id"),
        (json.dumps({"type": "message", "id": "1", "text": "hi"}).encode(), "no serviceUrl"),
        (json.dumps({**message(text="hi"), "conversation": {}}).encode(), "no conversation.id"),
    ],
)
def test_botframework_a_body_that_is_not_an_activity_is_malformed(
    connector: BotFrameworkConnector, body: bytes, reason: str
) -> None:
    with pytest.raises(Malformed, match=reason):
        connector.parse(signed(body))


# -- replies ---------------------------------------------------------------------------------------
def test_botframework_a_text(replier: BotFrameworkConnector, platform: FakePlatform) -> None:
    calls = replier.render([{"recipient_id": SENDER, "text": "Your order shipped."}], ADDRESS)
    assert calls == [
        OutboundCall(
            REPLY_URL, json={**BASE, "text": "Your order shipped.", "textFormat": "plain"}, headers=ACCESS
        )
    ]
    [token] = platform.calls
    assert (token.method, token.path) == ("POST", "/botframework.com/oauth2/v2.0/token")
    assert token.headers["content-type"] == "application/x-www-form-urlencoded"
    assert token.form() == {
        "grant_type": "client_credentials",
        "client_id": bf.APP_ID,
        "client_secret": bf.ENVIRON["PARLEY_BOTFRAMEWORK_APP_PASSWORD"],
        "scope": "https://api.botframework.com/.default",
    }


def test_botframework_buttons_are_an_adaptive_card(replier: BotFrameworkConnector) -> None:
    buttons = [
        {"title": "Track my order", "payload": "/track"},
        {"title": "Talk to a person", "payload": "/human"},
    ]
    calls = replier.render([{"recipient_id": SENDER, "text": "How can I help?", "buttons": buttons}], ADDRESS)
    card = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4",
            "body": [{"type": "TextBlock", "text": "How can I help?", "wrap": True}],
            "actions": [
                {"type": "Action.Submit", "title": "Track my order", "data": {"payload": "/track"}},
                {"type": "Action.Submit", "title": "Talk to a person", "data": {"payload": "/human"}},
            ],
        },
    }
    assert bodies(calls) == [{**BASE, "attachments": [card]}]


def test_botframework_quick_replies_without_text_are_a_card_without_body(
    replier: BotFrameworkConnector,
) -> None:
    calls = replier.render(
        [{"recipient_id": SENDER, "quick_replies": [{"title": "Yes", "payload": "/affirm"}]}], ADDRESS
    )
    [body] = bodies(calls)
    assert body["attachments"][0]["content"]["body"] == []
    assert body["attachments"][0]["content"]["actions"] == [
        {"type": "Action.Submit", "title": "Yes", "data": {"payload": "/affirm"}}
    ]


def test_botframework_more_than_six_buttons_are_numbered_options(replier: BotFrameworkConnector) -> None:
    buttons = [{"title": f"Store {n}", "payload": f'/store{{"n": {n}}}'} for n in range(1, 8)]
    message_ = {"recipient_id": SENDER, "text": "Which store?", "buttons": buttons}
    assert replier.numbered(message_)
    calls = replier.render([message_], ADDRESS)
    options = "\n".join(f"{n}. Store {n}" for n in range(1, 8))
    assert bodies(calls) == [{**BASE, "text": f"Which store?\n\n{options}", "textFormat": "plain"}]


def test_botframework_a_long_text_is_split_and_the_card_goes_last(replier: BotFrameworkConnector) -> None:
    first, second = "a" * 20000 + ".", "b" * 10000 + "."
    calls = replier.render(
        [
            {
                "recipient_id": SENDER,
                "text": f"{first}\n\n{second}",
                "buttons": [{"title": "OK", "payload": "/ok"}],
            }
        ],
        ADDRESS,
    )
    sent = bodies(calls)
    assert sent[0] == {**BASE, "text": first, "textFormat": "plain"}
    assert sent[1]["attachments"][0]["content"]["body"] == [
        {"type": "TextBlock", "text": second, "wrap": True}
    ]
    assert [call.describes for call in calls] == [0, 1]


def test_botframework_an_image(replier: BotFrameworkConnector) -> None:
    calls = replier.render(
        [
            {
                "recipient_id": SENDER,
                "text": "Here it is:",
                "image": "https://cdn.example.com/lamp.png?size=2",
            },
            {"recipient_id": SENDER, "image": "https://cdn.example.com/render?id=7"},
        ],
        ADDRESS,
    )
    assert bodies(calls) == [
        {**BASE, "text": "Here it is:", "textFormat": "plain"},
        {
            **BASE,
            "attachments": [
                {"contentType": "image/png", "contentUrl": "https://cdn.example.com/lamp.png?size=2"}
            ],
        },
        {
            **BASE,
            "attachments": [{"contentType": "image/*", "contentUrl": "https://cdn.example.com/render?id=7"}],
        },
    ]
    assert [call.describes for call in calls] == [0, 1, 1]


def test_botframework_custom_is_merged_into_the_activity(replier: BotFrameworkConnector) -> None:
    hero = {
        "contentType": "application/vnd.microsoft.card.hero",
        "content": {"title": "Lamp", "subtitle": "€39"},
    }
    custom = {"attachments": [hero], "attachmentLayout": "carousel", "replyToId": None}
    calls = replier.render([{"recipient_id": SENDER, "custom": custom}], ADDRESS)
    assert bodies(calls) == [
        {**BASE, "attachments": [hero], "attachmentLayout": "carousel", "replyToId": None}
    ]


def test_botframework_an_attachment(replier: BotFrameworkConnector) -> None:
    file_card = {
        "contentType": "application/pdf",
        "contentUrl": "https://cdn.example.com/i.pdf",
        "name": "i.pdf",
    }
    calls = replier.render(
        [
            {"recipient_id": SENDER, "attachment": file_card},
            {"recipient_id": SENDER, "attachment": "https://x.io/a"},
        ],
        ADDRESS,
    )
    assert bodies(calls) == [
        {**BASE, "attachments": [file_card]},
        {**BASE, "text": "https://x.io/a", "textFormat": "plain"},
    ]


def test_botframework_an_agents_message_names_the_agent(replier: BotFrameworkConnector) -> None:
    calls = replier.render(
        [{"recipient_id": SENDER, "text": "I'll check that now.", "agent": "Alice"}], ADDRESS
    )
    assert bodies(calls) == [{**BASE, "text": "Alice: I'll check that now.", "textFormat": "plain"}]


def test_botframework_nothing_to_show_needs_no_token(
    replier: BotFrameworkConnector, platform: FakePlatform
) -> None:
    assert replier.render([{"recipient_id": SENDER}], ADDRESS) == []
    assert platform.calls == []


def test_botframework_a_proactive_address_and_a_service_url_without_slash(
    replier: BotFrameworkConnector,
) -> None:
    address = {**ADDRESS, "service_url": "https://smba.trafficmanager.net/emea", "reply_to_id": None}
    [call] = replier.render([{"recipient_id": SENDER, "text": "hi"}], address)
    assert (
        call.url
        == f"https://smba.trafficmanager.net/emea/v3/conversations/{quote(CONVERSATION, safe='')}/activities"
    )
    assert call.json is not None and "replyToId" not in call.json


def test_botframework_an_address_of_another_connector_is_refused(replier: BotFrameworkConnector) -> None:
    with pytest.raises(ValueError, match="not a Bot Framework address"):
        replier.render([{"recipient_id": SENDER, "text": "hi"}], {"chat_id": 1})


# -- the bot's access token ------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def token_user(session: requests.Session, platform: FakePlatform, clock: Clock) -> BotFrameworkConnector:
    return BotFrameworkConnector(
        bf.APP_ID,
        "secret",
        api_url=platform.url,
        session=session,
        jwks_file=bf.JWKS_FILE,
        token_url=f"{platform.url}/common/oauth2/v2.0/token",
        clock=clock,
    )


def test_botframework_the_token_is_kept_until_five_minutes_before_it_expires(
    session: requests.Session, platform: FakePlatform
) -> None:
    clock = Clock()
    connector = token_user(session, platform, clock)
    platform.default = Scripted(200, {**bf.token_answer(), "expires_in": 3599})
    text = [{"recipient_id": SENDER, "text": "hi"}]
    connector.render(text, ADDRESS)
    clock.now = NOW + 3599 - 301
    connector.render(text, ADDRESS)
    assert len(platform.calls) == 1
    clock.now = NOW + 3599 - 300
    platform.default = Scripted(200, {"access_token": "fresh", "expires_in": 3600})
    [call] = connector.render(text, ADDRESS)
    assert call.headers == {"Authorization": "Bearer fresh"}
    assert len(platform.calls) == 2


def test_botframework_a_401_from_the_bot_connector_forgets_the_token(
    session: requests.Session, platform: FakePlatform
) -> None:
    connector = token_user(session, platform, Clock())
    platform.default = Scripted(200, bf.token_answer())
    text = [{"recipient_id": SENDER, "text": "hi"}]
    [call] = connector.render(text, ADDRESS)
    platform.script(401, {"message": "Authorization has been denied for this request."}, path="/activities")
    response = session.post(f"{platform.url}/v3/conversations/x/activities", json=call.json)
    assert (
        connector.failure(response)
        == 'HTTP 401: {"message": "Authorization has been denied for this request."}'
    )
    connector.render(text, ADDRESS)
    assert [c.path for c in platform.calls] == [
        "/common/oauth2/v2.0/token",
        "/v3/conversations/x/activities",
        "/common/oauth2/v2.0/token",
    ]


def test_botframework_threads_share_one_token_request(
    session: requests.Session, platform: FakePlatform
) -> None:
    connector = token_user(session, platform, Clock())
    platform.default = Scripted(200, bf.token_answer())
    threads = [
        threading.Thread(target=connector.render, args=([{"recipient_id": SENDER, "text": "hi"}], ADDRESS))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(platform.calls) == 1


def test_botframework_a_refused_token_raises_token_error(
    session: requests.Session, platform: FakePlatform
) -> None:
    connector = token_user(session, platform, Clock())
    platform.script(
        401,
        {
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
            "error_codes": [7000215],
        },
        path="/token",
    )
    with pytest.raises(
        TokenError, match=r"HTTP 401\): AADSTS7000215: Invalid client secret provided\."
    ) as caught:
        connector.render([{"recipient_id": SENDER, "text": "hi"}], ADDRESS)
    assert "secret" not in str(caught.value).split("App ID")[0]
    assert isinstance(caught.value, requests.RequestException)


def test_botframework_a_token_answer_without_token_raises_token_error(
    session: requests.Session, platform: FakePlatform
) -> None:
    connector = token_user(session, platform, Clock())  # the fake answers {"ok": true}
    with pytest.raises(TokenError, match="without an access_token"):
        connector.render([{"recipient_id": SENDER, "text": "hi"}], ADDRESS)


def test_botframework_an_unreachable_token_endpoint_raises_token_error(session: requests.Session) -> None:
    connector = BotFrameworkConnector(
        bf.APP_ID,
        "secret",
        api_url="x",
        session=session,
        jwks_file=bf.JWKS_FILE,
        token_url="http://127.0.0.1:9/token",
        timeout=2,
    )
    with pytest.raises(TokenError, match="could not be reached"):
        connector.render([{"recipient_id": SENDER, "text": "hi"}], ADDRESS)


# -- what the Bot Connector receives ---------------------------------------------------------------
def test_botframework_the_platform_receives_the_reply(
    session: requests.Session, platform: FakePlatform
) -> None:
    connector = BotFrameworkConnector.from_config(bf.config(platform.url), session, bf.ENVIRON)
    delivery = bf.customer_text(
        SENDER, "Can I return it?", "1768464001234", now=NOW, webhook_url=WEBHOOK_URL, api_url=platform.url
    )
    request = request_of(delivery)
    connector.verify(request, NOW)
    [inbound] = connector.parse(request)
    assert inbound.address["service_url"] == platform.url
    platform.script(200, bf.token_answer(), path="/token")
    platform.script(201, {"id": "1768464002000"}, path="/activities")
    platform.script(201, {"id": "1768464002001"}, path="/activities")
    calls = connector.render(
        [
            {"recipient_id": SENDER, "text": "Yes, within 30 days.", "agent": "Alice"},
            {
                "recipient_id": SENDER,
                "text": "Anything else?",
                "buttons": [{"title": "No", "payload": "/deny"}],
            },
        ],
        inbound.address,
    )
    for call in calls:
        response = session.request(
            call.method, call.url, json=call.json, data=call.form, headers=call.headers, auth=call.auth
        )
        assert connector.failure(response) is None
    token, first, second = platform.calls
    assert token.path == "/botframework.com/oauth2/v2.0/token"
    assert bf.sent_texts(token) == [] and bf.sent_buttons(token) == []
    conversation = f"a:1{SENDER}"
    assert first.path == second.path == f"/v3/conversations/{quote(conversation, safe='')}/activities"
    assert first.headers["authorization"] == f"Bearer {bf.ACCESS_TOKEN}"
    assert first.headers["content-type"] == "application/json"
    base = {
        "type": "message",
        "from": bf.BOT,
        "recipient": {"id": SENDER, "name": "Megan Bowen"},
        "conversation": {"id": conversation},
        "replyToId": "1768464001234",
    }
    assert first.json() == {**base, "text": "Alice: Yes, within 30 days.", "textFormat": "plain"}
    assert second.json()["attachments"][0]["content"]["actions"] == [
        {"type": "Action.Submit", "title": "No", "data": {"payload": "/deny"}}
    ]
    assert bf.sent_texts(first) == ["Alice: Yes, within 30 days."] and bf.sent_buttons(first) == []
    assert bf.sent_texts(second) == ["Anything else?"]
    assert bf.sent_buttons(second) == [("No", "/deny")]
