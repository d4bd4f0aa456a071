"""The web chat in a real browser: headless Chromium (Debian's, /usr/bin/chromium; Playwright
downloads nothing) drives the widget on the page at `/` of a real uvicorn server, over the
trained retail pack with stubbed actions: a conversation with a button click, a reload that
shows the whole conversation again, and a server restart the widget reconnects through. What
the retail pack does not say (quick replies, images, errors) is checked against a scripted
stand-in for the server's WebSocket.

Without /usr/bin/chromium the tests skip, saying why; with PARLEY_REQUIRE_SERVICES=1 they fail
instead. `make browsers` installs it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from engine.dialogue.actions import ActionResult, ActionStub, StubActionRunner
from engine.dialogue.runtime import Assistant
from engine.dialogue.tracker import Tracker
from engine.server.metrics import Metrics
from engine.server.service import ConversationService
from engine.server.turns import TurnRunner
from engine.server.webchat import router
from engine.stores import InMemoryTrackerStore, InProcessLockStore
from tests.conftest import Trained
from tests.server.browser import UvicornThread

#: Long enough for the typing indicator to be seen, short enough to keep the test quick.
LOOKUP_SECONDS = 0.4


class SlowLookups(StubActionRunner):
    """Stubbed actions; looking an order up takes a moment, as a real backend does."""

    def run(self, action: str, tracker: Tracker) -> ActionResult:
        if action == "action_lookup_order":
            time.sleep(LOOKUP_SECONDS)
        return super().run(action, tracker)


@pytest.fixture(scope="module")
def server(retail: Trained) -> Iterator[UvicornThread]:
    # Responses in rotation: the first help variation (the one with buttons) comes first.
    settings = retail.pack.settings
    responses = settings.responses.model_copy(update={"selection": "rotate"})
    pack = dataclasses.replace(retail.pack, settings=settings.model_copy(update={"responses": responses}))
    stubs = {
        "validate_order_id": ActionStub(),
        "action_lookup_order": ActionStub(
            slots={"order_state": "dispatched", "carrier": "DPD", "delivery_eta": "2024-06-14"}
        ),
    }
    assistant = Assistant(pack, retail.model, actions=SlowLookups(stubs), seed=1)
    service = ConversationService(
        lambda name: assistant, [pack.name], InMemoryTrackerStore(), InProcessLockStore()
    )
    app = FastAPI()
    app.include_router(router)
    app.state.conversations = service
    app.state.turns = TurnRunner(service, Metrics())  # as the server's app runs turns
    running = UvicornThread(app)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def page(chromium: Browser, server: UvicornThread) -> Iterator[Page]:
    """A fresh browser profile (its own localStorage: a new customer) on the demo page; every
    request it makes must go to the server (the widget loads nothing from elsewhere)."""
    context = chromium.new_context()
    context.set_default_timeout(5000)
    page = context.new_page()
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server.url) else elsewhere.append(r.url))
    page.goto(server.url + "/")
    yield page
    context.close()
    assert elsewhere == [], f"the page loaded from elsewhere: {elsewhere}"


def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Your message")
    box.fill(text)
    box.press("Enter")


def test_webchat_browser_retail_conversation_survives_a_reload(page: Page) -> None:
    expect(page.get_by_role("heading", name="Retail assistant", level=1)).to_be_visible()
    page.get_by_role("button", name="Open the chat").click()
    expect(page.get_by_role("dialog", name="Retail assistant")).to_be_visible()
    expect(page.get_by_role("textbox", name="Your message")).to_be_focused()
    bot = page.locator(".pw-bot")
    user = page.locator(".pw-user")

    send(page, "what can you help me with?")
    expect(bot.last).to_contain_text("I can help you with your orders")
    page.get_by_role("button", name="Where's my order?").click()
    expect(user.last).to_have_text("Where's my order?")
    expect(bot.last).to_contain_text("What's your order number?")

    send(page, "it's B20417")
    expect(page.get_by_role("status", name="The assistant is typing")).to_be_visible()
    expect(bot.last).to_contain_text("Good news: order B20417 is on its way with DPD")
    expect(page.get_by_role("status", name="The assistant is typing")).to_be_hidden()
    conversation = page.locator(".pw-msg .pw-text").all_inner_texts()
    assert len(conversation) == 6, conversation

    page.reload()
    # The panel stays open across the reload, and the server replays the conversation.
    expect(page.get_by_role("dialog", name="Retail assistant")).to_be_visible()
    expect(page.locator(".pw-msg .pw-text")).to_have_text(conversation)
    expect(page.get_by_role("button", name="Where's my order?")).to_be_visible()

    send(page, "thanks")
    expect(bot.last).to_have_text("You're welcome! Is there anything else I can help with?")
    expect(user).to_have_text(["what can you help me with?", "Where's my order?", "it's B20417", "thanks"])

    page.keyboard.press("Escape")  # closes the panel; the focus goes back to the launcher
    expect(page.get_by_role("dialog", name="Retail assistant")).to_be_hidden()
    expect(page.get_by_role("button", name="Open the chat")).to_be_focused()


def test_webchat_browser_reconnects_and_sends_what_was_typed_meanwhile(
    page: Page, server: UvicornThread
) -> None:
    page.get_by_role("button", name="Open the chat").click()
    send(page, "hello")
    expect(page.locator(".pw-bot")).to_have_count(1)
    status = page.locator(".pw-status")

    server.stop()
    try:
        expect(status).to_have_text("Reconnecting…")
        send(page, "what can you help me with?")
        expect(page.locator(".pw-user.pw-pending")).to_have_text("what can you help me with?")
    finally:
        server.start()

    expect(page.locator(".pw-bot").last).to_contain_text("I can help you with your orders")
    expect(page.locator(".pw-user.pw-pending")).to_have_count(0)
    expect(status).to_be_hidden()
    expect(page.locator(".pw-user")).to_have_text(["hello", "what can you help me with?"])


class ScriptedSocket:
    """Stands in for /webchat/ws: answers each frame as `answer(frame)` says; keeps the frames."""

    def __init__(self, answers: dict[str, list[dict[str, object]]]) -> None:
        self.answers = answers
        self.frames: list[dict[str, object]] = []

    def __call__(self, route: WebSocketRoute) -> None:
        history = {"type": "history", "pack": "shop", "title": "Shop", "sender": "s1", "messages": []}
        route.send(json.dumps(history))
        route.on_message(lambda message: self.answer(route, json.loads(message)))

    def answer(self, route: WebSocketRoute, frame: dict[str, object]) -> None:
        self.frames.append(frame)
        key = str(frame.get("text") or frame.get("title"))
        route.send(json.dumps({**self.answers[key].pop(0), "reply_to": frame["id"]}))


def test_webchat_browser_widget_shows_quick_replies_images_and_errors(
    page: Page, server: UvicornThread
) -> None:
    said = {"type": "bot", "messages": [{"recipient_id": "s1", "text": "Noted."}]}
    choose = {
        "recipient_id": "s1",
        "text": "Shall I go ahead?",
        "image": server.url + "/picture.png",
        "quick_replies": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
    }
    busy = {"type": "error", "code": "conversation_busy", "message": "busy", "retryable": True}
    too_long = {"type": "error", "code": "text_too_long", "message": "too long", "retryable": False}
    scripted = ScriptedSocket(
        {
            "go": [{"type": "bot", "messages": [choose]}],
            "Yes": [said],
            "again": [busy, said],
            "bad": [too_long],
        }
    )
    page.route_web_socket("**/webchat/ws?*", scripted)
    page.get_by_role("button", name="Open the chat").click()
    expect(page.get_by_role("dialog", name="Shop")).to_be_visible()

    send(page, "go")
    expect(page.locator(".pw-bot img")).to_have_attribute("src", server.url + "/picture.png")
    quick = page.get_by_role("group", name="Quick replies")
    expect(quick.get_by_role("button")).to_have_text(["Yes", "No"])
    quick.get_by_role("button", name="Yes").click()
    expect(page.locator(".pw-user").last).to_have_text("Yes")
    expect(quick).to_have_count(0)  # used: gone
    expect(page.locator(".pw-bot").last).to_have_text("Noted.")
    assert {k: scripted.frames[-1][k] for k in ("type", "title", "payload")} == {
        "type": "button",
        "title": "Yes",
        "payload": "/affirm",
    }

    send(page, "again")  # busy at first: sent again by itself, with the same id
    expect(page.locator(".pw-bot")).to_have_count(3)
    again = [f for f in scripted.frames if f.get("text") == "again"]
    assert len(again) == 2 and again[0]["id"] == again[1]["id"]

    send(page, "bad")  # refused for good: shown as not sent, with a way to send it again
    failed = page.locator(".pw-user.pw-failed")
    expect(failed).to_contain_text("Not sent: the message is too long.")
    expect(failed.get_by_role("button", name="Send again")).to_be_visible()
