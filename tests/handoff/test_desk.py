"""The handoff desk through the HTTP API: customers on the REST channel and the web chat, agents
on the console API (/console/api), analysts on /api/tickets.

Each test builds the app with `make_server` (tests/server/conftest.py): the fake NLU, a fake
clock, in-memory stores, the agents alice and bob. Messages said outside a customer's turn (an
agent's reply, the bot taking over again) are told apart from the turn's own by their time, so
the clock moves between a customer's message and what an agent does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from engine.config import AgentConfig
from engine.dialogue.events import BotUttered, HandoffRequested
from engine.handoff.agents import AgentDirectory, token_hash
from engine.handoff.tickets import TicketError, TicketStatus
from tests.conftest import ROOT
from tests.dialogue.conftest import DISPATCHED, ORDERS, FakeClock, clock, make_pack  # noqa: F401 (fixtures)
from tests.server.conftest import AGENTS, AUTH, Server, make_server  # noqa: F401 (fixture)

if TYPE_CHECKING:
    # Imported for its type only: see test_desk_module_imports_on_its_own.
    from engine.handoff.desk import HandoffDesk

#: The ORDERS pack plus a flow with an escalate step in its middle, a billing queue with a wait
#: limit and a flow that escalates to it.
DESK = (
    ORDERS.replace(
        "intents:\n",
        "intents:\n"
        "  return_item: {examples: [I want to return something]}\n"
        "  billing_question: {examples: [my bill is wrong]}\n",
        1,
    )
    .replace(
        "responses:\n",
        "responses:\n"
        '  return_done: "Your return for {{ slots.order_id }} is booked."\n'
        "  wait_long: Sorry for the wait, the billing team is on it.\n",
        1,
    )
    .replace(
        "flows:\n",
        """flows:
  return_item:
    description: return an item
    trigger: {intents: [return_item]}
    steps:
      - collect: order_id
      - escalate: general
        reason: return_check
      - respond: return_done
  billing_question:
    description: fix a bill
    trigger: {intents: [billing_question]}
    steps:
      - escalate: billing
        reason: billing_question
""",
        1,
    )
    + """escalation:
  queues:
    billing:
      max_wait_minutes: 10
      timeout_priority: high
      timeout_message: wait_long
