"""The SQL tracker store beyond the contract: URLs, SQLite's settings, errors, and durability when
its process is killed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from engine.dialogue.events import SessionStarted, SlotSet, UserUttered
from engine.stores import StoreError
from engine.stores.database import SQLITE_BUSY_TIMEOUT_MS, connect, parse_url
from engine.stores.schema import conversations, events
from engine.stores.sql import SqlTrackerStore
from tests.stores.conftest import T0, conversation_events, worker
from tests.stores.workers import PACK, SENDER


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        pytest.param("postgresql://parley@db:5432/parley", "postgresql+psycopg", id="postgresql"),
        pytest.param("postgres://parley@db/parley", "postgresql+psycopg", id="postgres"),
        pytest.param("postgresql+psycopg://parley@db/parley", "postgresql+psycopg", id="psycopg"),
        pytest.param("sqlite:///data/parley.sqlite", "sqlite", id="sqlite"),
    ],
)
def test_sql_urls_use_the_shipped_drivers(url: str, driver: str) -> None:
    assert parse_url(url).drivername == driver


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param(
            "mysql://parley:s3cret@db/parley",
            "tracker store 'mysql://parley:***@db/parley': driver 'mysql' is not supported; use "
            "sqlite:///<path> or postgresql+psycopg://user@host:port/database",
            id="other-database",
        ),
        pytest.param(
            "sqlite://",
            "tracker store 'sqlite://': an in-memory SQLite database is lost with its connection; "
            "use memory:// or a file, sqlite:///data/parley.sqlite",
            id="sqlite-in-memory",
        ),
        pytest.param(
            "data/parley.sqlite",
            "tracker store 'data/parley.sqlite' is not a database URL: use sqlite:///<path> or "
            "postgresql+psycopg://user@host:port/database",
            id="a-path",
        ),
    ],
)
def test_sql_refuses_unsupported_urls(url: str, message: str) -> None:
    with pytest.raises(StoreError) as refused:
        SqlTrackerStore(url)
    assert str(refused.value) == message


def test_sql_sqlite_default_creates_its_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = SqlTrackerStore("sqlite:///data/parley.sqlite")
    try:
        store.append("retail", "alice", [SessionStarted(timestamp=T0)], expected=0)
    finally:
        store.close()
    assert (tmp_path / "data" / "parley.sqlite").is_file()


def test_sql_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_url: str) -> None:
    SqlTrackerStore(sqlite_url).close()
    engine = connect(sqlite_url)
    try:
        with engine.connect() as connection:
            settings = {
                pragma: connection.exec_driver_sql(f"PRAGMA {pragma}").scalar()
                for pragma in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
    finally:
        engine.dispose()
    assert settings == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
        "foreign_keys": 1,
    }


def test_sql_stores_events_as_rows_in_order(sql_url: str) -> None:
    store = SqlTrackerStore(sql_url)
    written = conversation_events()
    try:
        store.append("retail", "alice", written[:4], expected=0)
        store.append("retail", "alice", written[4:], expected=4)
    finally:
        store.close()
    engine = connect(sql_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(events.c.seq, events.c.kind, events.c.timestamp).order_by(events.c.seq)
            ).all()
            count = connection.execute(select(conversations.c.event_count)).scalar_one()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [(n, e.KIND, e.timestamp) for n, e in enumerate(written)]
    assert count == len(written)


def test_sql_primary_key_refuses_a_second_event_at_a_position(sql_url: str) -> None:
    """The last line of defence against two writers: one event per (conversation, seq)."""
    store = SqlTrackerStore(sql_url)
    try:
        store.append("retail", "alice", [SessionStarted(timestamp=T0)], expected=0)
    finally:
        store.close()
    engine = connect(sql_url)
    try:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            conversation = connection.execute(select(conversations.c.id)).scalar_one()
            duplicate = {"conversation_id": conversation, "seq": 0, "kind": "restart", "timestamp": T0}
            connection.execute(insert(events).values(**duplicate, data="{}"))
    finally:
        engine.dispose()


def test_sql_unreadable_stored_event_is_a_store_error(sql_url: str) -> None:
    store = SqlTrackerStore(sql_url)
    try:
        store.append("retail", "alice", conversation_events()[:3], expected=0)
        engine = connect(sql_url)
        try:
            with engine.begin() as connection:
                teleport = update(events).where(events.c.seq == 1).values(data='{"event": "teleport"}')
                connection.execute(teleport)
        finally:
            engine.dispose()
        unreadable = r"event 1 of conversation retail/alice cannot be read: unknown event 'teleport'"
        with pytest.raises(StoreError, match=unreadable):
            store.load("retail", "alice")
    finally:
        store.close()


def test_sql_event_that_is_not_json_writes_nothing(sqlite_url: str) -> None:
    store = SqlTrackerStore(sqlite_url)
    try:
        with pytest.raises(StoreError, match=r"event 'slot' cannot be stored: .*set"):
            store.append("retail", "alice", [SessionStarted(), SlotSet(name="odd", value={1, 2})], expected=0)
        assert store.load("retail", "alice") == []
    finally:
        store.close()


def test_sql_unreachable_database_is_a_store_error_without_password() -> None:
    url = "postgresql://parley:s3cret@127.0.0.1:1/parley"
    with pytest.raises(StoreError) as at_start:
        SqlTrackerStore(url)
    store = SqlTrackerStore(url, migrate=False)
    try:
        with pytest.raises(StoreError) as check:
            store.check()
        with pytest.raises(StoreError) as load:
            store.load("retail", "alice")
    finally:
        store.close()
    for error in (at_start.value, check.value, load.value):
        assert "s3cret" not in str(error)
        assert str(error).startswith("tracker store postgresql+psycopg://parley:***@127.0.0.1:1/parley: ")
    assert "cannot be reached (is the database up and the URL right?)" in str(check.value)
    assert "Connection refused" in str(check.value)


def test_sql_loads_long_conversations(sql_url: str) -> None:
    store = SqlTrackerStore(sql_url)
    try:
        written = [UserUttered(text=f"message {n}", timestamp=T0 + n) for n in range(2000)]
        for start in range(0, 2000, 100):
            store.append("retail", "alice", written[start : start + 100], expected=start)
        assert store.load("retail", "alice") == written
    finally:
        store.close()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_sql_keeps_every_acknowledged_append_when_killed(
    request: pytest.FixtureRequest, database: str
) -> None:
    """SIGKILL in the middle of a stream of appends: every append that returned (the server would
    have answered) is there afterwards, the count matches the events, and the conversation goes on."""
    url = str(request.getfixturevalue(f"{database}_url"))
    SqlTrackerStore(url).close()
    with worker("flood", url) as flood:
        assert flood.stdout is not None
        acknowledged = 0
        while acknowledged < 100:
            acknowledged = int(flood.stdout.readline())
        os.kill(flood.pid, signal.SIGKILL)
        flood.wait()
        for line in flood.stdout:  # printed before it died: acknowledged too
            acknowledged = int(line)
    store = SqlTrackerStore(url)
    try:
        stored = store.load(PACK, SENDER)
        assert len(stored) >= acknowledged
        assert [e.text for e in stored if isinstance(e, UserUttered)] == [str(n) for n in range(len(stored))]
        (summary,) = store.conversations()
        assert summary.events == len(stored)
        store.append(PACK, SENDER, [UserUttered(text="after the restart")], expected=len(stored))
        assert len(store.load(PACK, SENDER)) == len(stored) + 1
    finally:
        store.close()
    if database == "sqlite":
        engine = connect(url)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        finally:
            engine.dispose()


def test_sql_sqlite_checkpoints_happen_in_the_background_not_in_commits(tmp_path: Path) -> None:
    path = tmp_path / "trackers.sqlite"
    store = SqlTrackerStore(f"sqlite:///{path}")
    try:
        for number in range(200):
            store.append("shop", f"c{number}", [UserUttered(text="hello " * 40, timestamp=T0)], expected=0)
        written = path.stat().st_size
        assert (tmp_path / "trackers.sqlite-wal").stat().st_size > written, "the commits stay in the log"
        deadline = time.monotonic() + 5
        while path.stat().st_size == written and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.stat().st_size > written, "the background checkpoint copied the log into the file"
        assert len(store.load("shop", "c199")) == 1
    finally:
        store.close()
