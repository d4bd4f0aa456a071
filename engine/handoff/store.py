"""Where tickets are kept: the protocol the handoff desk needs, and the in-memory store (the fake
of tests and of a server without a database).

Every change of a ticket is a compare-and-set on what the caller read (`expected`): two agents
who click "claim" at once, in one process or on two machines, cannot both get the ticket; the
second gets `StaleTicket` and the desk tells them who has it. A change may carry a webhook
notification, written in the same transaction (the transactional outbox): a ticket never
changes without its notification being queued, and never the other way round.

`engine.handoff.sql.SqlTicketStore` keeps them in the tracker store's database.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from engine.handoff.tickets import (
    PRIORITY_RANK,
    Entry,
    NewTicket,
    Ticket,
    TicketStatus,
    UnknownTicket,
    covers,
)

#: Seconds a dispatcher holds the notifications it took (longer than a delivery's timeout).
DELIVERY_LEASE = 300.0


class StaleTicket(Exception):
    """The ticket changed since it was read (another agent or worker was first)."""


@dataclass(frozen=True)
class Notification:
    """A webhook notification to queue with a ticket change: the event name and its JSON body."""

    event: str
    ticket_id: int | None
    payload: str


#: A notification, or how to make it from the ticket as the change leaves it.
Notify = Notification | Callable[[Ticket], Notification] | None


def notification_for(notify: Notify, ticket: Ticket) -> Notification | None:
    if notify is None or isinstance(notify, Notification):
        return notify
    return notify(ticket)


@dataclass(frozen=True)
class Delivery:
    """A queued notification, as the dispatcher sees it."""

    id: int
    event: str
    ticket_id: int | None
    payload: str
    attempts: int
    created_at: float
    next_attempt_at: float
    state: str = "pending"
    last_error: str | None = None
    #: When it was delivered or given up.
    finished_at: float | None = None


@dataclass(frozen=True)
class TicketQuery:
    """Which tickets to list: most recently created first, or with `waiting_order` most urgent
    first, then oldest first."""

    statuses: tuple[TicketStatus, ...] = ()
    pack: str | None = None
    queue: str | None = None
    agent: str | None = None
    sender_id: str | None = None
    created_since: float | None = None
    created_until: float | None = None
    #: Only tickets (last) queued at or before this time.
    queued_before: float | None = None
    #: Only tickets these queue entries cover (an agent's queues: a queue, 'pack/queue' or '*').
    covered_by: tuple[str, ...] | None = None
    #: Most urgent then oldest first (the order agents work a queue in), instead of newest first.
    waiting_order: bool = False
    limit: int = 100
    offset: int = 0


class TicketStore(Protocol):
    def open(self, new: NewTicket, entries: Sequence[Entry], notify: Notify = None) -> Ticket:
        """Open a ticket with its first timeline entries. Opening the same request again (same
        pack, sender and handoff_seq) returns the ticket opened the first time, unchanged."""
        ...

    def get(self, ticket_id: int) -> Ticket:
        """Raises `UnknownTicket`."""
        ...

    def latest(self, pack: str, sender_id: str) -> Ticket | None:
        """The conversation's most recent ticket, open or not."""
        ...

    def find(self, query: TicketQuery) -> list[Ticket]: ...

    def change(
        self,
        expected: Ticket,
        changes: dict[str, Any],
        entry: Entry | None,
        notify: Notify = None,
    ) -> Ticket:
        """Set `changes` (column -> value) if the ticket still has `expected`'s status, agent and
        queue, and append `entry`; returns the changed ticket. Raises `StaleTicket` otherwise."""
        ...

    def add_entry(self, ticket_id: int, entry: Entry) -> Entry:
        """Append to the ticket's timeline (customer messages, notes); returns it with its id."""
        ...

    def entries(self, ticket_id: int) -> list[Entry]:
        """The ticket's timeline, oldest first."""
        ...

    def position(self, ticket: Ticket) -> int:
        """1 + the queued tickets of the same pack and queue that come before it."""
        ...

    def claim_seconds(self, pack: str, queue: str, *, limit: int = 20) -> list[float]:
        """Seconds the queue's latest claimed tickets waited in it (queued_at to the claim there)."""
        ...

    def counts(self) -> dict[tuple[str, str, str], int]:
        """(pack, queue, status) -> open tickets, for the console's queue list."""
        ...

    # -- the webhook outbox ------------------------------------------------------------------
    def due_deliveries(self, now: float, *, limit: int = 50, lease: float = DELIVERY_LEASE) -> list[Delivery]:
        """Pending notifications whose next attempt is due, oldest first, leased to the caller:
        their next attempt moves `lease` seconds on in the same transaction, so the dispatchers
        of other workers do not send them too (a dispatcher that dies mid-way leaves them to be
        sent again once the lease is over)."""
        ...

    def delivery_done(self, delivery_id: int, *, attempts: int, now: float) -> None: ...

    def delivery_retry(
        self, delivery_id: int, *, attempts: int, next_attempt_at: float, error: str
    ) -> None: ...

    def delivery_failed(self, delivery_id: int, *, attempts: int, now: float, error: str) -> None:
        """Give up: the notification is kept, with its last error, as failed."""
        ...

    def deliveries(self, *, limit: int = 100) -> list[Delivery]:
        """The latest notifications in any state, newest first (for operators and tests)."""
        ...

    def check(self) -> None: ...

    def close(self) -> None: ...


