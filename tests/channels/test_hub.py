"""What every connector gets from the hub, shown on Telegram (the simplest platform) and SMS:
verification before anything else, retried deliveries processed once, the acknowledgement after
the message is recorded and before it is processed, messages a busy conversation or a dead worker
left behind processed later, rate limits honoured and failed deliveries recorded as events."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

import pytest

from engine.channels.base import WebhookRequest
from engine.channels.inbox import LEASE_SECONDS
from engine.dialogue.events import BotUttered, DeliveryFailed, UserUttered
from tests.channels import telegram_platform as telegram
from tests.channels.fake_platform import Delivery
from tests.channels.serving import BASE, Messengers, texts
from tests.dialogue.conftest import FakeClock

SENDER = "48213377"


def text(message_id: str, words: str = "what can you help me with?") -> Delivery:
    return telegram.customer_text(
        SENDER, words, message_id, now=time.time(), webhook_url=BASE + telegram.WEBHOOK, api_url=""
    )


def users(served: Messengers) -> list[UserUttered]:
    return [e for e in served.trackers.load("retail", SENDER) if isinstance(e, UserUttered)]


def failures(served: Messengers) -> list[DeliveryFailed]:
    return [e for e in served.trackers.load("retail", SENDER) if isinstance(e, DeliveryFailed)]


def test_a_retried_delivery_is_acknowledged_and_not_processed_twice(serve: Callable[..., Messengers]) -> None:
    served = serve(("telegram",))

    first = served.deliver("telegram", text("5001"))
    calls = len(served.platform.calls)
    again = served.deliver("telegram", text("5001"))

    assert (first.status_code, again.status_code) == (200, 200)
    assert len(users(served)) == 1
    assert len(served.platform.calls) == calls  # nothing sent twice either
    metrics = served.client.get("/metrics").text
    assert 'parley_channel_messages_total{channel="telegram",outcome="duplicate"} 1.0' in metrics


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "application/json"}, 401),
        ({"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "guessed"}, 403),
    ],
)
def test_a_request_failing_verification_is_refused_logged_without_content_and_never_processed(
    serve: Callable[..., Messengers],
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
    status: int,
) -> None:
    served = serve(("telegram",))
    forged = text("5002", "my card number is 4111 1111 1111 1111")

    with caplog.at_level(logging.INFO):
        response = served.deliver("telegram", Delivery(forged.body, headers))

    assert response.status_code == status
    assert response.json()["error"]["code"] == ("unauthorized" if status == 401 else "forbidden")
    assert users(served) == [] and served.platform.calls == []
    assert served.hub.inbox.state("telegram", "5002") is None
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "telegram webhook: rejected a request" in logged
    assert "4111" not in logged and "card" not in logged


def test_the_platform_is_answered_once_the_message_is_recorded_before_it_is_processed(
    serve: Callable[..., Messengers],
) -> None:
    served = serve(("telegram",))
    locks = served.hub.service.locks
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:  # another message of the conversation, taking its time
        with locks.lock(f"retail:{SENDER}", wait=5):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    started = time.perf_counter()
    response = served.client.post(
        telegram.WEBHOOK, content=text("5003").body, headers=dict(text("5003").headers)
    )
    answered_in = time.perf_counter() - started

    assert response.status_code == 200 and response.text == "ok"
    assert served.hub.inbox.state("telegram", "5003") == "pending"  # safe before the answer
    assert users(served) == []  # ... and not processed yet
    assert answered_in < 5  # not held by the busy conversation
    release.set()
    holder.join()
    served.settle()
    assert served.hub.inbox.state("telegram", "5003") == "done"
    assert [u.text for u in users(served)] == ["what can you help me with?"]


def test_a_message_whose_conversation_stays_busy_is_processed_later_in_order(
    serve: Callable[..., Messengers], clock: FakeClock
) -> None:
    served = serve(("telegram",), clock=clock, lock_wait=0.05)
    locks = served.hub.service.locks
    with locks.lock(f"retail:{SENDER}", wait=5):
        served.deliver("telegram", text("5004"))

    assert served.hub.inbox.state("telegram", "5004") == "pending"
    assert users(served) == []
    portal = served.client.portal
    assert portal is not None
    assert portal.call(served.hub.sweep) == 0  # it waits 2 s before the next try
    clock.advance(seconds=2)
    assert portal.call(served.hub.sweep) == 1
    served.settle()
    assert served.hub.inbox.state("telegram", "5004") == "done"
    assert [u.text for u in users(served)] == ["what can you help me with?"]
    assert 'outcome="retried"} 1.0' in served.client.get("/metrics").text


def test_a_message_a_dead_worker_held_is_taken_over_when_its_lease_ends(
    serve: Callable[..., Messengers], clock: FakeClock
) -> None:
    served = serve(("telegram",), clock=clock)
    request = WebhookRequest("POST", BASE + telegram.WEBHOOK, {}, {}, text("5005").body)
    [inbound] = served.hub.channels["telegram"].connector.parse(request)
    served.hub.inbox.record("telegram", "retail", [inbound], clock())  # recorded, then the worker died
    portal = served.client.portal
    assert portal is not None

    assert portal.call(served.hub.sweep) == 0
    clock.advance(seconds=LEASE_SECONDS)
    assert portal.call(served.hub.sweep) == 1
    served.settle()

    assert [u.text for u in users(served)] == ["what can you help me with?"]
    assert any("I can help you with your orders" in t for t in texts("telegram", served.platform.calls))


def test_a_message_still_being_processed_is_not_taken_again_when_its_lease_ends(
    serve: Callable[..., Messengers], clock: FakeClock
) -> None:
    served = serve(("telegram",), clock=clock)
    locks = served.hub.service.locks
    portal = served.client.portal
    assert portal is not None
    release = threading.Event()
    held = threading.Event()

    def hold() -> None:
        with locks.lock(f"retail:{SENDER}", wait=5):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    delivery = text("5012")
    served.client.post(telegram.WEBHOOK, content=delivery.body, headers=dict(delivery.headers))
    clock.advance(seconds=LEASE_SECONDS + 1)  # its lease ends while it waits for the conversation

    assert portal.call(served.hub.sweep) == 1  # due again, but this worker is on it: not twice
    release.set()
    holder.join()
    served.settle()
    assert len(users(served)) == 1
    assert len([c for c in served.platform.calls if c.path.endswith("/sendMessage")]) == 1


def test_a_429_is_waited_out_as_the_platform_asks_then_the_reply_goes(
    serve: Callable[..., Messengers],
) -> None:
    served = serve(("telegram",))
    served.platform.script(
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
        {"Retry-After": "7"},
        path="/sendMessage",
    )

    served.deliver("telegram", text("5006"))

    assert served.sleeps == [7.0]
    sent = [c for c in served.platform.calls if c.path.endswith("/sendMessage")]
    assert len(sent) == 2 and sent[0].body == sent[1].body  # the same message, sent again
    assert failures(served) == []
    metrics = served.client.get("/metrics").text
    assert 'parley_channel_sends_total{channel="telegram",outcome="retried"} 1.0' in metrics


def test_a_wait_longer_than_allowed_fails_the_delivery_and_records_it(
    serve: Callable[..., Messengers],
) -> None:
    served = serve(("telegram",))
    served.platform.script(429, {"ok": False, "parameters": {"retry_after": 3600}}, path="/sendMessage")

    served.deliver("telegram", text("5007"))

    assert served.sleeps == []
    [failed] = failures(served)
    assert (failed.channel, failed.status, failed.undelivered) == ("telegram", 429, 1)
    assert "asked to wait 3600 s" in failed.error
    assert served.hub.inbox.state("telegram", "5007") == "done"  # processed; its reply failed


def test_a_refused_message_is_not_retried_and_is_recorded_as_an_event(
    serve: Callable[..., Messengers],
) -> None:
    served = serve(("telegram",))
    served.platform.script(
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
        path="/sendMessage",
    )

    served.deliver("telegram", text("5008"))

    [failed] = failures(served)
    assert failed.status == 403 and "bot was blocked by the user" in failed.error
    assert len([c for c in served.platform.calls if c.path.endswith("/sendMessage")]) == 1
    # The bot's message is in the conversation all the same (an agent can see what was meant).
    assert any(isinstance(e, BotUttered) for e in served.trackers.load("retail", SENDER))


def test_a_platform_that_keeps_failing_is_tried_a_bounded_number_of_times(
    serve: Callable[..., Messengers],
) -> None:
    served = serve(("telegram",), max_attempts=3)
    for _ in range(3):
        served.platform.script(502, {"ok": False}, path="/sendMessage")

    served.deliver("telegram", text("5009"))

    assert served.sleeps == [1.0, 2.0]
    [failed] = failures(served)
    assert failed.status == 502 and "after 3 attempts" in failed.error


def test_unknown_connectors_get_404_naming_those_that_are_on(serve: Callable[..., Messengers]) -> None:
    served = serve(("telegram", "twilio"))

    response = served.client.post("/webhooks/viber/webhook", json={})

    assert response.status_code == 404
    assert response.json()["error"]["message"] == (
        "no connector 'viber' is on here (on: telegram, twilio); switch it on under channels: in config.yml"
    )
    assert served.client.get("/webhooks/telegram/webhook").status_code == 405


def test_a_verified_request_that_is_not_the_platforms_format_gets_400(
    serve: Callable[..., Messengers],
) -> None:
    served = serve(("telegram",))

    response = served.deliver("telegram", telegram.deliver({"update": "nope"}))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"


def test_forms_are_taken_on_connector_webhooks_only(serve: Callable[..., Messengers]) -> None:
    served = serve(("twilio",))

    rest = served.client.post(
        "/webhooks/rest/webhook",
        content=b"sender=a&message=hi",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    unsigned = served.client.post(
        "/webhooks/twilio/webhook",
        content=b"From=%2B447700900123&Body=hi",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert rest.status_code == 415
    assert unsigned.status_code == 401  # read as a form, then refused: no signature


def test_an_agents_reply_after_a_click_reaches_telegram_without_answering_the_click_again(
    serve: Callable[..., Messengers],
) -> None:
    served = serve(("telegram",))
    served.click("telegram", SENDER, "Talk to a person", "/human_handoff", "5010")
    assert served.platform.wait_for(1, path="/answerCallbackQuery")
    auth = {"Authorization": "Bearer alice-console-token"}
    [ticket] = served.client.get("/console/api/tickets", headers=auth).json()["tickets"]
    ticket_id = ticket["id"]
    served.client.post(f"/console/api/tickets/{ticket_id}/claim", headers=auth)
    served.settle()  # the customer is told an agent joined
    before = len(served.platform.calls)

    served.client.post(
        f"/console/api/tickets/{ticket_id}/reply", headers=auth, json={"text": "Hi, Alice here."}
    )
    served.settle()

    relayed = served.platform.calls[before:]
    assert [c.path.rsplit("/", 1)[1] for c in relayed] == ["sendMessage"]
    assert json.loads(relayed[0].body)["text"] == "Alice: Hi, Alice here."


def test_a_click_the_bot_does_not_answer_still_stops_the_buttons_spinner(
    serve: Callable[..., Messengers],
) -> None:
    """While an agent has the conversation the bot says nothing; Telegram still hears that the
    click was received (answerCallbackQuery), or the button spins until it times out."""
    served = serve(("telegram",))
    served.click("telegram", SENDER, "Talk to a person", "/human_handoff", "5010")
    assert served.platform.wait_for(1, path="/answerCallbackQuery")
    auth = {"Authorization": "Bearer alice-console-token"}
    [ticket] = served.client.get("/console/api/tickets", headers=auth).json()["tickets"]
    served.client.post(f"/console/api/tickets/{ticket['id']}/claim", headers=auth)
    served.settle()
    before = len(served.platform.calls)

    served.click("telegram", SENDER, "Where's my order?", "/order_status", "5011")
    served.settle()

    relayed = served.platform.calls[before:]
    assert [c.path.rsplit("/", 1)[1] for c in relayed] == ["answerCallbackQuery"]
