"""The agent console in a real browser: headless Chromium (Debian's, /usr/bin/chromium) drives
`static/console.html`, `console.js` and `console.css` against a fake, in-memory console API
(`FakeDesk`, in this file) that follows the contract of `engine/server/console.py` and keeps
what it received, so the page is checked on its own: logging in and out, the lists, a ticket's
context and timeline, every action and the body it sends, errors in the alert region, and the
polling that brings new customer messages without touching what the agent is typing.

Without /usr/bin/chromium the tests skip, saying why; with PARLEY_REQUIRE_SERVICES=1 they fail
instead. `make browsers` installs it.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from playwright.sync_api import Browser, Locator, Page, expect

from tests.server.browser import UvicornThread

STATIC = Path(__file__).resolve().parents[2] / "engine" / "server" / "static"
AGENT_ID = "demo"
AGENT: dict[str, Any] = {"id": AGENT_ID, "name": "Demo Agent", "queues": ["*"]}
TOKEN = "demo-agent-token"
QUEUES = {"retail": ["general", "billing", "returns"]}
RESOLUTIONS = {
    "resolved": "The customer's problem was solved.",
    "duplicate": "Another ticket covers it.",
    "no_response": "The customer stopped answering.",
}
PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
VIEWS = {"waiting": ("queued",), "mine": ("claimed",), "open": ("queued", "claimed")}


class Refused(Exception):
    """An answer of the fake API with the contract's error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class FakeDesk:
    """The console API's state: tickets by id, what the page sent, and one-shot refusals."""

    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    received: list[tuple[str, str, Any]] = field(default_factory=list)
    #: (ticket id, action) -> the error its next call gets.
    refuse: dict[tuple[int, str], Refused] = field(default_factory=dict)
    token_valid: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def entry(self, ticket_id: int, kind: str, actor: str, text: str | None = None, **data: Any) -> None:
        timeline = self.tickets[ticket_id]["timeline"]
        timeline.append(
            {
                "id": len(timeline) + 1,
                "kind": kind,
                "actor": actor,
                "text": text,
                "data": data,
                "at": time.time(),
            }
        )

    def summary(self, ticket: dict[str, Any]) -> dict[str, Any]:
        public = {k: v for k, v in ticket.items() if k not in ("context", "timeline")}
        public["waited_seconds"] = round((ticket["ended_at"] or time.time()) - ticket["created_at"], 1)
        return public

    def detail(self, ticket: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.summary(ticket),
            "context": ticket["context"],
            "timeline": copy.deepcopy(ticket["timeline"]),
        }

    def listing(self, view: str, queue: str | None, pack: str | None) -> list[dict[str, Any]]:
        statuses = VIEWS.get(view, ("handed_back", "closed", "expired"))
        chosen = [
            t
            for t in self.tickets.values()
            if t["status"] in statuses
            and (view != "mine" or t["agent"] == AGENT_ID)
            and (queue is None or t["queue"] == queue)
            and (pack is None or t["pack"] == pack)
        ]
        if view == "waiting":
            chosen.sort(key=lambda t: (-PRIORITY_RANK[t["priority"]], t["queued_at"]))
        else:
            chosen.sort(key=lambda t: -t["created_at"])
        return [self.summary(t) for t in chosen]

    def act(self, ticket_id: int, action: str, body: Any) -> dict[str, Any]:
        ticket = self.tickets[ticket_id]
        refusal = self.refuse.pop((ticket_id, action), None)
        if refusal is not None:
            if refusal.code == "ticket_claimed":  # the other agent was first
                ticket.update(status="claimed", agent="alice", claimed_at=time.time())
            raise refusal
        now = time.time()
        if action == "claim":
            ticket.update(status="claimed", agent=AGENT_ID, claimed_at=now)
            self.entry(ticket_id, "claimed", AGENT_ID)
        elif action == "reply":
            ticket["first_reply_at"] = ticket["first_reply_at"] or now
            self.entry(ticket_id, "agent_reply", AGENT_ID, body["text"])
        elif action == "notes":
            self.entry(ticket_id, "note", AGENT_ID, body["text"])
        elif action == "transfer":
            if body["queue"] not in QUEUES[ticket["pack"]]:
                raise Refused(422, "unknown_queue", f"there is no queue {body['queue']}")
            self.entry(
                ticket_id,
                "transferred",
                AGENT_ID,
                body.get("note"),
                to=body["queue"],
                **{"from": ticket["queue"]},
            )
            ticket.update(queue=body["queue"], status="queued", agent=None, queued_at=now)
        elif action == "handback":
            ticket.update(status="handed_back", handback="resume" if body["resume"] else "end", ended_at=now)
            self.entry(ticket_id, "handed_back", AGENT_ID, body.get("note"), resume=body["resume"])
        elif action == "close":
            if body["resolution"] not in RESOLUTIONS:
                raise Refused(422, "unknown_resolution", f"there is no resolution {body['resolution']}")
            ticket.update(status="closed", resolution=body["resolution"], ended_at=now)
            self.entry(ticket_id, "closed", AGENT_ID, body.get("note"), resolution=body["resolution"])
        return {"ticket": self.detail(ticket)}


