"""Tickets in the tracker store's SQL database (SQLite or PostgreSQL), tables `tickets`,
`ticket_entries` and `webhook_deliveries` (see engine/stores/schema.py, migration 0002).

It shares the tracker store's engine and, on SQLite, its queue of writers, so a ticket change
and a customer's turn never fight over SQLite's one write lock. A change is one transaction:
`UPDATE tickets ... WHERE id = ? AND status = ? AND agent IS ? AND queue = ?` (the
compare-and-set two agents race on), the timeline entry, and the webhook notification.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from engine.handoff.store import (
    DELIVERY_LEASE,
    Delivery,
    Notification,
    Notify,
    StaleTicket,
    TicketQuery,
    notification_for,
)
from engine.handoff.tickets import (
    EVERY_QUEUE,
    PRIORITY_RANK,
    Entry,
    NewTicket,
    Ticket,
    TicketStatus,
    UnknownTicket,
)
from engine.stores.base import StoreError
from engine.stores.schema import ticket_entries, tickets, webhook_deliveries
from engine.stores.sql import SqlTrackerStore

T = tickets.c
E = ticket_entries.c
D = webhook_deliveries.c


class SqlTicketStore:
    """Raises `StoreError` (naming the database and what to check) when the database fails."""

    def __init__(self, database: SqlTrackerStore) -> None:
        self._db = database

    def open(self, new: NewTicket, entries: Sequence[Entry], notify: Notify = None) -> Ticket:
        values = {
            "pack": new.pack,
            "sender_id": new.sender_id,
            "channel": new.channel,
            "handoff_seq": new.handoff_seq,
            "queue": new.queue,
            "reason": new.reason,
            "priority": new.priority,
            "priority_rank": PRIORITY_RANK.get(new.priority, 1),
            "status": TicketStatus.QUEUED.value,
            "agent": None,
            "context": _dumps(new.context),
            "created_at": new.created_at,
            "queued_at": new.created_at,
            "updated_at": new.created_at,
            "timed_out": False,
        }
        try:
            with self._db.writing() as connection:
                existing = self._request(connection, new)
                if existing is not None:
                    return existing
                ticket_id = int(
                    connection.execute(insert(tickets).values(**values).returning(T.id)).scalar_one()
                )
                for entry in entries:
                    _insert_entry(connection, ticket_id, entry)
                ticket = _ticket(connection.execute(select(tickets).where(T.id == ticket_id)).one())
                made = notification_for(notify, ticket)
                if made is not None:
                    _enqueue(connection, made, ticket_id, new.created_at)
                return ticket
        except IntegrityError:
            # Another worker opened the same request first: that ticket is the one.
            with self._read("open a ticket") as connection:
                existing = self._request(connection, new)
            if existing is None:
                raise StoreError(
                    f"database {self._db.url}: ticket for {new.pack}/{new.sender_id} vanished"
                ) from None
            return existing
        except SQLAlchemyError as error:
            raise self._db.failure(f"cannot open a ticket for {new.pack}/{new.sender_id}", error) from None

    def get(self, ticket_id: int) -> Ticket:
        with self._read(f"read ticket {ticket_id}") as connection:
            row = connection.execute(select(tickets).where(T.id == ticket_id)).first()
        if row is None:
            raise UnknownTicket(ticket_id)
        return _ticket(row)

    def latest(self, pack: str, sender_id: str) -> Ticket | None:
        query = (
            select(tickets)
            .where(T.pack == pack, T.sender_id == sender_id)
            .order_by(T.created_at.desc(), T.id.desc())
            .limit(1)
        )
        with self._read(f"read the tickets of {pack}/{sender_id}") as connection:
            row = connection.execute(query).first()
        return None if row is None else _ticket(row)

    def find(self, query: TicketQuery) -> list[Ticket]:
        conditions: list[ColumnElement[bool]] = []
        if query.statuses:
            conditions.append(T.status.in_([s.value for s in query.statuses]))
        for column, value in (
            (T.pack, query.pack),
            (T.queue, query.queue),
            (T.agent, query.agent),
            (T.sender_id, query.sender_id),
        ):
            if value is not None:
                conditions.append(column == value)
        if query.created_since is not None:
            conditions.append(T.created_at >= query.created_since)
        if query.created_until is not None:
            conditions.append(T.created_at < query.created_until)
        if query.queued_before is not None:
            conditions.append(T.queued_at <= query.queued_before)
        if query.covered_by is not None and EVERY_QUEUE not in query.covered_by:
            conditions.append(or_(false(), *(_queue_is(entry) for entry in query.covered_by)))
        order = (
            (T.priority_rank.desc(), T.queued_at, T.id)
            if query.waiting_order
            else (T.created_at.desc(), T.id.desc())
        )
        statement = (
            select(tickets).where(*conditions).order_by(*order).limit(query.limit).offset(query.offset)
        )
        with self._read("list tickets") as connection:
            return [_ticket(row) for row in connection.execute(statement)]

    def change(
        self,
        expected: Ticket,
        changes: dict[str, Any],
        entry: Entry | None,
        notify: Notify = None,
    ) -> Ticket:
        values = dict(changes)
        if "status" in values:
            values["status"] = TicketStatus(values["status"]).value
        if "priority" in values:
            values["priority_rank"] = PRIORITY_RANK.get(str(values["priority"]), 1)
        if "context" in values:
            values["context"] = _dumps(values["context"])
        agent = T.agent.is_(None) if expected.agent is None else T.agent == expected.agent
        try:
            with self._db.writing() as connection:
                changed = connection.execute(
                    update(tickets)
                    .where(
                        T.id == expected.id,
                        T.status == expected.status.value,
                        agent,
                        T.queue == expected.queue,
                    )
                    .values(**values)
                )
                if changed.rowcount != 1:
                    exists = connection.execute(select(T.id).where(T.id == expected.id)).first()
                    if exists is None:
                        raise UnknownTicket(expected.id)
                    raise StaleTicket(f"ticket {expected.id} changed since it was read")
                if entry is not None:
                    _insert_entry(connection, expected.id, entry)
                ticket = _ticket(connection.execute(select(tickets).where(T.id == expected.id)).one())
                made = notification_for(notify, ticket)
                if made is not None:
                    _enqueue(connection, made, expected.id, ticket.updated_at)
                return ticket
        except SQLAlchemyError as error:
            raise self._db.failure(f"cannot change ticket {expected.id}", error) from None

    def add_entry(self, ticket_id: int, entry: Entry) -> Entry:
        try:
            with self._db.writing() as connection:
                if connection.execute(select(T.id).where(T.id == ticket_id)).first() is None:
                    raise UnknownTicket(ticket_id)
                entry_id = _insert_entry(connection, ticket_id, entry)
        except SQLAlchemyError as error:
            raise self._db.failure(f"cannot add to ticket {ticket_id}", error) from None
        return Entry(entry.kind, entry.actor, entry.at, entry.text, entry.data, id=entry_id)

    def entries(self, ticket_id: int) -> list[Entry]:
        with self._read(f"read ticket {ticket_id}") as connection:
            if connection.execute(select(T.id).where(T.id == ticket_id)).first() is None:
                raise UnknownTicket(ticket_id)
            rows = connection.execute(
                select(ticket_entries).where(E.ticket_id == ticket_id).order_by(E.id)
            ).all()
        return [_entry(row) for row in rows]

    def position(self, ticket: Ticket) -> int:
        rank = PRIORITY_RANK.get(ticket.priority, 1)
        ahead = (
            select(func.count())
            .select_from(tickets)
            .where(
                T.status == TicketStatus.QUEUED.value,
                T.pack == ticket.pack,
                T.queue == ticket.queue,
                T.id != ticket.id,
                or_(
                    T.priority_rank > rank,
                    and_(T.priority_rank == rank, T.queued_at < ticket.queued_at),
                    and_(T.priority_rank == rank, T.queued_at == ticket.queued_at, T.id < ticket.id),
                ),
            )
        )
        with self._read("count the queue") as connection:
            return int(connection.execute(ahead).scalar_one()) + 1

    def claim_seconds(self, pack: str, queue: str, *, limit: int = 20) -> list[float]:
        query = (
            select(T.queue_claimed_at - T.queued_at)
            .where(T.pack == pack, T.queue == queue, T.queue_claimed_at.is_not(None))
            .order_by(T.queue_claimed_at.desc())
            .limit(limit)
        )
        with self._read("read the queue's waits") as connection:
            return [float(value) for value in connection.execute(query).scalars()]

    def counts(self) -> dict[tuple[str, str, str], int]:
        query = (
            select(T.pack, T.queue, T.status, func.count())
            .where(T.status.in_([TicketStatus.QUEUED.value, TicketStatus.CLAIMED.value]))
            .group_by(T.pack, T.queue, T.status)
        )
        with self._read("count tickets") as connection:
            return {(row[0], row[1], row[2]): int(row[3]) for row in connection.execute(query)}

    # -- the webhook outbox ----------------------------------------------------------------------
    def due_deliveries(self, now: float, *, limit: int = 50, lease: float = DELIVERY_LEASE) -> list[Delivery]:
        rows = self._db.take_due(
            webhook_deliveries, now, limit=limit, lease=lease, action="cannot take due webhook notifications"
        )
        return [_delivery(row) for row in rows]

    def delivery_done(self, delivery_id: int, *, attempts: int, now: float) -> None:
        self._delivery(delivery_id, state="delivered", attempts=attempts, finished_at=now, last_error=None)

    def delivery_retry(self, delivery_id: int, *, attempts: int, next_attempt_at: float, error: str) -> None:
        self._delivery(delivery_id, attempts=attempts, next_attempt_at=next_attempt_at, last_error=error)

    def delivery_failed(self, delivery_id: int, *, attempts: int, now: float, error: str) -> None:
        self._delivery(delivery_id, state="failed", attempts=attempts, finished_at=now, last_error=error)

    def deliveries(self, *, limit: int = 100) -> list[Delivery]:
        query = select(webhook_deliveries).order_by(D.id.desc()).limit(limit)
        with self._read("read the webhook outbox") as connection:
            return [_delivery(row) for row in connection.execute(query)]

    def check(self) -> None:
        self._db.check()

    def close(self) -> None:
        """The tracker store owns the database: it closes it."""

    # -- helpers -------------------------------------------------------------------------------
    def _read(self, action: str) -> _Reading:
        return _Reading(self._db, action)

    def _request(self, connection: Connection, new: NewTicket) -> Ticket | None:
        row = connection.execute(
            select(tickets).where(
                T.pack == new.pack, T.sender_id == new.sender_id, T.handoff_seq == new.handoff_seq
            )
        ).first()
        return None if row is None else _ticket(row)

    def _delivery(self, delivery_id: int, **values: Any) -> None:
        action = f"cannot record webhook delivery {delivery_id}"
        self._db.update_row(webhook_deliveries, delivery_id, action=action, **values)


class _Reading:
    """A read connection whose SQLAlchemy errors become StoreErrors saying what was being done."""

    def __init__(self, database: SqlTrackerStore, action: str) -> None:
        self._db = database
        self._action = action
        self._connection: Connection | None = None

    def __enter__(self) -> Connection:
        try:
            self._connection = self._db.reading().__enter__()
        except SQLAlchemyError as error:
            raise self._db.failure(f"cannot {self._action}", error) from None
        return self._connection

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        assert self._connection is not None
        self._connection.close()
        if isinstance(error, SQLAlchemyError):
            raise self._db.failure(f"cannot {self._action}", error) from None


def _insert_entry(connection: Connection, ticket_id: int, entry: Entry) -> int:
    return int(
        connection.execute(
            insert(ticket_entries)
            .values(
                ticket_id=ticket_id,
                kind=entry.kind,
                actor=entry.actor,
                data=_dumps({"text": entry.text, "data": entry.data}),
                at=entry.at,
            )
            .returning(E.id)
        ).scalar_one()
    )


def _enqueue(connection: Connection, notify: Notification, ticket_id: int, now: float) -> None:
    connection.execute(
        insert(webhook_deliveries).values(
            event=notify.event,
            ticket_id=ticket_id,
            payload=notify.payload,
            state="pending",
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _ticket(row: Row[Any]) -> Ticket:
    context = json.loads(row.context)
    return Ticket(
        id=int(row.id),
        pack=row.pack,
        sender_id=row.sender_id,
        channel=row.channel,
        handoff_seq=int(row.handoff_seq),
        queue=row.queue,
        reason=row.reason,
        priority=row.priority,
        status=TicketStatus(row.status),
        agent=row.agent,
        context=context,
        created_at=float(row.created_at),
        queued_at=float(row.queued_at),
        updated_at=float(row.updated_at),
        claimed_at=row.claimed_at,
        queue_claimed_at=row.queue_claimed_at,
        first_reply_at=row.first_reply_at,
        ended_at=row.ended_at,
        timed_out=bool(row.timed_out),
        resolution=row.resolution,
        handback=row.handback,
    )


def _entry(row: Row[Any]) -> Entry:
    stored = json.loads(row.data)
    return Entry(row.kind, row.actor, row.at, stored.get("text"), stored.get("data") or {}, id=int(row.id))


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=int(row.id),
        event=row.event,
        ticket_id=None if row.ticket_id is None else int(row.ticket_id),
        payload=row.payload,
        attempts=int(row.attempts),
        created_at=float(row.created_at),
        next_attempt_at=float(row.next_attempt_at),
        state=row.state,
        last_error=row.last_error,
        finished_at=row.finished_at,
    )


def _queue_is(entry: str) -> ColumnElement[bool]:
    """An agent's queue entry as a condition, as `covers` reads it: the queue's name in any pack,
    or 'pack/queue'."""
    pack, slash, queue = entry.partition("/")
    return or_(T.queue == entry, and_(T.pack == pack, T.queue == queue)) if slash else T.queue == entry
