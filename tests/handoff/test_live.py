"""Live pushes to connected customers (engine/handoff/live.py): in one process, and through the
real Redis server between two instances, as two worker processes would have them (skipped, or
failed with PARLEY_REQUIRE_SERVICES=1, when Redis is down: tests/stores/conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import redis

from engine.handoff.live import QUEUE_LIMIT, REDIS_CHANNEL, LiveChannels, RedisLiveChannels, Subscription
from engine.stores.base import StoreError
from tests.stores.conftest import redis_server  # noqa: F401 (fixture)

HELLO = {"recipient_id": "jo", "text": "Hi, Alice here.", "agent": "Alice"}


def in_thread(action: Callable[[], object]) -> None:
    """Run `action` in another thread (as the desk's worker threads publish) and wait for it."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and errors == []


async def next_push(subscription: Subscription, seconds: float = 5.0) -> list[dict[str, Any]]:
    return await asyncio.wait_for(subscription.get(), seconds)


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


# -- in one process --------------------------------------------------------------------------------
def test_live_delivers_to_the_conversations_subscribers_only() -> None:
    live = LiveChannels()

    async def test() -> None:
        with (
            live.subscribe("shop", "jo") as jo,
            live.subscribe("shop", "jo") as jo_again,
            live.subscribe("shop", "sam") as sam,
            live.subscribe("bank", "jo") as other_pack,
        ):
            in_thread(lambda: live.publish("shop", "jo", [HELLO]))
            assert await next_push(jo) == [HELLO]
            assert await next_push(jo_again) == [HELLO]
            # Pushes are queued in order: had the others got HELLO, it would come before these.
            marker = [{"recipient_id": "x", "text": "marker"}]

            def to_the_others() -> None:
                live.publish("shop", "sam", marker)
                live.publish("bank", "jo", marker)

            in_thread(to_the_others)
            assert await next_push(sam) == marker
            assert await next_push(other_pack) == marker

    run(test)


def test_live_counts_subscribers_and_forgets_them_when_they_leave() -> None:
    live = LiveChannels()

    async def test() -> None:
        with live.subscribe("shop", "jo"):
            with live.subscribe("shop", "jo"):
                assert live.deliver("shop", "jo", [HELLO]) == 2
            assert live.deliver("shop", "jo", [HELLO]) == 1
        assert live.deliver("shop", "jo", [HELLO]) == 0

    run(test)


def test_live_publishes_nothing_for_no_messages() -> None:
    live = LiveChannels()

    async def test() -> None:
        with live.subscribe("shop", "jo") as jo:
            in_thread(lambda: live.publish("shop", "jo", []))
            in_thread(lambda: live.publish("shop", "jo", [HELLO]))
            assert await next_push(jo) == [HELLO]

    run(test)


def test_live_slow_subscriber_keeps_the_latest_pushes() -> None:
    live = LiveChannels()

    async def test() -> None:
        with live.subscribe("shop", "jo") as jo:

            def flood() -> None:
                for n in range(QUEUE_LIMIT + 5):
                    live.publish("shop", "jo", [{"n": n}])

            in_thread(flood)
            await asyncio.sleep(0)  # let the queued puts run
            while jo.queue.qsize() < QUEUE_LIMIT:
                await asyncio.sleep(0.01)
            got = [(await next_push(jo))[0]["n"] for _ in range(QUEUE_LIMIT)]
            assert got == list(range(5, QUEUE_LIMIT + 5))

    run(test)


def test_live_subscriber_whose_loop_closed_does_not_break_publishing() -> None:
    live = LiveChannels()
    left_open = contextlib.ExitStack()

    async def subscribe() -> None:
        left_open.enter_context(live.subscribe("shop", "jo"))

    asyncio.run(subscribe())  # its event loop is closed now; the subscription is still listed
    try:
        assert live.deliver("shop", "jo", [HELLO]) == 1
    finally:
        left_open.close()


# -- through Redis ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def workers(redis_server: str) -> Iterator[tuple[RedisLiveChannels, RedisLiveChannels]]:  # noqa: F811
    """Two instances on the same Redis: two workers (shared by the module's tests, which each
    talk about conversations of their own)."""
    first = RedisLiveChannels(redis_server)
    second = RedisLiveChannels(redis_server)
    yield first, second
    # Each takes up to a second to stop (its listener waits for Redis in 1 s steps): in parallel.
    closing = [threading.Thread(target=instance.close) for instance in (first, second)]
    for thread in closing:
        thread.start()
    for thread in closing:
        thread.join(10)


async def heard(publisher: LiveChannels, subscription: Subscription, pack: str, sender: str) -> None:
    """Publish probes until `subscription` hears one: its worker's Redis subscription is live."""
    for _ in range(50):
        publisher.publish(pack, sender, [{"probe": True}])
        with contextlib.suppress(TimeoutError):
            assert await next_push(subscription, 0.1) == [{"probe": True}]
            break
    else:
        pytest.fail("the other worker never heard a push through Redis")
    while not subscription.queue.empty():  # late probes
        subscription.queue.get_nowait()


def test_live_redis_push_from_one_worker_reaches_the_subscriber_of_another(
    workers: tuple[RedisLiveChannels, RedisLiveChannels],
) -> None:
    agent_side, customer_side = workers
    sender = f"jo-{uuid.uuid4().hex[:8]}"

    async def test() -> None:
        with (
            customer_side.subscribe("shop", sender) as customer,
            customer_side.subscribe("shop", f"{sender}-other") as other,
        ):
            await heard(agent_side, customer, "shop", sender)
            in_thread(lambda: agent_side.publish("shop", sender, [HELLO]))
            assert await next_push(customer) == [HELLO]
            marker = [{"text": "marker"}]
            in_thread(lambda: agent_side.publish("shop", f"{sender}-other", marker))
            assert await next_push(other) == marker

    run(test)


MALFORMED = [
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"\xff\xfe", id="not-utf8"),
    pytest.param(b"[1, 2]", id="not-an-object"),
    pytest.param(b"null", id="null"),
    pytest.param(b'{"pack": "shop"}', id="missing-keys"),
    pytest.param(b'{"pack": "shop", "sender_id": "SENDER", "messages": 5}', id="messages-a-number"),
    pytest.param(
        b'{"pack": "shop", "sender_id": "SENDER", "messages": "hi"}',
        id="messages-a-string",
    ),
    pytest.param(
        b'{"pack": "shop", "sender_id": "SENDER", "messages": [1, "x"]}',
        id="messages-not-objects",
    ),
]


