"""Schema migrations (Alembic, run by the store at start and by `python -m engine.stores.migrate`)
on a fresh SQLite file and a fresh PostgreSQL schema."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from engine.stores import StoreError
from engine.stores.database import IMMEDIATE, connect
from engine.stores.migrate import ADVISORY_LOCK_KEY, head_revision, main, upgrade
from engine.stores.schema import metadata
from engine.stores.sql import SqlTrackerStore


@pytest.fixture
def engine(sql_url: str) -> Iterator[Engine]:
    engine = connect(sql_url)
    yield engine
    engine.dispose()


def versions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def test_migrate_creates_the_schema_of_a_fresh_database(engine: Engine) -> None:
    migration = upgrade(engine)
    assert (migration.before, migration.after, migration.changed) == (None, head_revision(), True)
    assert set(inspect(engine).get_table_names()) == {
        "alembic_version",
        "conversations",
        "events",
        "tickets",
        "ticket_entries",
        "webhook_deliveries",
        "channel_inbox",
    }
    assert versions(engine) == [head_revision()]


def test_migrate_again_changes_nothing(engine: Engine) -> None:
    upgrade(engine)
    again = upgrade(engine)
    assert (again.before, again.after, again.changed) == (head_revision(), head_revision(), False)
    assert versions(engine) == [head_revision()]


def test_migrate_leaves_the_tables_schema_py_describes(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_migrate_once_when_workers_start_together(sql_url: str, engine: Engine) -> None:
    workers = 4
    start = threading.Barrier(workers)
    failures: list[BaseException] = []

    def work() -> None:
        start.wait()
        try:
            SqlTrackerStore(sql_url).close()
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert versions(engine) == [head_revision()]


def test_migrate_waits_while_another_process_migrates(sql_url: str, engine: Engine) -> None:
    """Another process holds the migration lock (PostgreSQL: the advisory lock; SQLite: the write
    lock): the upgrade waits for it instead of racing."""
    other_process = connect(sql_url)
    upgraded = threading.Event()
    thread = threading.Thread(target=lambda: (upgrade(engine), upgraded.set()))
    try:
        with other_process.execution_options(**{IMMEDIATE: True}).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            thread.start()
            assert not upgraded.wait(0.3)
        thread.join()
    finally:
        other_process.dispose()
    assert upgraded.is_set()
    assert versions(engine) == [head_revision()]


def test_migrate_refuses_a_database_from_a_newer_parley(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match=r"a database migrated by a newer Parley needs that version"):
        upgrade(engine)


def test_migrate_command_says_what_it_did(sql_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([sql_url]) == 0
    assert capsys.readouterr().out.endswith(f": migrated from an empty schema to {head_revision()}\n")
    assert main([sql_url]) == 0
    assert capsys.readouterr().out.endswith(f": already at {head_revision()} (latest)\n")


def test_migrate_command_reports_an_unreachable_database(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["postgresql://parley:s3cret@127.0.0.1:1/parley"]) == 1
    error = capsys.readouterr().err
    url = "postgresql+psycopg://parley:***@127.0.0.1:1/parley"
    assert error.startswith(f"tracker store {url}: cannot migrate the schema: connection failed")
    assert "s3cret" not in error
