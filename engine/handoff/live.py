"""Messages for customers who are connected right now: an agent's reply, the bot taking over
again, a notice from the desk. They are stored in the conversation first; this only tells the
open connections (the web chat's sockets) so they show them at once. A customer who is not
connected sees them when they come back (the web chat replays the conversation; the REST
channel answers them with the next message).

`LiveChannels` is in-process: publishing reaches the sockets of this server process. With
several worker processes `RedisLiveChannels` publishes through Redis, so the worker that holds a
customer's socket hears what an agent did on another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

from engine.stores.base import StoreError
from engine.stores.urls import mask_password

log = logging.getLogger(__name__)

#: Messages queued for one socket before the oldest are dropped (it also gets the history on
#: its next connection, so nothing is lost for good).
QUEUE_LIMIT = 100
REDIS_CHANNEL = "parley:live"


class Subscription:
    """One connection's queue of pushed messages; iterate it with `await subscription.get()`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue(QUEUE_LIMIT)

    def _put(self, messages: list[dict[str, Any]]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(messages)

    async def get(self) -> list[dict[str, Any]]:
        return await self.queue.get()


class LiveChannels:
    """Thread-safe: `publish` may be called from any thread (the desk runs in worker threads)."""

    def __init__(self) -> None:
        self._subscribers: dict[tuple[str, str], set[Subscription]] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def subscribe(self, pack: str, sender_id: str) -> Iterator[Subscription]:
        """Receive what is published for the conversation while the block runs (in an event loop)."""
        subscription = Subscription(asyncio.get_running_loop())
        key = (pack, sender_id)
        with self._lock:
            self._subscribers.setdefault(key, set()).add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                found = self._subscribers.get(key)
                if found is not None:
                    found.discard(subscription)
                    if not found:
                        del self._subscribers[key]

    def publish(self, pack: str, sender_id: str, messages: list[dict[str, Any]]) -> None:
        if messages:
            self.deliver(pack, sender_id, messages)

    def deliver(self, pack: str, sender_id: str, messages: list[dict[str, Any]]) -> int:
        """Hand `messages` to this process's subscribers; returns how many got them."""
        with self._lock:
            subscribers = list(self._subscribers.get((pack, sender_id), ()))
        for subscription in subscribers:
            with contextlib.suppress(RuntimeError):  # its loop has closed: the socket is gone
                subscription.loop.call_soon_threadsafe(subscription._put, messages)
        return len(subscribers)

    def close(self) -> None:
        return None


class RedisLiveChannels(LiveChannels):
    """Publishes through Redis pub/sub; a background thread delivers what any worker published
    to this process's subscribers. Redis pub/sub is fire-and-forget, which is what live pushes
    need: the messages themselves are in the tracker store."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, health_check_interval=30)
        self._stopped = threading.Event()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            self._pubsub.subscribe(REDIS_CHANNEL)
        except redis.RedisError as error:
            self._redis.close()
            raise StoreError(
                f"live pushes: cannot subscribe to Redis at {mask_password(url)}: {error} "
                "(is Redis up, and PARLEY_LOCK_STORE_URL right?)"
            ) from None
        self._thread = threading.Thread(target=self._listen, name="parley-live", daemon=True)
        self._thread.start()

    def publish(self, pack: str, sender_id: str, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        body = json.dumps({"pack": pack, "sender_id": sender_id, "messages": messages})
        try:
            self._redis.publish(REDIS_CHANNEL, body)
        except Exception as error:  # the messages are stored; connected customers see them on reload
            log.warning("live push through Redis failed; delivering in this process only: %s", error)
            self.deliver(pack, sender_id, messages)

    def _listen(self) -> None:
        while not self._stopped.is_set():
            try:
                message = self._pubsub.get_message(timeout=1.0)
            except Exception as error:
                if self._stopped.is_set():
                    return
                log.warning("live pushes from Redis interrupted (retrying in 1 s): %s", error)
                self._stopped.wait(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                data = json.loads(message["data"])
            except (ValueError, TypeError) as error:
                log.warning("ignored a malformed live push from Redis (not JSON): %s", error)
                continue
            pushed = _pushed(data)
            if pushed is None:
                log.warning("ignored a malformed live push from Redis (not pack, sender_id, messages)")
                continue
            self.deliver(*pushed)

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=3)
        with contextlib.suppress(Exception):
            self._pubsub.close()
        self._redis.close()


def _pushed(data: Any) -> tuple[str, str, list[dict[str, Any]]] | None:
    """(pack, sender_id, messages) of a push, or None when it is not shaped like one."""
    if not isinstance(data, dict):
        return None
    pack, sender_id, messages = data.get("pack"), data.get("sender_id"), data.get("messages")
    if not isinstance(pack, str) or not isinstance(sender_id, str) or not isinstance(messages, list):
        return None
    if not messages or not all(isinstance(m, dict) for m in messages):
        return None
    return pack, sender_id, messages