def make_ticket(
    ticket_id: int, priority: str, queue: str, reason: str, minutes_ago: float, **fields: Any
) -> dict[str, Any]:
    created = time.time() - minutes_ago * 60
    ticket: dict[str, Any] = {
        "id": ticket_id,
        "pack": "retail",
        "sender_id": f"webchat:c{ticket_id}",
        "channel": "webchat",
        "queue": queue,
        "reason": reason,
        "priority": priority,
        "status": "queued",
        "agent": None,
        "summary": f"Reason: {reason.replace('_', ' ')}. Ticket {ticket_id}.",
        "created_at": created,
        "queued_at": created,
        "claimed_at": None,
        "first_reply_at": None,
        "ended_at": None,
        "timed_out": False,
        "resolution": None,
        "handback": None,
        "context": {
            "summary": "",
            "transcript": [],
            "slots": {},
            "intent_trail": [],
            "flow": None,
            "step": None,
        },
        "timeline": [],
    }
    ticket.update(fields)
    ticket["context"]["summary"] = ticket["summary"]
    return ticket


def seeded_desk() -> FakeDesk:
    """Three waiting tickets (the API orders them 3, 2, 1), one of alice's, one of demo's, one closed."""
    refund = (
        "Reason: verification failed. The customer wants to check the status of a refund. "
        'Known: order id B20417, email [redacted]. Last message: "it\'s been two weeks, where is my money"'
    )
    asked = time.time() - 200
    context = {
        "summary": refund,
        "transcript": [
            {"from": "customer", "text": "where is my refund?", "time": asked, "intent": "refund_status"},
            {"from": "bot", "text": "What's your order number?", "time": asked + 1},
            {"from": "customer", "text": "B20417, email [redacted]", "time": asked + 20, "intent": "inform"},
        ],
        "slots": {"order_id": "B20417", "email": "[redacted]"},
        "intent_trail": ["refund_status", "inform"],
        "flow": "verify_customer",
        "step": "collect_email",
    }
    desk = FakeDesk()
    for ticket in (
        make_ticket(1, "normal", "general", "low_confidence", 12.5),
        make_ticket(2, "high", "general", "verification_failed", 3.5, summary=refund, context=context),
        make_ticket(3, "urgent", "billing", "customer_asked", 1.5),
        make_ticket(4, "low", "general", "out_of_scope", 30, status="claimed", agent="alice"),
        make_ticket(5, "normal", "returns", "customer_asked", 50, status="claimed", agent="demo"),
        make_ticket(6, "normal", "general", "customer_asked", 90, status="closed", resolution="resolved"),
    ):
        desk.tickets[ticket["id"]] = ticket
    desk.tickets[6]["ended_at"] = time.time() - 60
    desk.entry(2, "requested", "system", reason="verification_failed")
    desk.entry(2, "wait_message", "system", "An agent will be with you in a few minutes.")
    desk.entry(2, "customer_message", "customer", "hello? <b>anyone</b>")
    return desk