class InMemoryTicketStore:
    """Tickets in a dict: the fake of tests and the store of a server with a memory:// tracker
    store. Thread-safe; lost when the process ends."""

    def __init__(self) -> None:
        self._tickets: dict[int, Ticket] = {}
        self._entries: dict[int, list[Entry]] = {}
        self._deliveries: dict[int, Delivery] = {}
        self._ids = itertools.count(1)
        self._entry_ids = itertools.count(1)
        self._delivery_ids = itertools.count(1)
        self._lock = threading.Lock()

    def open(self, new: NewTicket, entries: Sequence[Entry], notify: Notify = None) -> Ticket:
        with self._lock:
            for ticket in self._tickets.values():
                if (ticket.pack, ticket.sender_id, ticket.handoff_seq) == (
                    new.pack,
                    new.sender_id,
                    new.handoff_seq,
                ):
                    return ticket
            ticket = Ticket(
                id=next(self._ids),
                status=TicketStatus.QUEUED,
                agent=None,
                queued_at=new.created_at,
                updated_at=new.created_at,
                **dataclasses.asdict(new),
            )
            made = notification_for(notify, ticket)  # before anything is stored: all or nothing
            self._tickets[ticket.id] = ticket
            self._entries[ticket.id] = []
            for entry in entries:
                self._append(ticket.id, entry)
            if made is not None:
                self._enqueue(dataclasses.replace(made, ticket_id=ticket.id), new.created_at)
            return ticket

    def get(self, ticket_id: int) -> Ticket:
        with self._lock:
            try:
                return self._tickets[ticket_id]
            except KeyError:
                raise UnknownTicket(ticket_id) from None

    def latest(self, pack: str, sender_id: str) -> Ticket | None:
        with self._lock:
            mine = [t for t in self._tickets.values() if (t.pack, t.sender_id) == (pack, sender_id)]
        return max(mine, key=lambda t: (t.created_at, t.id), default=None)

    def find(self, query: TicketQuery) -> list[Ticket]:
        with self._lock:
            found = [t for t in self._tickets.values() if _matches(t, query)]
        if query.waiting_order:
            found.sort(key=lambda t: (-PRIORITY_RANK.get(t.priority, 1), t.queued_at, t.id))
        else:
            found.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return found[query.offset : query.offset + query.limit]

    def change(
        self,
        expected: Ticket,
        changes: dict[str, Any],
        entry: Entry | None,
        notify: Notify = None,
    ) -> Ticket:
        with self._lock:
            current = self._tickets.get(expected.id)
            if current is None:
                raise UnknownTicket(expected.id)
            if (current.status, current.agent, current.queue) != (
                expected.status,
                expected.agent,
                expected.queue,
            ):
                raise StaleTicket(f"ticket {expected.id} changed since it was read")
            values: dict[str, Any] = dict(changes)
            if "status" in values:
                values["status"] = TicketStatus(values["status"])
            changed = dataclasses.replace(current, **values)
            made = notification_for(notify, changed)  # before anything is stored: all or nothing
            self._tickets[expected.id] = changed
            if entry is not None:
                self._append(expected.id, entry)
            if made is not None:
                self._enqueue(dataclasses.replace(made, ticket_id=changed.id), changed.updated_at)
            return changed

    def add_entry(self, ticket_id: int, entry: Entry) -> Entry:
        with self._lock:
            if ticket_id not in self._tickets:
                raise UnknownTicket(ticket_id)
            return self._append(ticket_id, entry)

    def entries(self, ticket_id: int) -> list[Entry]:
        with self._lock:
            if ticket_id not in self._tickets:
                raise UnknownTicket(ticket_id)
            return list(self._entries[ticket_id])

    def position(self, ticket: Ticket) -> int:
        rank = PRIORITY_RANK.get(ticket.priority, 1)
        with self._lock:
            ahead = [
                t
                for t in self._tickets.values()
                if t.status is TicketStatus.QUEUED
                and (t.pack, t.queue) == (ticket.pack, ticket.queue)
                and t.id != ticket.id
                and (-PRIORITY_RANK.get(t.priority, 1), t.queued_at, t.id)
                < (-rank, ticket.queued_at, ticket.id)
            ]
        return len(ahead) + 1

    def claim_seconds(self, pack: str, queue: str, *, limit: int = 20) -> list[float]:
        with self._lock:
            claimed = [
                t
                for t in self._tickets.values()
                if (t.pack, t.queue) == (pack, queue) and t.queue_claimed_at is not None
            ]
        claimed.sort(key=lambda t: t.queue_claimed_at or 0.0, reverse=True)
        return [(t.queue_claimed_at or 0.0) - t.queued_at for t in claimed[:limit]]

    def counts(self) -> dict[tuple[str, str, str], int]:
        found: dict[tuple[str, str, str], int] = {}
        with self._lock:
            for t in self._tickets.values():
                if t.open:
                    key = (t.pack, t.queue, t.status.value)
                    found[key] = found.get(key, 0) + 1
        return found

    # -- outbox --------------------------------------------------------------------------------
    def due_deliveries(self, now: float, *, limit: int = 50, lease: float = DELIVERY_LEASE) -> list[Delivery]:
        with self._lock:
            due = [d for d in self._deliveries.values() if d.state == "pending" and d.next_attempt_at <= now]
            taken = sorted(due, key=lambda d: (d.next_attempt_at, d.id))[:limit]
            for delivery in taken:
                self._deliveries[delivery.id] = dataclasses.replace(delivery, next_attempt_at=now + lease)
        return taken

    def delivery_done(self, delivery_id: int, *, attempts: int, now: float) -> None:
        self._update_delivery(
            delivery_id, state="delivered", attempts=attempts, last_error=None, finished_at=now
        )

    def delivery_retry(self, delivery_id: int, *, attempts: int, next_attempt_at: float, error: str) -> None:
        self._update_delivery(
            delivery_id, attempts=attempts, next_attempt_at=next_attempt_at, last_error=error
        )

    def delivery_failed(self, delivery_id: int, *, attempts: int, now: float, error: str) -> None:
        self._update_delivery(
            delivery_id, state="failed", attempts=attempts, last_error=error, finished_at=now
        )

    def deliveries(self, *, limit: int = 100) -> list[Delivery]:
        with self._lock:
            return sorted(self._deliveries.values(), key=lambda d: d.id, reverse=True)[:limit]

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None

    # -- helpers (called with the lock held) ----------------------------------------------------
    def _append(self, ticket_id: int, entry: Entry) -> Entry:
        stored = dataclasses.replace(entry, id=next(self._entry_ids))
        self._entries[ticket_id].append(stored)
        return stored

    def _enqueue(self, notify: Notification, now: float) -> None:
        delivery_id = next(self._delivery_ids)
        self._deliveries[delivery_id] = Delivery(
            id=delivery_id,
            event=notify.event,
            ticket_id=notify.ticket_id,
            payload=notify.payload,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )

    def _update_delivery(self, delivery_id: int, **changes: Any) -> None:
        with self._lock:
            self._deliveries[delivery_id] = dataclasses.replace(self._deliveries[delivery_id], **changes)


def _matches(ticket: Ticket, query: TicketQuery) -> bool:
    return (
        (not query.statuses or ticket.status in query.statuses)
        and (query.pack is None or ticket.pack == query.pack)
        and (query.queue is None or ticket.queue == query.queue)
        and (query.agent is None or ticket.agent == query.agent)
        and (query.sender_id is None or ticket.sender_id == query.sender_id)
        and (query.created_since is None or ticket.created_at >= query.created_since)
        and (query.created_until is None or ticket.created_at < query.created_until)
        and (query.queued_before is None or ticket.queued_at <= query.queued_before)
        and (query.covered_by is None or covers(query.covered_by, ticket.pack, ticket.queue))
    )
