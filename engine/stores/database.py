"""SQLAlchemy engines for the tracker store: SQLite tuned for a server, PostgreSQL through psycopg 3.

SQLite connections run in WAL mode with `synchronous=NORMAL`, a busy timeout and foreign keys on.
Transactions are begun by this module rather than by the sqlite3 module, so that write
transactions can start with `BEGIN IMMEDIATE` (take the write lock first, wait for it up to the
busy timeout) instead of failing with "database is locked" when a read lock cannot be upgraded.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from engine.stores.base import StoreError
from engine.stores.urls import mask_password

log = logging.getLogger(__name__)

#: Execution option of write transactions: on SQLite they begin with BEGIN IMMEDIATE.
IMMEDIATE = "parley_begin_immediate"

#: How long an SQLite statement waits for another connection's write lock (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 10_000

#: Seconds to wait for a PostgreSQL server to accept a connection.
POSTGRES_CONNECT_TIMEOUT = 10


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL of a tracker store URL: `postgresql://` and `postgres://` are read as
    `postgresql+psycopg://` (psycopg 3 is the driver Parley ships). Raises `StoreError` for
    anything but SQLite and PostgreSQL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"tracker store {mask_password(url)!r} is not a database URL: use sqlite:///<path> or "
            "postgresql+psycopg://user@host:port/database"
        ) from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        if parsed.database in (None, "", ":memory:"):
            raise StoreError(
                f"tracker store {mask_password(url)!r}: an in-memory SQLite database is lost with "
                "its connection; use memory:// or a file, sqlite:///data/parley.sqlite"
            )
        return parsed
    raise StoreError(
        f"tracker store {mask_password(url)!r}: driver {parsed.drivername!r} is not supported; use "
        "sqlite:///<path> or postgresql+psycopg://user@host:port/database"
    )


def connect(url: str) -> Engine:
    """An engine for `url` (connections are opened lazily). For SQLite the database's folder is
    created. Raises `StoreError` for unsupported URLs."""
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        return _postgres_engine(parsed)
    except NoSuchModuleError as error:  # pragma: no cover - the drivers are dependencies
        raise StoreError(f"tracker store {mask_password(url)!r}: {error}") from None


def _sqlite_engine(url: URL) -> Engine:
    path = Path(url.database or "")  # parse_url refused an empty database
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"tracker store {url!s}: cannot create folder {path.parent}: {error}") from None
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN (below), not the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            _use_wal(cursor, url)
            # NORMAL in WAL mode: commits are not fsynced, checkpoints are. A committed
            # transaction survives the death of the process (it is in the OS's page cache);
            # only a crash of the operating system or a power cut may lose the last commits.
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            # No checkpoint inside a customer's commit (it fsyncs, tens of milliseconds): the
            # store's background checkpointer does them (see `WalCheckpointer`).
            cursor.execute("PRAGMA wal_autocheckpoint = 0")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _use_wal(cursor: Any, url: URL) -> None:
    """WAL: readers never block the writer nor the writer readers, and a commit is one append to
    the -wal file. The mode is stored in the database file, so only the first connection to a new
    database changes it; that change needs the database to itself and, unlike other statements,
    fails at once with "database is locked" when workers open a new database together: retry."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                mode = str(cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
                if mode != "wal":
                    log.warning("tracker store %s: SQLite cannot use WAL here; journal mode %s", url, mode)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _postgres_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT
    # pre_ping: connections in the pool survive a restart of the database server.
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def describe(engine: Engine) -> str:
    """The engine's URL for messages, password hidden."""
    return engine.url.render_as_string(hide_password=True)


def reason(engine: Engine, error: SQLAlchemyError) -> str:
    """What went wrong, for a message: the driver's words, not SQLAlchemy's (those quote the
    statement's parameters, which hold what customers wrote), and never the password."""
    text = " ".join(str(getattr(error, "orig", None) or type(error).__name__).split())
    password = engine.url.password
    return text.replace(str(password), "***") if password else text