@pytest.mark.parametrize("body", MALFORMED)
def test_live_redis_ignores_a_malformed_push(
    workers: tuple[RedisLiveChannels, RedisLiveChannels],
    redis_server: str,  # noqa: F811
    body: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    agent_side, customer_side = workers
    sender = f"jo-{uuid.uuid4().hex[:8]}"
    raw = redis.Redis.from_url(redis_server)

    async def test() -> None:
        with customer_side.subscribe("shop", sender) as customer:
            await heard(agent_side, customer, "shop", sender)
            with caplog.at_level(logging.WARNING, logger="engine.handoff.live"):
                raw.publish(REDIS_CHANNEL, body.replace(b"SENDER", sender.encode()))
                in_thread(lambda: agent_side.publish("shop", sender, [HELLO]))
                # The listener survived it, and the customer got nothing from it.
                assert await next_push(customer) == [HELLO]
            assert any("malformed live push" in r.getMessage() for r in caplog.records)

    try:
        run(test)
    finally:
        raw.close()


def test_live_redis_publish_that_fails_delivers_in_this_process(
    workers: tuple[RedisLiveChannels, RedisLiveChannels], monkeypatch: pytest.MonkeyPatch
) -> None:
    agent_side, _ = workers

    def down(channel: str, body: str) -> int:
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(agent_side._redis, "publish", down)

    async def test() -> None:
        with agent_side.subscribe("shop", "jo") as local:
            in_thread(lambda: agent_side.publish("shop", "jo", [HELLO]))
            assert await next_push(local) == [HELLO]

    run(test)


def test_live_redis_body_names_the_conversation(
    workers: tuple[RedisLiveChannels, RedisLiveChannels],
    redis_server: str,  # noqa: F811
) -> None:
    """The wire format other workers (and older ones during a rolling restart) read."""
    agent_side, _ = workers
    raw = redis.Redis.from_url(redis_server)
    listener = raw.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    try:
        listener.subscribe(REDIS_CHANNEL)
        sender = f"jo-{uuid.uuid4().hex[:8]}"
        for _ in range(50):
            agent_side.publish("shop", sender, [HELLO])
            message = listener.get_message(timeout=0.2)
            while message is not None and sender.encode() not in message["data"]:
                message = listener.get_message(timeout=0.2)  # others' pushes
            if message is not None:
                break
        else:
            pytest.fail("the push never reached Redis")
        assert json.loads(message["data"]) == {"pack": "shop", "sender_id": sender, "messages": [HELLO]}
    finally:
        listener.close()
        raw.close()


def test_live_redis_that_cannot_be_reached_is_a_store_error_naming_it() -> None:
    with pytest.raises(
        StoreError, match=r"cannot subscribe to Redis at redis://127\.0\.0\.1:1/0: .*is Redis up"
    ):
        RedisLiveChannels("redis://127.0.0.1:1/0")
