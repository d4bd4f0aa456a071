"""One retail conversation per connector, through the fake platform: the customer asks for help
and gets the options as the platform shows them, clicks "Where's my order?" (on SMS: answers 1),
gives the order number and is told where the order is; then asks for a person, and an agent's
reply from the console reaches them on the same platform. The replies are checked as the platform
received them (texts, buttons, credentials)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.dialogue.events import UserUttered
from tests.channels.serving import NAMES, Messengers, buttons, console_headers, texts

SENDERS = {
    "telegram": "48213377",
    "slack": "U04CUSTOMER",
    "facebook": "6543210987654321",
    "whatsapp": "447700900123",
    "botframework": "29:1customer-aad-id",
    "twilio": "+447700900123",
}
#: What the platform's API must be given to accept a reply (credentials from the environment).
CREDENTIALS = {
    "telegram": lambda call: "/bot123456789:" in call.path,
    "slack": lambda call: call.headers.get("authorization", "").startswith("Bearer xoxb-"),
    "facebook": lambda call: call.headers.get("authorization", "").startswith("Bearer "),
    "whatsapp": lambda call: call.headers.get("authorization", "").startswith("Bearer "),
    "botframework": lambda call: call.headers.get("authorization", "").startswith("Bearer "),
    "twilio": lambda call: call.headers.get("authorization", "").startswith("Basic "),
}


@pytest.mark.parametrize("name", NAMES)
def test_a_retail_conversation_through_each_messenger(name: str, serve: Callable[..., Messengers]) -> None:
    served = serve((name,))
    sender = SENDERS[name]

    calls = served.say(name, sender, "what can you help me with?", "1001")
    shown = buttons(name, calls)
    assert "Where's my order?" in [title for title, _ in shown], texts(name, calls)
    assert any("I can help you with your orders" in text for text in texts(name, calls))
    replies = [call for call in calls if texts(name, [call])]
    assert replies and all(CREDENTIALS[name](call) for call in replies)

    payload = dict(shown)["Where's my order?"]
    calls = served.click(name, sender, "Where's my order?", payload, "1002")
    assert any("order number" in text for text in texts(name, calls)), texts(name, calls)

    calls = served.say(name, sender, "it's B20417", "1003")
    assert any("B20417 is on its way with DPD" in text for text in texts(name, calls)), texts(name, calls)

    # The conversation is the platform's: its events carry the channel and the reply address.
    events = served.trackers.load("retail", sender)
    users = [e for e in events if isinstance(e, UserUttered)]
    assert [e.input_channel for e in users] == [name] * 3
    ids = [e.message_id or "" for e in users]
    assert len(set(ids)) == 3 and all(i.startswith(f"{name}:") for i in ids), ids
    assert all(e.metadata.get("address") for e in users)
    assert users[1].intent == "order_status"  # the click (or the digit) was the button's payload

    # A person takes over: their reply reaches the customer on the same platform.
    served.say(name, sender, "I want to talk to a human", "1004")
    client = served.client
    [ticket] = client.get("/console/api/tickets", headers=console_headers()).json()["tickets"]
    assert (
        client.post(f"/console/api/tickets/{ticket['id']}/claim", headers=console_headers()).status_code
        == 200
    )
    served.settle()  # the customer is told an agent joined
    before = len(served.platform.calls)
    answer = client.post(
        f"/console/api/tickets/{ticket['id']}/reply",
        headers=console_headers(),
        json={"text": "Hello, Alice here. Let me check that parcel for you."},
    )
    assert answer.status_code == 200, answer.text
    served.settle()
    relayed = texts(name, served.platform.calls[before:])
    assert any("Alice" in text and "Let me check that parcel for you." in text for text in relayed), relayed