"""
)
DESK_READINGS = {
    "I want to return something": ("return_item",),
    "my bill is wrong": ("billing_question",),
}

REQUESTED = "A person will take over (general)."
JOINED = "Alice has joined the conversation."
TRANSFERRED = "I've passed your conversation to another team. They'll reply here."
RETURNED = "You're back with the assistant."
CLOSED_NOTICE = "This conversation with our team is closed."
EXPIRED_NOTICE = "Sorry, nobody from our team could pick up your request in time."


def place(position: int) -> str:
    return f"You're number {position} in the queue."


def waiting(position: int) -> str:
    return f"Thanks, our team will see this. You're number {position} in the queue."


@dataclass
class Desk:
    """One app: customers talk to it, agents act on it, and the test reads its tickets."""

    server: Server
    clock: FakeClock

    @property
    def desk(self) -> HandoffDesk:
        desk: HandoffDesk = self.server.client.app.state.desk  # type: ignore[attr-defined]
        return desk

    def customer(self, sender: str, text: str) -> list[dict[str, Any]]:
        """What the REST channel answers a customer's message (which must succeed)."""
        response = self.server.post(sender, text)
        assert response.status_code == 200, response.text
        messages: list[dict[str, Any]] = response.json()
        return messages

    def says(self, sender: str, text: str) -> list[str | None]:
        return [m.get("text") for m in self.customer(sender, text)]

    def agent(self, agent: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """A console call as `agent`: POST with a body, else GET."""
        headers = {"Authorization": f"Bearer {AGENTS[agent]}"}
        url = f"/console/api{path}"
        response: httpx.Response
        if body is None:
            response = self.server.client.get(url, headers=headers)
        else:
            response = self.server.client.post(url, headers=headers, json=body)
        return response

    def act(
        self, agent: str, ticket_id: int, action: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """An agent's action that must succeed; the ticket as it leaves it."""
        response = self.agent(agent, f"/tickets/{ticket_id}/{action}", body or {})
        assert response.status_code == 200, response.text
        ticket: dict[str, Any] = response.json()["ticket"]
        return ticket

    def view(self, ticket_id: int, agent: str = "alice") -> dict[str, Any]:
        response = self.agent(agent, f"/tickets/{ticket_id}")
        assert response.status_code == 200, response.text
        ticket: dict[str, Any] = response.json()["ticket"]
        return ticket

    def tickets(self, **query: Any) -> list[dict[str, Any]]:
        """/api/tickets: every ticket with its measures, newest first."""
        response = self.server.client.get("/api/tickets", headers=AUTH, params=query)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["tickets"]
        return found

    def ticket_of(self, sender: str) -> int:
        """The id of the sender's only ticket."""
        ticket = self.desk.store.latest("shop", sender)
        assert ticket is not None, f"{sender} has no ticket"
        return ticket.id

    def handoff(self, sender: str = "jo") -> int:
        """The customer asks for a person; the clock moves on. Returns the ticket's id."""
        assert self.says(sender, "a person please")[0] == REQUESTED
        self.clock.advance(seconds=10)
        return self.ticket_of(sender)

    def bot_texts(self, sender: str) -> list[str | None]:
        """Everything said to the customer, as stored."""
        tracker = self.server.client.app.state.conversations.tracker("shop", sender)  # type: ignore[attr-defined]
        return [e.text for e in tracker.events if isinstance(e, BotUttered)]


@pytest.fixture
def make_desk(make_server: Callable[..., Server], clock: FakeClock) -> Callable[..., Desk]:  # noqa: F811
    def make(**kwargs: Any) -> Desk:
        kwargs.setdefault("body", DESK)
        kwargs.setdefault("readings", DESK_READINGS)
        return Desk(make_server(**kwargs), clock)

    return make


@pytest.fixture
def desk(make_desk: Callable[..., Desk]) -> Desk:
    return make_desk()


def assert_error(response: httpx.Response, status: int, code: str, *fragments: str) -> str:
    """A 4xx with the JSON error body; returns its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message.strip()
    for fragment in fragments:
        assert fragment in message
    return message


# -- a customer asks for a person ------------------------------------------------------------------
def test_desk_handoff_request_opens_one_ticket_with_its_context_packet(desk: Desk) -> None:
    assert desk.says("jo", "where is my refund") == ["What is your email?"]
    assert desk.says("jo", "jo@example.com") == ["No refund yet for jo@example.com."]
    assert desk.says("jo", "a person please") == [REQUESTED, place(1)]
    desk.clock.advance(seconds=5)
    assert desk.says("sam", "a person please") == [REQUESTED, place(2)]

    tickets = desk.tickets()
    assert [t["pack"] for t in tickets] == ["shop", "shop"]
    ticket = desk.view(desk.ticket_of("jo"))
    assert (ticket["queue"], ticket["reason"], ticket["priority"], ticket["status"]) == (
        "general",
        "customer_request",
        "normal",
        "queued",
    )
    assert (ticket["sender_id"], ticket["channel"], ticket["agent"]) == ("jo", "rest", None)
    context = ticket["context"]
    assert context["slots"] == {"email": "[redacted]"}
    assert [(line["from"], line["text"]) for line in context["transcript"]] == [
        ("customer", "where is my refund"),
        ("bot", "What is your email?"),
        ("customer", "[redacted]"),
        ("bot", "No refund yet for [redacted]."),
        ("customer", "a person please"),
    ]
    assert context["summary"].startswith("Reason: customer request.")
    assert "Known: email [redacted]." in context["summary"]
    assert ticket["summary"] == context["summary"]
    assert "jo@example.com" not in json.dumps(ticket)
    assert [(e["kind"], e["actor"], e["text"]) for e in ticket["timeline"]] == [
        ("requested", "system", None),
        ("wait_message", "system", f"{REQUESTED}\n{place(1)}"),
    ]
    assert ticket["timeline"][0]["data"] == {
        "queue": "general",
        "reason": "customer_request",
        "priority": "normal",
        "rule": None,
    }


def test_desk_messages_while_waiting_are_recorded_and_acknowledged_once_per_wait(desk: Desk) -> None:
    ticket_id = desk.handoff("jo")
    assert desk.says("jo", "hello?") == [waiting(1)]
    desk.clock.advance(seconds=10)
    assert desk.says("jo", "anyone there?") == []
    desk.clock.advance(seconds=10)
    assert desk.says("jo", "hi") == []  # the bot does not answer while the conversation waits
    assert len(desk.tickets()) == 1
    timeline = desk.view(ticket_id)["timeline"]
    assert [(e["kind"], e["actor"], e["text"]) for e in timeline[2:]] == [
        ("customer_message", "customer", "hello?"),
        ("customer_message", "customer", "anyone there?"),
        ("customer_message", "customer", "hi"),
    ]


# -- claims and replies ----------------------------------------------------------------------------
def test_desk_claim_is_one_agents_and_only_they_reply(desk: Desk) -> None:
    ticket_id = desk.handoff("jo")
    assert_error(
        desk.agent("alice", f"/tickets/{ticket_id}/reply", {"text": "hi"}), 409, "ticket_not_claimed"
    )
    claimed = desk.act("alice", ticket_id, "claim")
    assert (claimed["status"], claimed["agent"]) == ("claimed", "alice")
    assert_error(desk.agent("bob", f"/tickets/{ticket_id}/claim", {}), 409, "ticket_claimed", "alice")
    assert_error(
        desk.agent("bob", f"/tickets/{ticket_id}/reply", {"text": "hi"}), 409, "not_your_ticket", "alice"
    )
    assert_error(
        desk.agent("bob", f"/tickets/{ticket_id}/handback", {"resume": True}), 409, "not_your_ticket"
    )
    assert_error(
        desk.agent("bob", f"/tickets/{ticket_id}/close", {"resolution": "resolved"}), 409, "not_your_ticket"
    )
    assert_error(
        desk.agent("bob", f"/tickets/{ticket_id}/transfer", {"queue": "billing"}), 409, "not_your_ticket"
    )
    desk.clock.advance(seconds=5)
    desk.act("alice", ticket_id, "reply", {"text": "Hi Jo, which order is it?"})
    desk.clock.advance(seconds=5)
    # REST cannot push: the customer's next message is answered with what was said meanwhile,
    # and nothing from the bot.
    assert desk.customer("jo", "A12345") == [
        {"recipient_id": "jo", "text": JOINED},
        {"recipient_id": "jo", "text": "Hi Jo, which order is it?", "agent": "Alice"},
    ]
    desk.clock.advance(seconds=5)
    assert desk.customer("jo", "hi") == []
    timeline = desk.view(ticket_id)["timeline"]
    assert [(e["kind"], e["actor"], e["text"]) for e in timeline[2:]] == [
        ("claimed", "alice", None),
        ("agent_reply", "alice", "Hi Jo, which order is it?"),
        ("customer_message", "customer", "A12345"),
        ("customer_message", "customer", "hi"),
    ]


def test_desk_notes_never_reach_the_customer(desk: Desk) -> None:
    ticket_id = desk.handoff("jo")
    desk.act("alice", ticket_id, "claim")
    desk.clock.advance(seconds=5)
    noted = desk.agent("bob", f"/tickets/{ticket_id}/notes", {"text": "Jo called yesterday too"})
    assert noted.status_code == 200, noted.text
    assert noted.json()["ticket"]["timeline"][-1] == {
        "id": noted.json()["ticket"]["timeline"][-1]["id"],
        "kind": "note",
        "actor": "bob",
        "text": "Jo called yesterday too",
        "data": {},
        "at": desk.clock.now,
    }
    desk.clock.advance(seconds=5)
    assert desk.says("jo", "hello?") == [JOINED]
    assert "Jo called yesterday too" not in desk.bot_texts("jo")


# -- transfers -------------------------------------------------------------------------------------
def test_desk_transfer_puts_the_ticket_in_another_queue_unclaimed(desk: Desk) -> None:
    ticket_id = desk.handoff("jo")
    desk.act("alice", ticket_id, "claim")
    assert_error(
        desk.agent("alice", f"/tickets/{ticket_id}/transfer", {"queue": "nowhere"}),
        422,
        "unknown_queue",
        "billing, general",
    )
    assert_error(
        desk.agent("alice", f"/tickets/{ticket_id}/transfer", {"queue": "general"}), 409, "same_queue"
    )
    desk.clock.advance(seconds=20)
    moved = desk.act("alice", ticket_id, "transfer", {"queue": "billing", "note": "a billing problem"})
    assert (moved["queue"], moved["status"], moved["agent"], moved["queued_at"]) == (
        "billing",
        "queued",
        None,
        desk.clock.now,
    )
    assert moved["timeline"][-1]["kind"] == "transferred"
    assert (moved["timeline"][-1]["text"], moved["timeline"][-1]["data"]) == (
        "a billing problem",
        {"from": "general", "to": "billing"},
    )
    desk.clock.advance(seconds=5)
    # Told of the transfer; a new wait, so the message is acknowledged again.
    assert desk.says("jo", "ok") == [JOINED, TRANSFERRED, waiting(1)]
    desk.clock.advance(seconds=5)
    assert desk.says("jo", "still there?") == []
    # Anyone of the new queue may claim it now.
    assert desk.act("bob", ticket_id, "claim")["agent"] == "bob"


def test_desk_transfer_keeps_the_queues_claim_waits_true(desk: Desk) -> None:
    """claim_seconds feeds the customer's expected wait: queued_at to claimed_at, per queue."""
    ticket_id = desk.handoff("jo")  # queued at T, claimed at T+10
    desk.act("alice", ticket_id, "claim")
    desk.clock.advance(seconds=10)
    desk.act("alice", ticket_id, "transfer", {"queue": "billing"})  # queued in billing at T+20
    desk.clock.advance(seconds=30)
    desk.act("bob", ticket_id, "claim")  # claimed in billing at T+50
    assert desk.desk.store.claim_seconds("shop", "general") == []  # the ticket left general
    assert desk.desk.store.claim_seconds("shop", "billing") == [30.0]


# -- handing back and closing ----------------------------------------------------------------------
def _return_handed_to_alice(desk: Desk) -> int:
    """A return whose flow escalates between collecting the order and booking it; alice has it."""
    assert desk.says("jo", "I want to return something") == ["Which order?"]
    assert desk.says("jo", "A12345") == [REQUESTED, place(1)]
    desk.clock.advance(seconds=10)
    ticket_id = desk.ticket_of("jo")
    desk.act("alice", ticket_id, "claim")
    desk.clock.advance(seconds=10)
    return ticket_id


def test_desk_hand_back_with_resume_continues_the_interrupted_flow(desk: Desk) -> None:
    ticket_id = _return_handed_to_alice(desk)
    ended = desk.act("alice", ticket_id, "handback", {"resume": True, "note": "checked the item"})
    assert (ended["status"], ended["handback"], ended["ended_at"]) == (
        "handed_back",
        "resume",
        desk.clock.now,
    )
    assert (ended["timeline"][-1]["kind"], ended["timeline"][-1]["data"]) == ("handed_back", {"resume": True})
    desk.clock.advance(seconds=10)
    # The steps after the escalate step ran when the agent handed back; the bot answers again.
    assert desk.says("jo", "hi") == [JOINED, RETURNED, "Your return for A12345 is booked.", "Hello!"]
    assert_error(desk.agent("alice", f"/tickets/{ticket_id}/reply", {"text": "hi"}), 409, "ticket_ended")


def test_desk_hand_back_without_resume_ends_the_interrupted_flow(desk: Desk) -> None:
    ticket_id = _return_handed_to_alice(desk)
    ended = desk.act("alice", ticket_id, "handback", {"resume": False})
    assert (ended["status"], ended["handback"]) == ("handed_back", "end")
    desk.clock.advance(seconds=10)
    assert desk.says("jo", "hi") == [JOINED, RETURNED, "Hello!"]
    assert "Your return for A12345 is booked." not in desk.bot_texts("jo")


def test_desk_hand_back_with_resume_asks_the_pending_question_again(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk(stubs=DISPATCHED)
    assert desk.says("jo", "where is my order") == ["Which order?"]
    ticket_id = desk.handoff("jo")
    desk.act("alice", ticket_id, "claim")
    desk.clock.advance(seconds=10)
    desk.act("alice", ticket_id, "handback", {"resume": True})
    desk.clock.advance(seconds=10)
    assert desk.says("jo", "A12345") == [JOINED, RETURNED, "Which order?", "Order A12345 is dispatched."]


def test_desk_close_needs_a_known_resolution_and_gives_the_conversation_back(
    make_desk: Callable[..., Desk],
) -> None:
    desk = make_desk(stubs=DISPATCHED)
    ticket_id = desk.handoff("jo")
    desk.act("alice", ticket_id, "claim")
    assert_error(
        desk.agent("alice", f"/tickets/{ticket_id}/close", {"resolution": "fixed"}),
        422,
        "unknown_resolution",
        "'fixed'",
        "resolved",
    )
    assert desk.view(ticket_id)["status"] == "claimed"
    desk.clock.advance(seconds=10)
    closed = desk.act("alice", ticket_id, "close", {"resolution": "resolved", "note": "sorted"})
    assert (closed["status"], closed["resolution"], closed["ended_at"]) == (
        "closed",
        "resolved",
        desk.clock.now,
    )
    assert (closed["timeline"][-1]["kind"], closed["timeline"][-1]["text"]) == ("closed", "sorted")
    desk.clock.advance(seconds=10)
    assert desk.says("jo", "where is order A12345") == [JOINED, CLOSED_NOTICE, "Order A12345 is dispatched."]
    assert_error(desk.agent("alice", f"/tickets/{ticket_id}/reply", {"text": "hi"}), 409, "ticket_ended")
    ended_actions: list[tuple[str, dict[str, Any]]] = [
        ("claim", {}),
        ("notes", {"text": "late"}),
        ("transfer", {"queue": "billing"}),
        ("handback", {"resume": True}),
        ("close", {"resolution": "resolved"}),
    ]
    for action, body in ended_actions:
        assert_error(
            desk.agent("alice", f"/tickets/{ticket_id}/{action}", body), 409, "ticket_ended", "closed"
        )
    # Asking again opens a new ticket.
    desk.clock.advance(seconds=10)
    assert desk.says("jo", "a person please") == [REQUESTED, place(1)]
    assert [t["status"] for t in desk.tickets()] == ["queued", "closed"]


def test_desk_console_lists_an_agents_own_queues_however_many_others_wait(desk: Desk) -> None:
    """The agent's queues are part of the query: the page of `limit` tickets is theirs, not a page
    of every queue filtered afterwards."""
    desk.handoff("jo")  # general: first in the waiting order
    desk.clock.advance(seconds=10)
    desk.says("kim", "my bill is wrong")  # billing
    desk.desk.agents = AgentDirectory(
        {"alice": AgentConfig(name="Alice", token_sha256=token_hash(AGENTS["alice"]), queues=["billing"])}
    )

    for view in ("open", "waiting"):
        response = desk.agent("alice", f"/tickets?view={view}&limit=1")
        assert response.status_code == 200, response.text
        assert [t["queue"] for t in response.json()["tickets"]] == ["billing"]


def test_desk_unclaimed_ticket_may_be_closed_by_any_agent(desk: Desk) -> None:
    ticket_id = desk.handoff("jo")
    assert desk.act("bob", ticket_id, "close", {"resolution": "spam"})["status"] == "closed"
    desk.clock.advance(seconds=10)
    assert desk.says("jo", "hi") == [CLOSED_NOTICE, "Hello!"]


# -- errors and logins -----------------------------------------------------------------------------
def test_desk_errors_have_a_json_body(desk: Desk) -> None:
    ticket_id = desk.handoff("jo")
    assert_error(desk.agent("alice", "/tickets/999/claim", {}), 404, "unknown_ticket", "999")
    assert_error(desk.agent("alice", "/tickets/999"), 404, "unknown_ticket")
    desk.act("alice", ticket_id, "claim")
    assert_error(desk.agent("alice", f"/tickets/{ticket_id}/reply", {"text": "   "}), 422, "empty_text")
    assert_error(desk.agent("alice", f"/tickets/{ticket_id}/reply", {"txt": "hi"}), 422, "invalid_request")
    assert_error(desk.agent("alice", f"/tickets/{ticket_id}/handback", {}), 422, "invalid_request")


CONSOLE_ROUTES = [
    ("GET", "/me", None),
    ("GET", "/queues", None),
    ("GET", "/tickets", None),
    ("GET", "/tickets/1", None),
    ("POST", "/tickets/1/claim", {}),
    ("POST", "/tickets/1/reply", {"text": "hi"}),
    ("POST", "/tickets/1/notes", {"text": "hi"}),
    ("POST", "/tickets/1/transfer", {"queue": "billing"}),
    ("POST", "/tickets/1/handback", {"resume": True}),
    ("POST", "/tickets/1/close", {"resolution": "resolved"}),
]


@pytest.mark.parametrize("token", [None, "wrong-token", "test-token"], ids=["missing", "wrong", "api-token"])
def test_desk_console_routes_need_an_agents_token(desk: Desk, token: str | None) -> None:
    ticket_id = desk.handoff("jo")
    assert ticket_id == 1
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    for method, path, body in CONSOLE_ROUTES:
        response = desk.server.client.request(method, f"/console/api{path}", headers=headers, json=body)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer", path
    # Nothing happened to the ticket.
    ticket = desk.view(ticket_id)
    assert (ticket["status"], [e["kind"] for e in ticket["timeline"]]) == (
        "queued",
        ["requested", "wait_message"],
    )


def test_desk_login_checks_the_agents_token(desk: Desk) -> None:
    client = desk.server.client
    assert_error(
        client.post("/console/api/login", json={"agent": "alice", "token": "bob-token"}), 401, "invalid_login"
    )
    assert_error(
        client.post("/console/api/login", json={"agent": "carol", "token": "alice-token"}),
        401,
        "invalid_login",
    )
    answer = client.post("/console/api/login", json={"agent": "alice", "token": "alice-token"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"agent": {"id": "alice", "name": "Alice", "queues": ["*"]}}
    assert desk.agent("bob", "/me").json() == {"agent": {"id": "bob", "name": "Bob", "queues": ["*"]}}


@pytest.mark.parametrize("path", ["/api/tickets", "/api/tickets/1"])
def test_desk_ticket_analytics_need_the_api_token(desk: Desk, path: str) -> None:
    desk.handoff("jo")
    client = desk.server.client
    assert_error(client.get(path), 401, "unauthorized")
    assert_error(
        client.get(path, headers={"Authorization": f"Bearer {AGENTS['alice']}"}), 401, "unauthorized"
    )
    assert client.get(path, headers=AUTH).status_code == 200


# -- measures --------------------------------------------------------------------------------------
def test_desk_ticket_measures_are_exact(desk: Desk) -> None:
    start = desk.clock.now
    first = desk.handoff("jo")  # requested at start; the clock is at start + 10
    desk.clock.advance(seconds=20)
    desk.act("alice", first, "claim")  # + 30
    desk.clock.advance(seconds=15)
    desk.act("alice", first, "reply", {"text": "Hello Jo"})  # + 45
    desk.clock.advance(seconds=20)
    desk.act("alice", first, "reply", {"text": "Anything else?"})  # not the first reply
    desk.clock.advance(seconds=35)
    desk.act("alice", first, "close", {"resolution": "resolved"})  # + 100

    desk.clock.advance(seconds=100)
    second_start = desk.clock.now
    assert desk.says("sam", "I want to return something") == ["Which order?"]
    assert desk.says("sam", "A12345")[0] == REQUESTED
    desk.clock.advance(seconds=12.5)
    second = desk.ticket_of("sam")
    desk.act("bob", second, "claim")
    desk.clock.advance(seconds=7.25)
    desk.act("bob", second, "handback", {"resume": True})

    measures = desk.tickets()
    assert [m["ticket_id"] for m in measures] == [second, first]
    assert measures[1] == {
        "ticket_id": first,
        "pack": "shop",
        "queue": "general",
        "reason": "customer_request",
        "priority": "normal",
        "status": "closed",
        "created_at": start,
        "time_to_claim_s": 30.0,
        "time_to_first_reply_s": 45.0,
        "duration_s": 100.0,
        "outcome": "closed",
        "handback": None,
        "resolution": "resolved",
    }
    assert {
        k: measures[0][k] for k in measures[0] if k.endswith("_s") or k in {"outcome", "handback", "reason"}
    } == {
        "time_to_claim_s": 12.5,
        "time_to_first_reply_s": None,
        "duration_s": 19.75,
        "outcome": "handed_back",
        "handback": "resume",
        "reason": "return_check",
    }
    assert measures[0]["created_at"] == second_start
    assert [m["ticket_id"] for m in desk.tickets(status="closed")] == [first]
    assert [m["ticket_id"] for m in desk.tickets(since=second_start)] == [second]
    assert [m["ticket_id"] for m in desk.tickets(until=second_start)] == [first]
    assert [m["ticket_id"] for m in desk.tickets(limit=1, offset=1)] == [first]
    detail = desk.server.client.get(f"/api/tickets/{first}", headers=AUTH).json()
    assert detail["measures"] == measures[1]
    assert [e["kind"] for e in detail["ticket"]["timeline"]] == [
        "requested",
        "wait_message",
        "claimed",
        "agent_reply",
        "agent_reply",
        "closed",
    ]


# -- the queues' limits ----------------------------------------------------------------------------
WAIT_LONG = "Sorry for the wait, the billing team is on it."


def sweep(desk: Desk) -> tuple[int, int, int]:
    report = desk.desk.sweep()
    return (report.reprioritized, report.expired, report.failed)


def test_desk_sweep_reprioritizes_a_long_wait_once_then_expires_the_ticket(desk: Desk) -> None:
    start = desk.clock.now
    assert desk.says("jo", "my bill is wrong") == ["A person will take over (billing).", place(1)]
    ticket_id = desk.ticket_of("jo")
    desk.clock.advance(minutes=9)
    assert sweep(desk) == (0, 0, 0)
    desk.clock.advance(minutes=2)
    assert sweep(desk) == (1, 0, 0)
    ticket = desk.view(ticket_id)
    assert (ticket["priority"], ticket["timed_out"], ticket["status"]) == ("high", True, "queued")
    assert (ticket["timeline"][-1]["kind"], ticket["timeline"][-1]["data"]) == (
        "reprioritized",
        {"from": "normal", "to": "high", "waited_minutes": 11.0},
    )
    desk.clock.advance(minutes=30)
    assert sweep(desk) == (0, 0, 0)
    assert desk.bot_texts("jo").count(WAIT_LONG) == 1
    assert desk.says("jo", "hello?") == [WAIT_LONG, waiting(1)]

    desk.clock.now = start + desk.desk.expire_after_seconds - 1
    assert sweep(desk) == (0, 0, 0)
    assert desk.desk.expire_after_seconds == 72 * 3600
    desk.clock.advance(seconds=1)
    assert sweep(desk) == (0, 1, 0)
    ticket = desk.view(ticket_id)
    assert (ticket["status"], ticket["handback"], ticket["ended_at"]) == ("expired", "end", desk.clock.now)
    assert ticket["timeline"][-1]["kind"] == "expired"
    assert sweep(desk) == (0, 0, 0)
    desk.clock.advance(seconds=10)
    assert desk.says("jo", "hi") == [EXPIRED_NOTICE, "Hello!"]
    assert desk.bot_texts("jo").count(EXPIRED_NOTICE) == 1


def test_desk_sweep_counts_a_transferred_tickets_wait_from_the_transfer(desk: Desk) -> None:
    """expire_after is time left unclaimed: a ticket an agent worked longer than that and then
    transferred waits in its new queue as long as a new one would."""
    start = desk.clock.now
    desk.says("jo", "my bill is wrong")
    desk.clock.advance(seconds=10)
    ticket_id = desk.ticket_of("jo")
    desk.act("alice", ticket_id, "claim")
    desk.clock.now = start + desk.desk.expire_after_seconds + 5
    desk.act("alice", ticket_id, "transfer", {"queue": "general"})
    transferred = desk.clock.now
    desk.clock.advance(seconds=1)
    assert sweep(desk) == (0, 0, 0)
    assert desk.view(ticket_id)["status"] == "queued"
    desk.clock.now = transferred + desk.desk.expire_after_seconds
    assert sweep(desk)[1] == 1
    assert desk.view(ticket_id)["status"] == "expired"


def test_desk_sweep_of_a_second_worker_does_not_time_a_ticket_out_again(desk: Desk) -> None:
    """Two workers' sweeps find the same overdue ticket; the second, which takes the
    conversation's lock after the first, leaves it alone: one timeline entry, one message."""
    desk.says("jo", "my bill is wrong")
    ticket_id = desk.ticket_of("jo")
    desk.clock.advance(minutes=11)
    found_by_second_worker = desk.desk.store.get(ticket_id)
    assert sweep(desk) == (1, 0, 0)

    with pytest.raises(TicketError, match="timed out meanwhile"):
        desk.desk._time_out(found_by_second_worker, desk.clock.now)

    assert [e.kind for e in desk.desk.store.entries(ticket_id)].count("reprioritized") == 1
    assert desk.bot_texts("jo").count(WAIT_LONG) == 1


def test_desk_sweep_leaves_claimed_tickets_alone(desk: Desk) -> None:
    desk.says("jo", "my bill is wrong")
    desk.clock.advance(seconds=10)
    ticket_id = desk.ticket_of("jo")
    desk.act("alice", ticket_id, "claim")
    desk.clock.advance(minutes=60 * 80)
    assert sweep(desk) == (0, 0, 0)
    ticket = desk.view(ticket_id)
    assert (ticket["status"], ticket["priority"], ticket["timed_out"]) == ("claimed", "normal", False)


# -- recovering from a server that stopped between two steps ----------------------------------------
@pytest.mark.parametrize(
    ("ending", "said"),
    [
        pytest.param({"status": "closed", "resolution": "resolved"}, ["Hello!"], id="closed"),
        pytest.param(
            {"status": "handed_back", "handback": "resume", "agent": "alice"},
            ["Your return for A12345 is booked.", "Hello!"],
            id="handed-back-to-resume",
        ),
    ],
)
def test_desk_paused_conversation_whose_ticket_ended_is_handed_back_at_its_next_message(
    desk: Desk, ending: dict[str, Any], said: list[str]
) -> None:
    desk.says("jo", "I want to return something")
    assert desk.says("jo", "A12345")[0] == REQUESTED
    desk.clock.advance(seconds=10)
    store = desk.desk.store
    ticket = store.get(desk.ticket_of("jo"))
    # The ticket ended in the store, but the server stopped before the conversation heard of it.
    store.change(ticket, {**ending, "ended_at": desk.clock.now, "updated_at": desk.clock.now}, None)
    desk.clock.advance(seconds=10)
    assert desk.says("jo", "hi") == said
    desk.clock.advance(seconds=10)
    assert desk.says("jo", "hi") == ["Hello!"]  # handed back once, not again
    assert len(desk.tickets()) == 1


def test_desk_paused_conversation_without_a_ticket_gets_one_with_its_next_message(desk: Desk) -> None:
    # The server stored the turn that asked for a person, then stopped before opening the ticket.
    assistant = desk.server.assistants[0]
    tracker = assistant.tracker("jo")
    assistant.handle(tracker, "a person please")
    desk.server.trackers.append("shop", "jo", tracker.events, expected=0)
    seq = next(i for i, e in enumerate(tracker.events) if isinstance(e, HandoffRequested))
    assert desk.desk.store.latest("shop", "jo") is None

    desk.clock.advance(seconds=10)
    assert desk.says("jo", "hello?") == []
    ticket = desk.desk.store.latest("shop", "jo")
    assert ticket is not None
    assert (ticket.status, ticket.queue, ticket.reason, ticket.handoff_seq) == (
        TicketStatus.QUEUED,
        "general",
        "customer_request",
        seq,
    )
    assert ticket.created_at == desk.clock.now - 10
    timeline = desk.view(ticket.id)["timeline"]
    assert [(e["kind"], e["text"]) for e in timeline] == [
        ("requested", None),
        ("wait_message", REQUESTED),
        ("customer_message", "hello?"),
    ]
    desk.clock.advance(seconds=10)
    assert desk.says("jo", "anyone?") == [waiting(1)]
    assert len(desk.tickets()) == 1


# -- the web chat ----------------------------------------------------------------------------------
def receive(socket: Any, seconds: float = 10.0) -> dict[str, Any]:
    """The socket's next frame; fails instead of hanging when none comes."""
    frames: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: frames.append(socket.receive_json()), daemon=True)
    reader.start()
    reader.join(seconds)
    assert frames, f"no frame within {seconds} s"
    return frames[0]


def test_desk_web_chat_hears_the_agent_at_once_and_keeps_it_in_the_history(desk: Desk) -> None:
    client = desk.server.client
    reply = {"recipient_id": "abc", "text": "Hi, Alice here. How can I help?", "agent": "Alice"}
    with client.websocket_connect("/webchat/ws?sender=abc") as socket:
        assert receive(socket)["type"] == "history"
        socket.send_json({"type": "message", "text": "a person please", "id": "m1"})
        assert receive(socket) == {"type": "typing", "reply_to": "m1"}
        assert receive(socket) == {
            "type": "bot",
            "reply_to": "m1",
            "messages": [
                {"recipient_id": "abc", "text": REQUESTED},
                {"recipient_id": "abc", "text": place(1)},
            ],
        }
        desk.clock.advance(seconds=10)
        ticket_id = desk.ticket_of("webchat:abc")
        ticket = desk.view(ticket_id)
        assert (ticket["sender_id"], ticket["channel"]) == ("webchat:abc", "webchat")
        desk.act("alice", ticket_id, "claim")
        assert receive(socket) == {"type": "bot", "messages": [{"recipient_id": "abc", "text": JOINED}]}
        desk.clock.advance(seconds=10)
        desk.act("alice", ticket_id, "reply", {"text": reply["text"]})
        assert receive(socket) == {"type": "bot", "messages": [reply]}
    with client.websocket_connect("/webchat/ws?sender=abc") as socket:
        history = receive(socket)
    assert history["type"] == "history"
    assert history["messages"][-2:] == [
        {"role": "bot", "recipient_id": "abc", "text": JOINED},
        {"role": "bot", **reply},
    ]


def test_desk_module_imports_on_its_own() -> None:
    """A fresh interpreter imports the desk first without an import cycle (engine.server imports
    the desk; the desk must not need engine.server while it loads)."""
    done = subprocess.run(
        [sys.executable, "-c", "import engine.handoff.desk"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-500:]
