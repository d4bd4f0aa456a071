"""The conversation API: the token, packs, conversations, trackers (PII redacted), injecting
messages and intents, and handing conversations back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.dialogue.events import UserUttered
from tests.dialogue.conftest import DISPATCHED
from tests.server.conftest import AUTH, Server

TRACKER = "/api/packs/shop/conversations/jo/tracker"


def test_api_without_the_token_variable_is_disabled(make_server: Callable[..., Server]) -> None:
    server = make_server(token=None)
    response = server.client.get("/api/packs", headers=AUTH)
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "api_disabled",
        "message": "the conversation API is disabled: the server's environment has no PARLEY_API_TOKEN. "
        "Set PARLEY_API_TOKEN to a secret token, restart, and send Authorization: Bearer <token>",
    }


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": "Bearer wrong"}, id="wrong-token"),
        pytest.param({"Authorization": "Basic dGVzdC10b2tlbg=="}, id="basic-scheme"),
        pytest.param({"Authorization": "test-token"}, id="no-scheme"),
    ],
)
def test_api_rejects_a_missing_or_wrong_token(
    make_server: Callable[..., Server], headers: dict[str, str]
) -> None:
    server = make_server()
    response = server.client.get("/api/packs", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"


def test_api_lists_packs_with_their_models(make_server: Callable[..., Server]) -> None:
    server = make_server(names=("first", "second"))
    packs = server.client.get("/api/packs", headers=AUTH).json()
    assert [(p["name"], p["default"], p["model_id"]) for p in packs] == [
        ("first", True, None),
        ("second", False, None),
    ]
    assert packs[0]["intents"] == len(server.assistants[0].pack.intents)


def test_api_lists_conversations_newest_first_in_pages(
    make_server: Callable[..., Server], clock: object
) -> None:
    server = make_server()
    for sender in ("ann", "bob", "cy"):
        server.say(sender, "hi")
        clock.advance(seconds=10)  # type: ignore[attr-defined]
    url = "/api/packs/shop/conversations"
    listed = server.client.get(url, headers=AUTH).json()
    assert [c["sender_id"] for c in listed["conversations"]] == ["cy", "bob", "ann"]
    page = server.client.get(f"{url}?limit=1&offset=1", headers=AUTH).json()
    assert (page["limit"], page["offset"], [c["sender_id"] for c in page["conversations"]]) == (1, 1, ["bob"])
    bad = server.client.get(f"{url}?limit=0", headers=AUTH)
    assert (bad.status_code, bad.json()["error"]["message"]) == (
        422,
        "query.limit: Input should be greater than or equal to 1",
    )
    unknown = server.client.get("/api/packs/nope/conversations", headers=AUTH)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_pack")


def test_api_tracker_is_rasa_shaped_with_pii_redacted(make_server: Callable[..., Server]) -> None:
    server = make_server()
    server.say("jo", "where is my refund")
    assert server.say("jo", "jo@example.com") == ["No refund yet for jo@example.com."]
    tracker = server.client.get(TRACKER, headers=AUTH).json()
    assert set(tracker) >= {"sender_id", "slots", "latest_message", "events", "paused", "latest_event_time"}
    assert tracker["sender_id"] == "jo"
    assert tracker["slots"]["email"] == "[redacted]"
    assert "jo@example.com" not in str(tracker)
    said = [e["text"] for e in tracker["events"] if e["event"] == "bot"]
    assert said[-1] == "No refund yet for [redacted]."


def test_api_tracker_shows_pii_when_asked_and_logs_that(make_server: Callable[..., Server]) -> None:
    server = make_server()
    server.say("jo", "where is my refund")
    server.say("jo", "jo@example.com")
    tracker = server.client.get(f"{TRACKER}?include_pii=true", headers=AUTH).json()
    assert tracker["slots"]["email"] == "jo@example.com"
    audit = [line for line in server.log_lines() if line.get("include_pii")]
    assert audit[0]["conversation_id"] == "jo"
    assert "jo@example.com" not in server.logs.getvalue()


def test_api_tracker_of_a_new_conversation_is_empty(make_server: Callable[..., Server]) -> None:
    server = make_server()
    tracker = server.client.get("/api/packs/shop/conversations/nobody/tracker", headers=AUTH).json()
    assert (tracker["events"], tracker["paused"]) == ([], False)


def test_api_injects_a_message(make_server: Callable[..., Server]) -> None:
    server = make_server(stubs=DISPATCHED)
    url = "/api/packs/shop/conversations/jo/messages"
    answer = server.client.post(url, json={"text": "where is order A12345"}, headers=AUTH).json()
    assert answer["sender_id"] == "jo"
    assert answer["messages"] == [{"recipient_id": "jo", "text": "Order A12345 is dispatched."}]
    assert {"user", "bot", "action"} <= {e["event"] for e in answer["events"]}
    user = next(e for e in server.trackers.load("shop", "jo") if isinstance(e, UserUttered))
    assert user.input_channel == "api"
    unknown_key = server.client.post(url, json={"text": "hi", "sender": "x"}, headers=AUTH)
    assert unknown_key.json()["error"]["message"] == "sender: Extra inputs are not permitted"


def test_api_injects_an_intent_as_a_payload(make_server: Callable[..., Server]) -> None:
    server = make_server(stubs=DISPATCHED)
    url = "/api/packs/shop/conversations/jo/intents"
    answer = server.client.post(
        url, json={"intent": "order_status", "entities": {"order_id": "B54321"}}, headers=AUTH
    ).json()
    assert [m["text"] for m in answer["messages"]] == ["Order B54321 is dispatched."]
    user = next(e for e in answer["events"] if e["event"] == "user")
    assert user["text"] == '/order_status{"order_id": "B54321"}'
    assert user["parse_data"]["intent"] == {"name": "order_status", "confidence": 1.0}


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        pytest.param(
            {"intent": "fly"},
            "unknown_intent",
            "pack 'shop' has no intent 'fly'; its intents: affirm,",
            id="unknown-intent",
        ),
        pytest.param(
            {"intent": "order_status", "entities": {"colour": "red"}},
            "unknown_entity",
            "pack 'shop' has no slot or entity 'colour'; its slots: confirm, email,",
            id="unknown-entity",
        ),
        pytest.param(
            {"intent": "Order Status"},
            "invalid_request",
            "intent: String should match pattern",
            id="bad-name",
        ),
        pytest.param({"entities": {}}, "invalid_request", "intent: Field required", id="no-intent"),
    ],
)
def test_api_intent_injection_names_what_is_wrong(
    make_server: Callable[..., Server], body: dict[str, object], code: str, fragment: str
) -> None:
    server = make_server()
    response = server.client.post("/api/packs/shop/conversations/jo/intents", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert fragment in response.json()["error"]["message"]
    assert server.trackers.conversations() == []


def test_api_hands_a_conversation_back_to_the_bot(make_server: Callable[..., Server]) -> None:
    server = make_server(stubs=DISPATCHED)
    base = "/api/packs/shop/conversations/jo/handoff"
    early = server.client.post(f"{base}/end", json={"resume": True}, headers=AUTH)
    assert (early.status_code, early.json()["error"]["code"]) == (409, "no_open_handoff")
    server.say("jo", "where is my order")
    server.say("jo", "a person please")
    accepted = server.client.post(f"{base}/accept", json={"agent": "sam"}, headers=AUTH).json()
    assert [e["event"] for e in accepted["events"]] == ["handoff_accepted"]
    ended = server.client.post(f"{base}/end", json={"resume": True, "agent": "sam"}, headers=AUTH).json()
    assert ended["events"][0] == {
        **ended["events"][0],
        "event": "handoff_ended",
        "resume": True,
        "agent": "sam",
    }
    assert [m["text"] for m in ended["messages"]][-1] == "Which order?"  # the question is asked again
    assert server.say("jo", "A12345") == ["Order A12345 is dispatched."]


def test_api_end_handoff_needs_resume(make_server: Callable[..., Server]) -> None:
    server = make_server()
    response = server.client.post("/api/packs/shop/conversations/jo/handoff/end", json={}, headers=AUTH)
    assert (response.status_code, response.json()["error"]["message"]) == (422, "resume: Field required")


def test_api_openapi_documents_every_endpoint(make_server: Callable[..., Server]) -> None:
    server = make_server()
    document = server.client.get("/openapi.json").json()
    paths = document["paths"]
    assert {
        "/webhooks/rest/",
        "/webhooks/rest/webhook",
        "/packs/{pack}/webhooks/rest/",
        "/packs/{pack}/webhooks/rest/webhook",
        "/api/packs",
        "/api/packs/{pack}/conversations",
        "/api/packs/{pack}/conversations/{sender}/tracker",
        "/api/packs/{pack}/conversations/{sender}/messages",
        "/api/packs/{pack}/conversations/{sender}/intents",
        "/api/packs/{pack}/conversations/{sender}/handoff/end",
        "/api/packs/{pack}/conversations/{sender}/handoff/accept",
        "/health",
        "/ready",
        "/metrics",
    } <= set(paths)
    webhook = paths["/webhooks/rest/webhook"]["post"]
    assert webhook["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("RestMessage")
    assert {"200", "413", "415", "422", "503"} <= set(webhook["responses"])
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
