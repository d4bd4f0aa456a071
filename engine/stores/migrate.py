"""Schema migrations of the tracker store: Alembic, configured in code (no alembic.ini).

`upgrade(engine)` brings a database to the latest revision; `SqlTrackerStore` calls it when it
starts, so a new deployment needs no separate step. Several workers may start at once: the
upgrade runs in one transaction that first takes a lock (PostgreSQL: a transaction-level
advisory lock; SQLite: BEGIN IMMEDIATE, the database's write lock), and looks at the schema's
revision only once it holds it, so one worker migrates and the others find the work done.
Both databases run DDL inside transactions: a failed migration leaves the schema as it was.

Run the migrations explicitly (e.g. before starting the servers of a new release):

    python -m engine.stores.migrate [URL]

URL defaults to the tracker store of config.yml (`stores.tracker`, or PARLEY_TRACKER_STORE_URL).
To change the schema, add a file to `migrations/versions/` (the next number, `down_revision` set
to the latest) and update `schema.py` to match: a test compares them.
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from engine.stores.base import StoreError
from engine.stores.database import IMMEDIATE, connect, describe, reason

MIGRATIONS = Path(__file__).with_name("migrations")

#: pg_advisory_xact_lock key held while migrating ("parley:m" as a big-endian integer).
ADVISORY_LOCK_KEY = 8097879414873340525

# Alembic's `context` and `op` are process-wide proxies: one migration at a time per process
# (the database's lock orders processes; this orders threads, e.g. two stores starting at once).
_IN_PROCESS = threading.Lock()


@dataclass(frozen=True)
class Migration:
    #: The revision found in the database (None: a database without Parley's tables).
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the tracker store's migrations, running on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    """The latest revision of the schema."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the first revision ships with the package
        raise StoreError(f"no migrations in {MIGRATIONS}")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in the database's alembic_version table (None when absent)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> Migration:
    """Bring the database to the latest revision; safe when several processes call it at once.
    Raises `StoreError` when the database cannot be reached or migrated."""
    head = head_revision()
    try:
        with engine.connect() as connection:
            found = current_revision(connection)
        if found == head:
            return Migration(found, head)
        with _IN_PROCESS, engine.execution_options(**{IMMEDIATE: True}).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            before = current_revision(connection)
            command.upgrade(alembic_config(connection), "head")
            after = current_revision(connection)
    except SQLAlchemyError as error:
        raise StoreError(
            f"tracker store {describe(engine)}: cannot migrate the schema: {reason(engine, error)}"
        ) from None
    except CommandError as error:
        raise StoreError(
            f"tracker store {describe(engine)}: cannot migrate the schema ({error}); a database "
            "migrated by a newer Parley needs that version"
        ) from None
    if after != head:  # pragma: no cover - alembic reached head or raised
        raise StoreError(f"tracker store {describe(engine)}: schema at {after}, not {head}, after upgrade")
    return Migration(before, after)


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.stores.migrate [URL]`: migrate the tracker store, say what was done."""
    from engine.config import ConfigError, load_config

    parser = argparse.ArgumentParser(
        prog="python -m engine.stores.migrate", description="Migrate the tracker store's schema."
    )
    parser.add_argument(
        "url", nargs="?", help="SQLAlchemy URL; default: the tracker store of config.yml (or its variable)"
    )
    parser.add_argument("--config", type=Path, default=Path("config.yml"), help="configuration file")
    args = parser.parse_args(argv)
    try:
        url = args.url or load_config(args.config).stores.tracker_url()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    if url.startswith("memory://"):
        print(f"tracker store {url}: in memory, nothing to migrate")
        return 0
    try:
        engine = connect(url)
        try:
            migration = upgrade(engine)
        finally:
            engine.dispose()
    except StoreError as error:
        print(error, file=sys.stderr)
        return 1
    where = describe(engine)
    if migration.changed:
        before = migration.before or "an empty schema"
        print(f"tracker store {where}: migrated from {before} to {migration.after}")
    else:
        print(f"tracker store {where}: already at {migration.after} (latest)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