def fake_console_app() -> FastAPI:
    """The three static files at the console's URLs and the fake API over `app.state.desk`."""
    app = FastAPI()

    @app.exception_handler(Refused)
    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, Refused)
        return JSONResponse(
            {"error": {"code": error.code, "message": error.message}}, status_code=error.status
        )

    def desk_of(request: Request, *, login: bool = False) -> FakeDesk:
        desk: FakeDesk = request.app.state.desk
        if not login and (request.headers.get("authorization") != f"Bearer {TOKEN}" or not desk.token_valid):
            raise Refused(401, "unauthorized", "log in again")
        return desk

    @app.get("/console")
    def page() -> FileResponse:
        return FileResponse(STATIC / "console.html", media_type="text/html")

    @app.get("/console/{name}")
    def static_file(name: str) -> FileResponse:
        types = {"console.js": "text/javascript", "console.css": "text/css"}
        if name not in types:
            raise Refused(404, "not_found", name)
        return FileResponse(STATIC / name, media_type=types[name])

    @app.post("/console/api/login")
    async def login(request: Request) -> dict[str, Any]:
        desk, body = desk_of(request, login=True), await request.json()
        desk.received.append(("POST", "login", body))
        if body != {"agent": AGENT_ID, "token": TOKEN}:
            raise Refused(401, "invalid_login", "unknown agent or wrong token")
        desk.token_valid = True
        return {"agent": AGENT}

    @app.get("/console/api/me")
    def me(request: Request) -> dict[str, Any]:
        desk_of(request)
        return {"agent": AGENT}

    @app.get("/console/api/queues")
    def queues(request: Request) -> dict[str, Any]:
        desk = desk_of(request)
        with desk.lock:
            rows = []
            for name in QUEUES["retail"]:
                mine = [t for t in desk.tickets.values() if t["queue"] == name]
                rows.append(
                    {
                        "pack": "retail",
                        "name": name,
                        "description": f"The {name} desk.",
                        "open": name != "returns",
                        "waiting": sum(t["status"] == "queued" for t in mine),
                        "claimed": sum(t["status"] == "claimed" for t in mine),
                        "max_wait_minutes": 10,
                    }
                )
            return {"queues": rows}

    @app.get("/console/api/tickets")
    def tickets(
        request: Request, view: str, queue: str | None = None, pack: str | None = None
    ) -> dict[str, Any]:
        desk = desk_of(request)
        desk.received.append(("GET", "tickets", dict(request.query_params)))
        with desk.lock:
            return {"tickets": desk.listing(view, queue, pack)}

    @app.get("/console/api/tickets/{ticket_id}")
    def ticket(request: Request, ticket_id: int) -> dict[str, Any]:
        desk = desk_of(request)
        with desk.lock:
            one = desk.tickets[ticket_id]
            return {"ticket": desk.detail(one), "queues": QUEUES[one["pack"]], "resolutions": RESOLUTIONS}

    @app.post("/console/api/tickets/{ticket_id}/{action}")
    async def act(request: Request, ticket_id: int, action: str) -> dict[str, Any]:
        desk = desk_of(request)
        raw = await request.body()
        body = await request.json() if raw else None
        desk.received.append(("POST", f"{ticket_id}/{action}", body))
        with desk.lock:
            return desk.act(ticket_id, action, body)

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[UvicornThread]:
    running = UvicornThread(fake_console_app())
    running.start()
    yield running
    running.stop()


@pytest.fixture
def desk(server: UvicornThread) -> FakeDesk:
    seeded = seeded_desk()
    server.app.state.desk = seeded
    return seeded


