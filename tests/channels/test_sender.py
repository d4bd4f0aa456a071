"""The sender against the fake platform: retries on 429 (the wait the platform asks for), 5xx and
unreachable servers, never on a refusal; the calls of a reply stop at the first that fails."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
import requests

from engine.channels.base import Connector, OutboundCall, retry_after
from engine.channels.limits import LIMITS
from engine.channels.sender import Sender
from tests.channels.fake_platform import FakePlatform


class Plain(Connector):
    name = "plain"
    limits = LIMITS["telegram"]

    def render(self, messages: Sequence[Mapping[str, Any]], address: Mapping[str, Any]) -> list[OutboundCall]:
        raise NotImplementedError


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


def calls(platform: FakePlatform, count: int) -> list[OutboundCall]:
    return [
        OutboundCall(f"{platform.url}/send", json={"n": n}, headers={"Authorization": "Bearer t"})
        for n in range(count)
    ]


def test_every_call_is_sent_in_order_with_its_body_and_headers(
    platform: FakePlatform, session: requests.Session
) -> None:
    result = Sender(session).send(Plain(), calls(platform, 3))

    assert (result.ok, result.sent, result.calls, result.retries) == (True, 3, 3, 0)
    assert [c.json() for c in platform.calls] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert platform.calls[0].headers["authorization"] == "Bearer t"
    assert platform.calls[0].headers["content-type"] == "application/json"


def test_a_reply_is_not_waited_for_beyond_the_time_it_is_given(
    platform: FakePlatform, session: requests.Session
) -> None:
    """A lease of 40 s: the first 429's 30 s fit, the second's do not; nothing is sent after."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    platform.script(429, {"error": "slow down"}, {"Retry-After": "30"})
    platform.script(429, {"error": "slow down"}, {"Retry-After": "30"})
    sender = Sender(session, sleep=sleep, clock=lambda: now[0])

    result = sender.send(Plain(), calls(platform, 2), within=40.0)

    assert not result.ok and result.sent == 0
    assert result.error == (
        "plain: no time left to send within the message's lease (plain API rate limit (429))"
    )
    assert len(platform.calls) == 2 and now[0] == 30.0


def test_a_429_waits_for_retry_after_then_succeeds(platform: FakePlatform, session: requests.Session) -> None:
    slept: list[float] = []
    platform.script(429, {"error": "slow down"}, {"Retry-After": "3"})

    result = Sender(session, sleep=slept.append).send(Plain(), calls(platform, 1))

    assert result.ok and result.retries == 1
    assert slept == [3.0]


def test_a_429_without_retry_after_backs_off_exponentially_and_gives_up(
    platform: FakePlatform, session: requests.Session
) -> None:
    slept: list[float] = []
    for _ in range(3):
        platform.script(429, {"error": "slow down"})

    result = Sender(session, max_attempts=3, sleep=slept.append).send(Plain(), calls(platform, 2))

    assert slept == [1.0, 2.0]
    assert (result.ok, result.status, result.sent) == (False, 429, 0)
    assert result.error == "plain API rate limit (429), after 3 attempts"
    assert len(platform.calls) == 3  # the second message was never sent: order is kept


def test_a_refusal_is_not_retried_and_names_the_platforms_reason(
    platform: FakePlatform, session: requests.Session
) -> None:
    platform.script(400, {"description": "Bad Request: chat not found"})

    result = Sender(session, sleep=lambda _: None).send(Plain(), calls(platform, 2))

    assert (result.sent, result.calls, result.status) == (0, 0, 400)
    assert result.error is not None and "chat not found" in result.error
    assert len(platform.calls) == 1


def test_server_errors_are_retried(platform: FakePlatform, session: requests.Session) -> None:
    platform.script(503)

    result = Sender(session, sleep=lambda _: None).send(Plain(), calls(platform, 1))

    assert result.ok and result.retries == 1 and len(platform.calls) == 2


def test_an_unreachable_platform_is_retried_then_reported_without_the_url(session: requests.Session) -> None:
    slept: list[float] = []
    gone = [OutboundCall("http://127.0.0.1:9/bot123:SECRET/sendMessage", json={})]

    result = Sender(session, max_attempts=2, timeout=1, sleep=slept.append).send(Plain(), gone)

    assert slept == [1.0] and result.status is None
    assert result.error == "plain API unreachable: ConnectionError, after 2 attempts"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("", None), ("7", 7.0), (" 2.5 ", 2.5), ("-3", 0.0), ("soon", None)],
)
def test_retry_after_reads_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after(header) == seconds


def test_retry_after_reads_an_http_date() -> None:
    later = email.utils.formatdate(time.time() + 60, usegmt=True)

    wait = retry_after(later)

    assert wait is not None and 55 <= wait <= 61
