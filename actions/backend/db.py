"""Opening the demo database: the SQLite file, its transactions, creation and seeding.

Write transactions start with `BEGIN IMMEDIATE`: SQLite then takes the write lock up front (waiting
for it up to `BUSY_TIMEOUT` seconds), instead of failing with "database is locked" when a
transaction that has read tries to write while another one holds the lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from actions.backend.base import Base
from actions.backend.retail import Customer
from actions.backend.seed import seed

#: The environment variable naming the database file.
DATABASE_ENV = "PARLEY_DEMO_DB"
#: The database file when the variable is not set, relative to the working directory.
DEFAULT_DATABASE = Path("data") / "demo_backend.sqlite"
#: Seconds a write waits for another writer to finish.
BUSY_TIMEOUT = 5.0

_BEGIN_OPTION = "parley_sqlite_begin"


def database_path() -> Path:
    """The database file: `$PARLEY_DEMO_DB`, or data/demo_backend.sqlite in the working directory."""
    return Path(os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE).resolve()


def _create_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN, instead of the driver's implicit one,
        # so that write transactions can ask for BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(
            f"BEGIN {connection.get_execution_options().get(_BEGIN_OPTION, 'DEFERRED')}"
        )

    return engine


@dataclass(frozen=True)
class Backend:
    """The demo database: one SQLAlchemy engine and its sessions."""

    path: Path
    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Session]:
        """A session inside one transaction: committed when the block ends, rolled back when it
        raises. Objects stay readable after the commit."""
        with self.sessions() as session, session.begin():
            if write:
                session.connection(execution_options={_BEGIN_OPTION: "IMMEDIATE"})
            yield session

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _connect(path: Path | None) -> Backend:
    path = (path or database_path()).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = _create_engine(path)
    return Backend(path, engine, sessionmaker(engine, expire_on_commit=False))


def open_backend(path: Path | None = None, *, today: date | None = None) -> Backend:
    """Open the demo database at `path` (default: `database_path()`), creating its folder, tables
    and demo rows if they are missing. A database that already holds data is left as it is.

    Raises `sqlalchemy.exc.SQLAlchemyError` when the file cannot be opened or is not a database.
    """
    backend = _connect(path)
    try:
        # One write transaction: two processes starting at once cannot both seed.
        with backend.transaction(write=True) as session:
            Base.metadata.create_all(session.connection())
            if session.scalar(select(func.count()).select_from(Customer)) == 0:
                seed(session, today or date.today())
    except Exception:
        backend.close()
        raise
    return backend


def reset_backend(path: Path | None = None, *, today: date | None = None) -> Backend:
    """Drop the demo tables, create them again and seed the demo rows, in one transaction. Works
    on a database left by an older version of these tables, and while an action server uses the
    file (it sees the fresh rows on its next query).

    Raises `sqlalchemy.exc.SQLAlchemyError` when the file cannot be opened or is not a database.
    """
    backend = _connect(path)
    try:
        with backend.transaction(write=True) as session:
            connection = session.connection()
            Base.metadata.drop_all(connection)
            Base.metadata.create_all(connection)
            seed(session, today or date.today())
    except Exception:
        backend.close()
        raise
    return backend
