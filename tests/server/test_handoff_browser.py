"""Human handoff end to end, in two headless Chromium contexts on one real uvicorn server: a
customer in the web chat asks about a refund, fails the email check twice and is handed to the
general queue; an agent logs into the console, sees the context packet (order id, reason),
claims the ticket and replies; the customer sees the reply at once; the agent hands back and the
bot answers the customer again. The stores are the real SQL ones on a SQLite file; custom actions
are stubbed (the order is found, the refund is pending).

The ticket's measures are read from /api/tickets at the end and printed (run with `-s`).

Without /usr/bin/chromium the test skips, saying why; with PARLEY_REQUIRE_SERVICES=1 it fails.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from engine.config import AgentConfig
from engine.dialogue.actions import ActionStub, StubActionRunner
from engine.dialogue.runtime import Assistant
from engine.handoff.agents import AgentDirectory, token_hash
from engine.handoff.sql import SqlTicketStore
from engine.server import AssistantRegistry, ServerSettings, create_app
from engine.server.app import HandoffSetup
from engine.stores import InProcessLockStore
from engine.stores.sql import SqlTrackerStore
from tests.conftest import Trained
from tests.server.browser import UvicornThread

API_TOKEN = "e2e-api-token"
AGENT_ID, AGENT_TOKEN = "sam", "sam-console-token"


@pytest.fixture(scope="module")
def server(retail: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornThread]:
    # Responses in rotation: each response's first variation comes first, for exact texts.
    settings = retail.pack.settings
    responses = settings.responses.model_copy(update={"selection": "rotate"})
    pack = dataclasses.replace(retail.pack, settings=settings.model_copy(update={"responses": responses}))
    stubs = {
        "validate_order_id": ActionStub(),
        "action_verify_customer": ActionStub(slots={"customer_verified": True}),
        "action_lookup_refund": ActionStub(slots={"refund_state": "pending", "refund_amount": 42.5}),
    }
    assistant = Assistant(pack, retail.model, actions=StubActionRunner(stubs), seed=1)
    folder: Path = tmp_path_factory.mktemp("handoff-e2e")
    trackers = SqlTrackerStore(f"sqlite:///{folder / 'parley.sqlite'}")
    agents = AgentDirectory({AGENT_ID: AgentConfig(name="Sam", token_sha256=token_hash(AGENT_TOKEN))})
    app = create_app(
        AssistantRegistry.fixed([assistant]),
        trackers,
        InProcessLockStore(),
        ServerSettings(api_token=API_TOKEN, reload_interval=None),
        handoff=HandoffSetup(tickets=SqlTicketStore(trackers), agents=agents),
    )
    running = UvicornThread(app, lifespan="on")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def customer(chromium: Browser, server: UvicornThread) -> Iterator[Page]:
    context = chromium.new_context()
    context.set_default_timeout(8000)
    page = context.new_page()
    page.goto(server.url + "/")
    page.get_by_role("button", name="Open the chat").click()
    yield page
    context.close()


@pytest.fixture
def agent(chromium: Browser, server: UvicornThread) -> Iterator[Page]:
    context = chromium.new_context()
    context.set_default_timeout(8000)
    page = context.new_page()
    page.goto(server.url + "/console")
    yield page
    context.close()


def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Your message")
    box.fill(text)
    box.press("Enter")


def test_handoff_browser_refund_escalated_answered_by_an_agent_and_handed_back(
    customer: Page, agent: Page, server: UvicornThread
) -> None:
    bot = customer.locator(".pw-bot")

    # The customer: a refund, an order number, and an email address the bot cannot read, twice.
    send(customer, "I want to check on my refund")
    expect(bot.last).to_contain_text("order number")
    send(customer, "it's B20417")
    expect(bot.last).to_contain_text("email address")
    send(customer, "my email is jane at example")
    expect(bot.last).to_contain_text("complete email address")
    send(customer, "jane@example")
    expect(customer.get_by_text("I still can't read an email address")).to_be_visible()
    expect(customer.get_by_text("I'm passing you to a colleague who can help")).to_be_visible()
    bots_before = bot.count()

    # The agent logs in and finds the ticket waiting, with the packet.
    agent.get_by_test_id("login-agent").fill(AGENT_ID)
    agent.get_by_test_id("login-token").fill(AGENT_TOKEN)
    agent.get_by_test_id("login-submit").click()
    expect(agent.get_by_test_id("agent-name")).to_have_text("Sam")
    item = agent.get_by_test_id("ticket-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("verification failed")
    item.click()
    expect(agent.get_by_test_id("ticket-reason")).to_contain_text("verification")
    expect(agent.get_by_test_id("ticket-queue")).to_contain_text("general")
    expect(agent.get_by_test_id("context-summary")).to_contain_text("Reason: verification failed.")
    expect(agent.locator('[data-testid="context-slots"] [data-slot="order_id"]')).to_contain_text("B20417")
    expect(agent.get_by_test_id("context-transcript")).to_contain_text("I want to check on my refund")

    agent.get_by_test_id("claim").click()
    expect(agent.get_by_test_id("ticket-status")).to_have_text(re.compile("claimed", re.IGNORECASE))
    expect(customer.get_by_text("Sam from our team has joined the conversation.")).to_be_visible()

    agent.get_by_test_id("reply-text").fill("Hi, I'm Sam. I can see order B20417; let me check the refund.")
    agent.get_by_test_id("reply-send").click()
    reply = customer.locator(".pw-agent").last
    expect(reply).to_contain_text("let me check the refund")
    expect(reply.locator(".pw-author")).to_have_text("Sam")
    expect(agent.locator('[data-testid="timeline"] [data-kind="agent_reply"]')).to_have_count(1)

    # While the agent has the conversation, the bot stays silent; the agent sees the message.
    send(customer, "thanks, it was a return of some boots")
    expect(agent.locator('[data-testid="timeline"] [data-kind="customer_message"]')).to_contain_text(
        "return of some boots"
    )

    # The agent hands back: the bot resumes the refund where it stopped, at the email question.
    agent.get_by_test_id("handback-resume").click()
    expect(agent.get_by_test_id("ticket-status")).to_have_text(re.compile("handed back", re.IGNORECASE))
    expect(customer.get_by_text("You're back with the assistant.")).to_be_visible()
    expect(bot.last).to_contain_text("email address")
    send(customer, "it's jane@example.com")
    expect(bot.last).to_contain_text("your refund of £42.50 is being processed")
    assert bot.count() > bots_before

    # The ticket's measures, as the analytics see them.
    answer = requests.get(
        server.url + "/api/tickets", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    (measures,) = answer.json()["tickets"]
    assert (measures["queue"], measures["reason"], measures["outcome"], measures["handback"]) == (
        "general",
        "verification_failed",
        "handed_back",
        "resume",
    )
    assert 0 < measures["time_to_claim_s"] <= measures["time_to_first_reply_s"] <= measures["duration_s"]
    print("\nhandoff measures:", json.dumps(measures))
