"""The inbox: every customer message a connector received, recorded before the platform is
answered, so an acknowledged message is never lost and a retried delivery is never processed
twice.

`record` inserts a platform's messages and returns those not seen before (unique by channel and
the platform's message id), already leased to the caller, who processes them. A message whose
worker died, or whose conversation was busy, is due again when its lease or wait ends and is
taken by `due` (any worker). Finished rows are kept `RETENTION_SECONDS` (platforms retry for
hours at most) and then pruned.

`InMemoryInbox` goes with the memory:// tracker store; `SqlInbox` keeps the table
`channel_inbox` in the tracker store's database (SQLite or PostgreSQL).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import Row, delete, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from engine.channels.base import Inbound
from engine.stores.schema import channel_inbox
from engine.stores.sql import SqlTrackerStore

#: Seconds a worker holds a message it is processing before another may take it over (a turn,
#: its custom actions and the replies with their rate-limit waits fit well within it).
LEASE_SECONDS = 300.0
#: Finished messages are kept a week, to recognise late retries.
RETENTION_SECONDS = 7 * 24 * 3600.0
#: Platform message ids longer than this are stored as their SHA-256.
MAX_MESSAGE_ID = 200

C = channel_inbox.c


@dataclass(frozen=True)
class InboxItem:
    id: int
    channel: str
    pack: str
    inbound: Inbound
    attempts: int
    received_at: float
    #: When another worker may take it over: its replies must be sent by then.
    leased_until: float


class Inbox(Protocol):
    def record(
        self,
        channel: str,
        pack: str,
        messages: Sequence[Inbound],
        now: float,
        *,
        lease: float = LEASE_SECONDS,
    ) -> list[InboxItem]:
        """Store the messages not recorded before; returns them, leased to the caller until
        `now + lease`. Raises `StoreError`."""
        ...

    def due(self, now: float, *, limit: int = 50, lease: float = LEASE_SECONDS) -> list[InboxItem]:
        """Pending messages whose lease or wait is over, oldest first, leased to the caller."""
        ...

    def done(self, item_id: int, now: float) -> None: ...

    def retry(self, item_id: int, *, attempts: int, at: float, error: str) -> None:
        """Leave the message pending, to be taken again from `at`."""
        ...

    def renew(self, item_id: int, until: float) -> None:
        """Hold the message being processed until `until` (its replies are about to be sent)."""
        ...

    def failed(self, item_id: int, *, attempts: int, now: float, error: str) -> None: ...

    def state(self, channel: str, message_id: str) -> str | None:
        """pending, done or failed; None when never recorded."""
        ...

    def prune(self, before: float) -> int:
        """Delete finished messages received before `before`; returns how many."""
        ...

    def close(self) -> None: ...


def stored_id(message_id: str) -> str:
    if len(message_id) <= MAX_MESSAGE_ID:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode("utf-8")).hexdigest()


def _data(message: Inbound) -> str:
    return json.dumps(
        {
            "text": message.text,
            "address": dict(message.address),
            "metadata": dict(message.metadata),
            "message_id": message.message_id,
        },
        ensure_ascii=False,
    )


def _inbound(sender_id: str, data: str) -> Inbound:
    parsed: dict[str, Any] = json.loads(data)
    return Inbound(
        parsed["message_id"], sender_id, parsed["text"], parsed.get("address", {}), parsed.get("metadata", {})
    )


@dataclass
class _Row:
    item: InboxItem
    state: str = "pending"
    next_attempt_at: float = 0.0
    finished_at: float | None = None
    error: str | None = None


class InMemoryInbox:
    """Thread-safe; lost on restart (as the memory:// tracker store it goes with)."""

    def __init__(self) -> None:
        self._rows: dict[int, _Row] = {}
        self._keys: dict[tuple[str, str], int] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def record(
        self,
        channel: str,
        pack: str,
        messages: Sequence[Inbound],
        now: float,
        *,
        lease: float = LEASE_SECONDS,
    ) -> list[InboxItem]:
        new: list[InboxItem] = []
        with self._lock:
            for message in messages:
                key = (channel, stored_id(message.message_id))
                if key in self._keys:
                    continue
                item = InboxItem(next(self._ids), channel, pack, message, 0, now, now + lease)
                self._rows[item.id] = _Row(item, next_attempt_at=now + lease)
                self._keys[key] = item.id
                new.append(item)
        return new

    def due(self, now: float, *, limit: int = 50, lease: float = LEASE_SECONDS) -> list[InboxItem]:
        with self._lock:
            rows = sorted(
                (r for r in self._rows.values() if r.state == "pending" and r.next_attempt_at <= now),
                key=lambda r: (r.next_attempt_at, r.item.id),
            )[:limit]
            for row in rows:
                row.next_attempt_at = now + lease
            return [replace(row.item, leased_until=now + lease) for row in rows]

    def done(self, item_id: int, now: float) -> None:
        with self._lock:
            row = self._rows[item_id]
            row.state, row.finished_at, row.error = "done", now, None

    def retry(self, item_id: int, *, attempts: int, at: float, error: str) -> None:
        with self._lock:
            row = self._rows[item_id]
            row.item = replace(row.item, attempts=attempts)
            row.next_attempt_at, row.error = at, error

    def renew(self, item_id: int, until: float) -> None:
        with self._lock:
            self._rows[item_id].next_attempt_at = until

    def failed(self, item_id: int, *, attempts: int, now: float, error: str) -> None:
        with self._lock:
            row = self._rows[item_id]
            row.item = replace(row.item, attempts=attempts)
            row.state, row.finished_at, row.error = "failed", now, error

    def state(self, channel: str, message_id: str) -> str | None:
        with self._lock:
            found = self._keys.get((channel, stored_id(message_id)))
            return None if found is None else self._rows[found].state

    def prune(self, before: float) -> int:
        with self._lock:
            old = [i for i, r in self._rows.items() if r.state != "pending" and r.item.received_at < before]
            for item_id in old:
                row = self._rows.pop(item_id)
                del self._keys[(row.item.channel, stored_id(row.item.inbound.message_id))]
            return len(old)

    def close(self) -> None:
        return None


class SqlInbox:
    """Shares the tracker store's engine (and on SQLite its queue of writers). Raises
    `StoreError` naming the database when it fails."""

    def __init__(self, database: SqlTrackerStore) -> None:
        self._db = database

    def record(
        self,
        channel: str,
        pack: str,
        messages: Sequence[Inbound],
        now: float,
        *,
        lease: float = LEASE_SECONDS,
    ) -> list[InboxItem]:
        new: list[InboxItem] = []
        try:
            with self._db.writing() as connection:
                for message in messages:
                    values = {
                        "channel": channel,
                        "message_id": stored_id(message.message_id),
                        "pack": pack,
                        "sender_id": message.sender_id,
                        "data": _data(message),
                        "state": "pending",
                        "attempts": 0,
                        "received_at": now,
                        "next_attempt_at": now + lease,
                    }
                    # A savepoint per message: a duplicate (a retried delivery, or another worker
                    # that got it first) leaves the others of the request to be recorded.
                    try:
                        with connection.begin_nested():
                            item_id = connection.execute(
                                insert(channel_inbox).values(**values).returning(C.id)
                            ).scalar_one()
                    except IntegrityError:
                        continue
                    new.append(InboxItem(int(item_id), channel, pack, message, 0, now, now + lease))
        except SQLAlchemyError as error:
            raise self._db.failure("cannot record the messages a connector received", error) from None
        return new

    def due(self, now: float, *, limit: int = 50, lease: float = LEASE_SECONDS) -> list[InboxItem]:
        action = "cannot take the connectors' due messages"
        return [
            _item(row, leased_until=now + lease)
            for row in self._db.take_due(channel_inbox, now, limit=limit, lease=lease, action=action)
        ]

    def done(self, item_id: int, now: float) -> None:
        self._set(item_id, state="done", finished_at=now, last_error=None)

    def retry(self, item_id: int, *, attempts: int, at: float, error: str) -> None:
        self._set(item_id, attempts=attempts, next_attempt_at=at, last_error=error[:2000])

    def renew(self, item_id: int, until: float) -> None:
        self._set(item_id, next_attempt_at=until)

    def failed(self, item_id: int, *, attempts: int, now: float, error: str) -> None:
        self._set(item_id, state="failed", attempts=attempts, finished_at=now, last_error=error[:2000])

    def state(self, channel: str, message_id: str) -> str | None:
        query = select(C.state).where(C.channel == channel, C.message_id == stored_id(message_id))
        try:
            with self._db.reading() as connection:
                found = connection.execute(query).scalar_one_or_none()
        except SQLAlchemyError as error:
            raise self._db.failure("cannot read the connectors' inbox", error) from None
        return None if found is None else str(found)

    def prune(self, before: float) -> int:
        statement = delete(channel_inbox).where(C.state != "pending", C.received_at < before)
        try:
            with self._db.writing() as connection:
                return int(connection.execute(statement).rowcount or 0)
        except SQLAlchemyError as error:
            raise self._db.failure("cannot prune the connectors' inbox", error) from None

    def close(self) -> None:
        """The tracker store owns the database: it closes it."""

    def _set(self, item_id: int, **values: Any) -> None:
        self._db.update_row(channel_inbox, item_id, action="cannot update the connectors' inbox", **values)


def _item(row: Row[Any], *, leased_until: float) -> InboxItem:
    return InboxItem(
        int(row.id),
        row.channel,
        row.pack,
        _inbound(row.sender_id, row.data),
        int(row.attempts),
        row.received_at,
        leased_until,
    )