@pytest.fixture
def page(chromium: Browser, server: UvicornThread, desk: FakeDesk) -> Iterator[Page]:
    """A fresh browser profile on the console; every request must go to the server, and the page
    must raise no script error."""
    context = chromium.new_context(viewport={"width": 1366, "height": 800})
    context.set_default_timeout(5000)
    page = context.new_page()
    elsewhere: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server.url) else elsewhere.append(r.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/console")
    yield page
    context.close()
    assert elsewhere == [], f"the page loaded from elsewhere: {elsewhere}"
    assert errors == [], f"script errors: {errors}"


def by(page: Page, test_id: str) -> Locator:
    return page.get_by_test_id(test_id)


def log_in(page: Page) -> None:
    by(page, "login-agent").fill("demo")
    by(page, "login-token").fill(TOKEN)
    by(page, "login-submit").click()
    expect(by(page, "agent-name")).to_have_text("Demo Agent")


def open_ticket(page: Page, ticket_id: int) -> Locator:
    by(page, "ticket-list").locator(f'[data-ticket-id="{ticket_id}"]').click()
    detail = by(page, "ticket-detail")
    expect(detail.get_by_role("heading", name=f"Ticket #{ticket_id}")).to_be_visible()
    return detail


def posted(desk: FakeDesk) -> list[tuple[str, Any]]:
    return [(path, body) for method, path, body in desk.received if method == "POST" and path != "login"]


def test_console_browser_logs_in_keeps_the_session_and_logs_out(page: Page, desk: FakeDesk) -> None:
    expect(by(page, "login-agent")).to_be_focused()
    by(page, "login-agent").fill("demo")
    by(page, "login-token").fill("wrong")
    by(page, "login-token").press("Enter")
    expect(by(page, "login-error")).to_have_text("Unknown agent or wrong token")
    expect(by(page, "login-error")).to_have_attribute("role", "alert")
    assert desk.received[-1] == ("POST", "login", {"agent": "demo", "token": "wrong"})

    log_in(page)
    stored = page.evaluate("JSON.parse(sessionStorage.getItem('parley-console'))")
    assert stored == {"token": TOKEN, "agent": AGENT}
    expect(by(page, "login-agent")).to_be_hidden()

    page.reload()  # the stored token is checked with /me and the agent stays logged in
    expect(by(page, "agent-name")).to_have_text("Demo Agent")
    expect(by(page, "ticket-item")).to_have_count(3)

    by(page, "logout").click()
    expect(by(page, "login-submit")).to_be_visible()
    expect(by(page, "login-error")).to_be_empty()
    expect(by(page, "agent-name")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('parley-console')") is None


def test_console_browser_lists_tickets_as_the_api_orders_them(page: Page, desk: FakeDesk) -> None:
    log_in(page)
    queues = by(page, "queue-list").locator("li")
    expect(queues).to_have_count(3)
    general = by(page, "queue-list").locator('[data-queue="general"]')
    expect(general).to_contain_text("retail")
    expect(general).to_contain_text("Open")
    expect(general).to_contain_text("2 waiting")
    expect(general).to_contain_text("1 claimed")
    expect(by(page, "queue-list").locator('[data-queue="returns"]')).to_contain_text("Closed")

    items = by(page, "ticket-item")
    expect(items).to_have_count(3)
    assert [items.nth(i).get_attribute("data-ticket-id") for i in range(3)] == ["3", "2", "1"]
    expect(items.locator(".pc-prio")).to_have_text(["urgent", "high", "normal"])
    second = items.nth(1)
    expect(second).to_contain_text("general")
    expect(second).to_contain_text("verification failed")
    expect(second).to_contain_text("3 min")
    expect(second).to_contain_text("Reason: verification failed. The customer wants to check")
    expect(items.nth(2)).to_contain_text("12 min")
    expect(items.nth(2)).to_have_class(re.compile(r"\bpc-late\b"))  # over the queue's 10 minutes

    by(page, "view-mine").click()
    expect(by(page, "view-mine")).to_have_attribute("aria-selected", "true")
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-ticket-id", "5")
    by(page, "view-mine").press("ArrowRight")  # the tabs follow the arrow keys
    expect(by(page, "view-open")).to_be_focused()
    expect(items).to_have_count(5)
    expect(by(page, "ticket-list").locator('[data-ticket-id="4"]')).to_contain_text("Claimed by alice")
    by(page, "view-ended").click()
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Closed: resolved")

    general.get_by_role("button").click()  # only this queue's tickets
    expect(general.get_by_role("button")).to_have_attribute("aria-pressed", "true")
    by(page, "view-waiting").click()
    expect(items).to_have_count(2)
    assert ("GET", "tickets", {"view": "waiting", "queue": "general", "pack": "retail"}) in desk.received


def test_console_browser_shows_a_ticket_with_its_context_and_timeline(page: Page) -> None:
    log_in(page)
    detail = open_ticket(page, 2)
    assert page.evaluate("location.hash") == "#ticket-2"
    expect(by(page, "ticket-status")).to_have_text("Queued")
    expect(by(page, "ticket-reason")).to_have_text("verification failed")
    expect(by(page, "ticket-queue")).to_have_text("general")
    expect(by(page, "context-summary")).to_contain_text("The customer wants to check the status of a refund.")
    slots = by(page, "context-slots")
    expect(slots.locator('[data-slot="order_id"] td')).to_have_text("B20417")
    expect(slots.locator('[data-slot="email"] td')).to_have_text("[redacted]")
    expect(detail).to_contain_text("verify_customer at the step collect_email")
    expect(page.locator(".pc-trail li")).to_have_text(["refund_status", "inform"])
    transcript = by(page, "context-transcript").locator("li")
    expect(transcript).to_have_count(3)
    expect(transcript.nth(0)).to_have_attribute("data-from", "customer")
    expect(transcript.nth(0)).to_contain_text("where is my refund?")
    expect(transcript.nth(1)).to_have_attribute("data-from", "bot")
    timeline = by(page, "timeline").locator("li")
    expect(timeline).to_have_count(3)
    assert [timeline.nth(i).get_attribute("data-kind") for i in range(3)] == [
        "requested",
        "wait_message",
        "customer_message",
    ]
    # Text from the server is text, never markup.
    expect(timeline.nth(2)).to_contain_text("hello? <b>anyone</b>")
    expect(by(page, "claim")).to_be_visible()
    expect(by(page, "reply-text")).to_be_hidden()

    by(page, "view-open").click()
    open_ticket(page, 4)  # alice's: nothing for us to do
    expect(by(page, "ticket-status")).to_have_text("Claimed")
    expect(detail).to_contain_text("Claimed by alice")
    expect(by(page, "claim")).to_be_hidden()
    expect(by(page, "reply-text")).to_be_hidden()


def test_console_browser_claims_replies_and_notes(page: Page, desk: FakeDesk) -> None:
    # Someone else is quicker to claim ticket 3: the server's message is shown.
    desk.refuse[(3, "claim")] = Refused(409, "ticket_claimed", "ticket 3 is already claimed by alice")
    log_in(page)
    open_ticket(page, 3)
    by(page, "claim").click()
    expect(by(page, "alert")).to_contain_text("ticket 3 is already claimed by alice")
    expect(by(page, "alert")).to_have_attribute("role", "alert")
    expect(by(page, "ticket-detail")).to_contain_text("Claimed by alice")  # refreshed at once
    expect(by(page, "claim")).to_be_hidden()

    open_ticket(page, 2)
    by(page, "claim").click()
    expect(by(page, "ticket-status")).to_have_text("Claimed")
    expect(by(page, "reply-text")).to_be_focused()
    expect(by(page, "alert")).to_be_empty()  # a new action clears the last error
    by(page, "reply-text").fill("Hi, I'm Dana. Let me look at your refund.")
    by(page, "reply-send").click()
    timeline = by(page, "timeline")
    expect(timeline.locator('[data-kind="agent_reply"]')).to_contain_text("Let me look at your refund.")
    expect(by(page, "reply-text")).to_have_value("")

    by(page, "note-text").fill("Refund was issued on the 3rd.")
    by(page, "note-add").click()
    note = timeline.locator('[data-kind="note"]')
    expect(note).to_contain_text("Refund was issued on the 3rd.")
    expect(note).to_contain_text("Internal")
    expect(by(page, "note-text")).to_have_value("")
    assert posted(desk) == [
        ("3/claim", None),
        ("2/claim", None),
        ("2/reply", {"text": "Hi, I'm Dana. Let me look at your refund."}),
        ("2/notes", {"text": "Refund was issued on the 3rd."}),
    ]
    # The list follows: ticket 2 is no longer waiting.
    expect(by(page, "ticket-list").locator('[data-ticket-id="2"]')).to_have_count(0)


def test_console_browser_transfers_hands_back_and_closes(page: Page, desk: FakeDesk) -> None:
    log_in(page)
    by(page, "view-mine").click()
    open_ticket(page, 5)
    expect(by(page, "transfer-queue").locator("option")).to_have_text(["general", "billing"])
    by(page, "transfer-queue").select_option("billing")
    page.get_by_label("Note for the next agent (optional)").fill("Card payment question")
    by(page, "transfer-submit").click()
    expect(by(page, "ticket-queue")).to_have_text("billing")
    expect(by(page, "ticket-status")).to_have_text("Queued")
    expect(by(page, "timeline").locator('[data-kind="transferred"]')).to_contain_text(
        "You transferred the ticket from returns to billing"
    )

    by(page, "claim").click()
    by(page, "handback-end").click()
    expect(by(page, "ticket-status")).to_have_text("Handed back")
    expect(by(page, "ticket-detail")).to_contain_text("Handed back to the bot, the flow ended")
    expect(by(page, "handback-end")).to_be_hidden()

    by(page, "view-waiting").click()
    open_ticket(page, 1)
    by(page, "claim").click()
    expect(by(page, "close-resolution")).to_have_value("resolved")
    expect(by(page, "ticket-detail")).to_contain_text("The customer's problem was solved.")
    by(page, "close-resolution").select_option("duplicate")
    expect(by(page, "ticket-detail")).to_contain_text("Another ticket covers it.")
    by(page, "close-submit").click()
    expect(by(page, "ticket-status")).to_have_text("Closed")

    open_ticket(page, 3)
    by(page, "claim").click()
    page.get_by_label("Hand-back note (optional)").fill("Flow can go on")
    by(page, "handback-resume").click()
    expect(by(page, "ticket-status")).to_have_text("Handed back")
    assert posted(desk) == [
        ("5/transfer", {"queue": "billing", "note": "Card payment question"}),
        ("5/claim", None),
        ("5/handback", {"resume": False}),
        ("1/claim", None),
        ("1/close", {"resolution": "duplicate"}),
        ("3/claim", None),
        ("3/handback", {"resume": True, "note": "Flow can go on"}),
    ]


def test_console_browser_polls_without_losing_the_draft(page: Page, desk: FakeDesk) -> None:
    log_in(page)
    open_ticket(page, 2)
    by(page, "claim").click()
    box = by(page, "reply-text")
    box.fill("I'm checking your ord")
    expect(box).to_be_focused()
    # The list items are kept across polls, not rebuilt (no flicker).
    page.evaluate("window.kept = document.querySelector('[data-ticket-id=\"3\"]')")

    with desk.lock:
        desk.entry(2, "customer_message", "customer", "are you still there?")
    expect(by(page, "timeline").locator('[data-kind="customer_message"]').last).to_contain_text(
        "are you still there?"
    )
    expect(box).to_have_value("I'm checking your ord")
    expect(box).to_be_focused()
    assert page.evaluate("window.kept.isConnected")

    # The session runs out on the server: the next poll goes back to the login form.
    desk.token_valid = False
    expect(by(page, "login-error")).to_contain_text("Your session has ended")
    expect(by(page, "login-agent")).to_have_value("demo")
    assert page.evaluate("sessionStorage.getItem('parley-console')") is None
    # Logging in again brings the agent back to the ticket, draft included.
    by(page, "login-token").fill(TOKEN)
    by(page, "login-submit").click()
    expect(by(page, "ticket-detail").get_by_role("heading", name="Ticket #2")).to_be_visible()
    expect(by(page, "reply-text")).to_have_value("I'm checking your ord")
