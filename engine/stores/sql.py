"""The SQL tracker store: conversations in SQLite (the default, `sqlite:///data/parley.sqlite`) or
PostgreSQL (`postgresql+psycopg://user@host:port/database`, the password in the environment).

Events are appended, never updated or deleted. An append is one transaction: it reads the
conversation's event count, refuses with `ConcurrentWrite` when it is not `expected`, inserts the
events at positions expected, expected+1, ... and updates the count with a compare-and-set
(`WHERE event_count = expected`). The primary key (conversation, seq) is the last line of
defence: two writers that both got past the count cannot both insert position `expected`.
On SQLite the transaction begins with BEGIN IMMEDIATE (writers queue for the write lock up to the
busy timeout); on PostgreSQL (READ COMMITTED) the compare-and-set waits for the other writer's
row lock, then finds the count changed.

Durability. The store commits before `append` returns, and the server sends a reply only after
`append` returns, so every event a customer has seen the effect of is committed.
- PostgreSQL: a commit returns once the WAL record is flushed to disk (synchronous_commit=on,
  the server's default).
- SQLite runs in WAL mode with synchronous=NORMAL. A commit writes the transaction's pages to
  the -wal file with write(2) and does not fsync it (checkpoints do fsync). Once write(2) has
  returned the data is in the operating system's page cache, which does not belong to the
  process: killing the process, even with SIGKILL, between or in the middle of transactions
  loses nothing committed, and the next connection recovers from the -wal file (a half-written
  transaction has no commit frame and is ignored). What NORMAL gives up is the last commits on an
  operating-system crash or power cut; the database stays consistent even then. SQLite's
  documentation: "transactions are durable across application crashes regardless of the
  synchronous setting or journal mode"; "a transaction committed in WAL mode with
  synchronous=NORMAL might roll back following a power loss or system crash". A deployment that
  must survive power cuts on one machine wants PostgreSQL (or synchronous=FULL: one fsync per turn).

The schema is created and migrated at start (`engine.stores.migrate`, Alembic). Loading a
conversation is one query that walks the primary key (conversation, seq) in order; decoding the
JSON into events is most of its time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from engine.dialogue.events import Event, event_from_json
from engine.stores.base import ConcurrentWrite, ConversationSummary, StoreError
from engine.stores.database import IMMEDIATE, connect, describe, reason
from engine.stores.schema import conversations, events

log = logging.getLogger(__name__)


class WalCheckpointer:
    """Copies SQLite's write-ahead log into the database file every `interval` seconds, in a
    background thread, so that no customer's commit has to (automatic checkpoints are off, see
    `engine.stores.database`). PASSIVE checkpoints never wait for readers or writers; a failed
    one is logged and tried again at the next interval."""

    def __init__(self, engine: Engine, *, interval: float = 1.0) -> None:
        self._engine = engine
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parley-wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                with self._engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except SQLAlchemyError as error:
                log.warning(
                    "tracker store: WAL checkpoint failed (tried again in %g s): %s", self._interval, error
                )

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)


class SqlTrackerStore:
    """Conversations in an SQL database through SQLAlchemy. The schema is migrated to the latest
    revision when the store is created (`migrate=False` leaves it to `python -m
    engine.stores.migrate`). Raises `StoreError` when the database cannot be reached or migrated,
    or the URL is not SQLite or PostgreSQL."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self._engine = connect(url)
        self.url = describe(self._engine)
        self.dialect: str = self._engine.dialect.name
        self._writer = self._engine.execution_options(**{IMMEDIATE: True})
        sqlite = self._engine.dialect.name == "sqlite"
        self._checkpointer = WalCheckpointer(self._engine) if sqlite else None
        # SQLite has one writer at a time, and a writer that finds the file locked sleeps in steps
        # of up to 100 ms before it looks again. Threads of this process queue here instead and
        # are woken as soon as the writer before them is done; other processes still meet the
        # busy timeout. PostgreSQL writers run side by side.
        self._one_writer: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if sqlite else contextlib.nullcontext()
        )
        if migrate:
            from engine.stores.migrate import upgrade  # Alembic: only imported to migrate

            try:
                upgrade(self._engine)
            except StoreError:
                self.close()
                raise

    # -- the database, for other tables of the same database (the handoff desk's tickets) ----
    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction, queued behind this process's other writers (see __init__)."""
        with self._one_writer, self._writer.begin() as connection:
            yield connection

    def reading(self) -> contextlib.AbstractContextManager[Connection]:
        return self._engine.connect()

    def take_due(self, table: Table, now: float, *, limit: int, lease: float, action: str) -> list[Row[Any]]:
        """The rows of an outbox-like `table` (columns id, state, next_attempt_at) that are
        pending and due at `now`, oldest first, leased to the caller until `now + lease`: other
        workers skip them meanwhile (PostgreSQL: SKIP LOCKED; SQLite has one writer at a time).
        Raises `StoreError` saying `action` failed."""
        columns = table.c
        query = (
            select(table)
            .where(columns.state == "pending", columns.next_attempt_at <= now)
            .order_by(columns.next_attempt_at, columns.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        try:
            with self.writing() as connection:
                rows = list(connection.execute(query))
                if rows:
                    connection.execute(
                        update(table)
                        .where(columns.id.in_([row.id for row in rows]))
                        .values(next_attempt_at=now + lease)
                    )
        except SQLAlchemyError as error:
            raise self.failure(action, error) from None
        return rows

    def update_row(self, table: Table, row_id: int, *, action: str, **values: Any) -> None:
        """Set `values` on the row `row_id` of `table` (an outbox's outcome: done, retry, failed);
        raises `StoreError` saying `action` failed."""
        try:
            with self.writing() as connection:
                connection.execute(update(table).where(table.c.id == row_id).values(**values))
        except SQLAlchemyError as error:
            raise self.failure(action, error) from None

    def failure(self, action: str, error: SQLAlchemyError) -> StoreError:
        """A StoreError naming this database, what failed and what to check."""
        return StoreError(f"database {self.url}: {action}: {reason(self._engine, error)}")

    def load(self, pack: str, sender_id: str) -> list[Event]:
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(
                    select(events.c.seq, events.c.data)
                    .select_from(events.join(conversations))
                    .where(conversations.c.pack == pack, conversations.c.sender_id == sender_id)
                    .order_by(events.c.seq)
                ).all()
        except SQLAlchemyError as error:
            raise self._failure(f"cannot load conversation {pack}/{sender_id}", error) from None
        loaded: list[Event] = []
        for seq, data in rows:
            try:
                loaded.append(event_from_json(json.loads(data)))
            except ValueError as error:  # JSONDecodeError and EventError are ValueErrors
                raise StoreError(
                    f"tracker store {self.url}: event {seq} of conversation {pack}/{sender_id} cannot "
                    f"be read: {error}"
                ) from None
        return loaded

    def append(self, pack: str, sender_id: str, events_: Sequence[Event], *, expected: int) -> None:
        if expected < 0:
            raise ValueError(f"expected must be >= 0, not {expected}")
        rows = [_row(event) for event in events_]  # before the transaction: bad JSON writes nothing
        c = conversations.c
        try:
            with self.writing() as connection:
                found = connection.execute(
                    select(c.id, c.event_count).where(c.pack == pack, c.sender_id == sender_id)
                ).first()
                stored = 0 if found is None else int(found.event_count)
                if stored != expected:
                    raise self._concurrent(pack, sender_id, stored, expected)
                if not rows:
                    return
                count = expected + len(rows)
                if found is None:
                    conversation_id = connection.execute(
                        insert(conversations)
                        .values(
                            pack=pack,
                            sender_id=sender_id,
                            started=rows[0]["timestamp"],
                            updated=rows[-1]["timestamp"],
                            event_count=count,
                        )
                        .returning(conversations.c.id)
                    ).scalar_one()
                else:
                    conversation_id = found.id
                    changed = connection.execute(
                        update(conversations)
                        .where(c.id == conversation_id, c.event_count == expected)
                        .values(event_count=count, updated=rows[-1]["timestamp"])
                    )
                    if changed.rowcount != 1:
                        raise self._concurrent(pack, sender_id, None, expected)
                connection.execute(
                    insert(events),
                    [
                        {"conversation_id": conversation_id, "seq": expected + offset, **row}
                        for offset, row in enumerate(rows)
                    ],
                )
        except IntegrityError as error:
            if _is_unique_violation(error):
                raise self._concurrent(pack, sender_id, None, expected) from None
            raise self._failure(f"cannot append to conversation {pack}/{sender_id}", error) from None
        except SQLAlchemyError as error:
            raise self._failure(f"cannot append to conversation {pack}/{sender_id}", error) from None

    def conversations(
        self, pack: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must be >= 0, not {limit} and {offset}")
        c = conversations.c
        query = select(c.pack, c.sender_id, c.event_count, c.started, c.updated)
        if pack is not None:
            query = query.where(c.pack == pack)
        query = query.order_by(c.updated.desc(), c.id.desc()).limit(limit).offset(offset)
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(query).all()
        except SQLAlchemyError as error:
            raise self._failure("cannot list conversations", error) from None
        return [
            ConversationSummary(row.pack, row.sender_id, int(row.event_count), row.started, row.updated)
            for row in rows
        ]

    def check(self) -> None:
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as error:
            raise self._failure("cannot be reached (is the database up and the URL right?)", error) from None

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._engine.dispose()

    def _concurrent(self, pack: str, sender_id: str, stored: int | None, expected: int) -> ConcurrentWrite:
        now = "more" if stored is None else str(stored)
        return ConcurrentWrite(
            f"conversation {pack}/{sender_id} has {now} events, not {expected}: another writer "
            "appended without its lock; nothing was written"
        )

    def _failure(self, action: str, error: SQLAlchemyError) -> StoreError:
        return StoreError(f"tracker store {self.url}: {action}: {reason(self._engine, error)}")


def _row(event: Event) -> dict[str, Any]:
    try:
        data = json.dumps(event.to_json(), separators=(",", ":"), default=_plain)
    except (TypeError, ValueError) as error:
        raise StoreError(f"event {event.KIND!r} cannot be stored: {error}") from None
    return {"kind": event.KIND, "timestamp": float(event.timestamp), "data": data}


def _plain(value: object) -> object:
    """JSON for the mappings events hold that are not dicts (e.g. a MappingProxyType)."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"a value of type {type(value).__name__} is not JSON: {value!r}"[:200])


def _is_unique_violation(error: IntegrityError) -> bool:
    original = error.orig
    if getattr(original, "sqlstate", None) == "23505":  # PostgreSQL's unique_violation
        return True
    return "UNIQUE constraint failed" in str(original)  # SQLite
