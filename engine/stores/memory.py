"""In-process stores: the embedded default lock store, and the tracker store of tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from engine.dialogue.events import Event
from engine.stores.base import ConcurrentWrite, ConversationSummary, LockTimeout


class InMemoryTrackerStore:
    """Conversations in a dict: lost when the process ends. For tests and experiments."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], list[Event]] = {}
        self._lock = threading.Lock()

    def load(self, pack: str, sender_id: str) -> list[Event]:
        with self._lock:
            return list(self._events.get((pack, sender_id), ()))

    def append(self, pack: str, sender_id: str, events: Sequence[Event], *, expected: int) -> None:
        with self._lock:
            stored = self._events.setdefault((pack, sender_id), [])
            if len(stored) != expected:
                raise ConcurrentWrite(
                    f"conversation {pack}/{sender_id} has {len(stored)} events, not {expected}: "
                    "another writer appended without its lock"
                )
            stored.extend(events)

    def conversations(
        self, pack: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        with self._lock:
            found = [
                ConversationSummary(p, s, len(ev), ev[0].timestamp, ev[-1].timestamp)
                for (p, s), ev in self._events.items()
                if ev and (pack is None or p == pack)
            ]
        found.sort(key=lambda c: c.updated, reverse=True)
        return found[offset : offset + limit]

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None


class InProcessLockStore:
    """Per-key locks for one process, first come first served (a ticket per waiter). It cannot
    coordinate several worker processes: use the Redis lock store for that."""

    def __init__(self) -> None:
        self._guard = threading.Condition()
        #: key -> [next ticket to hand out, ticket now served]
        self._queues: dict[str, list[int]] = {}
        #: key -> tickets whose waiters gave up: skipped when their turn comes.
        self._skipped: dict[str, set[int]] = {}

    @contextmanager
    def lock(self, key: str, *, wait: float) -> Iterator[None]:
        deadline = time.monotonic() + wait
        with self._guard:
            queue = self._queues.setdefault(key, [0, 0])
            ticket = queue[0]
            queue[0] += 1
            while queue[1] != ticket:
                left = deadline - time.monotonic()
                timed_out = left <= 0 or not self._guard.wait(left)
                if timed_out and queue[1] != ticket:
                    self._abandon(key, queue, ticket)
                    raise LockTimeout(f"conversation {key} is busy: its lock was not free within {wait:g} s")
        try:
            yield
        finally:
            with self._guard:
                self._advance(key, queue)

    def _abandon(self, key: str, queue: list[int], ticket: int) -> None:
        """A waiter gave up: its ticket is skipped when its turn comes."""
        self._skipped.setdefault(key, set()).add(ticket)

    def _advance(self, key: str, queue: list[int]) -> None:
        queue[1] += 1
        skipped = self._skipped.get(key, set())
        while queue[1] in skipped:
            skipped.discard(queue[1])
            queue[1] += 1
        if queue[1] == queue[0]:  # nobody waits: forget the key
            self._queues.pop(key, None)
            self._skipped.pop(key, None)
        self._guard.notify_all()

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None
