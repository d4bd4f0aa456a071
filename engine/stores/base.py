"""What the server needs from its stores: where conversations are kept, and how one conversation's
messages are processed one at a time.

Conversations are keyed by pack and sender id (one server may serve several packs). The stores
are synchronous: the server runs each turn in a worker thread (the dialogue runtime and the
action client are blocking code), holding the conversation's lock for the whole turn.

Implementations: `memory.py` (in-process; the fakes of tests and the embedded default lock),
`sql.py` (SQLAlchemy: SQLite in WAL mode by default, PostgreSQL by URL) and `redis_lock.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from engine.dialogue.events import Event


class StoreError(Exception):
    """A store cannot be reached or used; the message names the store and what to check."""


class ConcurrentWrite(StoreError):
    """Events were appended to a conversation since it was loaded (a second writer without the
    conversation's lock). Nothing of the append was written."""


class LockTimeout(StoreError):
    """The conversation's lock was not free within the wait: the message was not processed and
    may be sent again."""


@dataclass(frozen=True)
class ConversationSummary:
    pack: str
    sender_id: str
    events: int
    #: Unix times of the first and the latest event.
    started: float
    updated: float


class TrackerStore(Protocol):
    def load(self, pack: str, sender_id: str) -> list[Event]:
        """Every event of the conversation, oldest first; [] for a new conversation."""
        ...

    def append(self, pack: str, sender_id: str, events: Sequence[Event], *, expected: int) -> None:
        """Append `events` after the first `expected` events, atomically (all or none). Raises
        `ConcurrentWrite` when the conversation no longer has exactly `expected` events."""
        ...

    def conversations(
        self, pack: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        """Conversations, most recently updated first."""
        ...

    def check(self) -> None:
        """Raise `StoreError` when the store cannot be used (for /ready)."""
        ...

    def close(self) -> None: ...


class LockStore(Protocol):
    def lock(self, key: str, *, wait: float) -> AbstractContextManager[None]:
        """Hold `key` while the block runs. Waiters get it in the order they asked (first come,
        first served); one that waits longer than `wait` seconds gets `LockTimeout`."""
        ...

    def check(self) -> None:
        """Raise `StoreError` when the store cannot be used (for /ready)."""
        ...

    def close(self) -> None: ...
