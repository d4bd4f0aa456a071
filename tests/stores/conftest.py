"""Fixtures of the store tests: every tracker store and every lock store, on the real services.

PostgreSQL and Redis are the servers on 127.0.0.1 (PARLEY_TEST_POSTGRES_URL and
PARLEY_TEST_REDIS_URL name others). When one cannot be reached its tests are skipped, with the
reason in pytest's summary; with PARLEY_REQUIRE_SERVICES=1 (CI) they fail instead. Each
PostgreSQL test gets a schema of its own (dropped afterwards) and each Redis test a key prefix of
its own (its keys deleted afterwards), so runs never see each other's data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, NullPool, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from engine.dialogue.events import (
    ActionExecuted,
    BotUttered,
    Event,
    FlowStack,
    HandoffRequested,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from engine.stores import InMemoryTrackerStore, InProcessLockStore, LockStore, TrackerStore
from engine.stores.database import parse_url
from engine.stores.redis_lock import RedisLockStore
from engine.stores.sql import SqlTrackerStore
from engine.stores.urls import mask_password
from tests.conftest import ROOT

POSTGRES_URL = os.environ.get("PARLEY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PARLEY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("PARLEY_REQUIRE_SERVICES") == "1"


def _unreachable(service: str, url: str, variable: str, error: object) -> None:
    reason = " ".join(str(error).split())
    message = f"{service} at {mask_password(url)} cannot be reached ({reason}); start it or set {variable}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}. PARLEY_REQUIRE_SERVICES=1: these tests must run here.", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An engine on the test database, for creating and dropping the tests' schemas."""
    engine = create_engine(parse_url(POSTGRES_URL), poolclass=NullPool, connect_args={"connect_timeout": 3})
    problem: object = None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        problem = getattr(error, "orig", None) or error
    if problem is not None:
        engine.dispose()
        _unreachable("PostgreSQL", POSTGRES_URL, "PARLEY_TEST_POSTGRES_URL", problem)
    yield engine
    engine.dispose()


@pytest.fixture
def postgresql_url(postgres_admin: Engine) -> Iterator[str]:
    """The test database, seen through a schema of this test's own (an empty database for it)."""
    schema = f"parley_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = parse_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with postgres_admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'parley.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest) -> str:
    """A fresh SQL database of each kind."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def tracker(request: pytest.FixtureRequest) -> Iterator[TrackerStore]:
    """Every tracker store, empty."""
    store: TrackerStore
    if request.param == "memory":
        store = InMemoryTrackerStore()
    else:
        store = SqlTrackerStore(request.getfixturevalue(f"{request.param}_url"))
    yield store
    store.close()


@pytest.fixture(scope="session")
def redis_server() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    problem: object = None
    try:
        client.ping()
    except redis.RedisError as error:
        problem = error
    finally:
        client.close()
    if problem is not None:
        _unreachable("Redis", REDIS_URL, "PARLEY_TEST_REDIS_URL", problem)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_server: str) -> Iterator[str]:
    """A key prefix of this test's own; whatever it leaves behind is deleted."""
    prefix = f"parley-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_server)
    try:
        leftovers = list(client.scan_iter(match=f"{prefix}*"))
        if leftovers:
            client.delete(*leftovers)
    finally:
        client.close()


def redis_keys(prefix: str) -> list[str]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return sorted(client.scan_iter(match=f"{prefix}*"))
    finally:
        client.close()


@pytest.fixture
def redis_locks(redis_server: str, redis_prefix: str) -> Iterator[RedisLockStore]:
    store = RedisLockStore(redis_server, prefix=redis_prefix)
    yield store
    store.close()


@pytest.fixture(params=["in-process", "redis"])
def locks(request: pytest.FixtureRequest) -> Iterator[LockStore]:
    """Every lock store."""
    if request.param == "redis":
        yield request.getfixturevalue("redis_locks")
    else:
        store = InProcessLockStore()
        yield store
        store.close()


@contextmanager
def worker(*args: str) -> Iterator[subprocess.Popen[str]]:
    """`python -m tests.stores.workers ARGS` (a real process, see workers.py) with pipes to talk
    to it; killed if still running at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.stores.workers", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def queued(locks: LockStore, key: str) -> int:
    """How many hold or wait for `key` (the in-process store only says so through its state)."""
    if isinstance(locks, RedisLockStore):
        return locks.queue_length(key)
    assert isinstance(locks, InProcessLockStore)
    issued, served = locks._queues.get(key, (0, 0))
    return issued - served


T0 = 1_700_000_000.0


def conversation_events(start: float = T0) -> list[Event]:
    """A conversation's events of every shape the store must keep: unicode, a NUL character,
    None values, nested mappings and lists, tuples of frames, floats."""
    return [
        SessionStarted(timestamp=start),
        UserUttered(
            text="Où est ma commande ? 📦 — 注文",
            parse_data={"intent": {"name": "order_status", "confidence": 0.93}, "entities": []},
            input_channel="rest",
            message_id=None,
            metadata={"locale": "fr-FR"},
            timestamp=start + 0.25,
        ),
        SlotSet(name="order_id", value=None, timestamp=start + 0.5),
        SlotSet(name="items", value=[1, 2.5, "trois", None, {"k": True}], timestamp=start + 0.5),
        FlowStack(
            frames=({"flow": "order_status", "pc": 2, "waiting": True, "retries": 0},), timestamp=start + 1
        ),
        ActionExecuted(name="action_lookup_order", policy="flow", confidence=None, timestamp=start + 1.5),
        BotUttered(
            text=None,
            data={"buttons": [{"title": "Oui ✓", "payload": "/affirm"}]},
            metadata={"utter_action": "utter_ask_order"},
            timestamp=start + 2,
        ),
        UserUttered(text='nul\x00 character, \\ backslash "quotes" and 🙂', timestamp=start + 3),
        HandoffRequested(
            queue="billing",
            reason="frustration",
            priority="high",
            rule=None,
            context={
                "summary": "Customer asks where order A12345 is",
                "slots": {"order_id": "A12345", "refund": None},
                "transcript": [{"user": "Où est ma commande ?"}, {"bot": None}],
                "scores": {"frustration": 0.8125},
            },
            timestamp=start + 4,
        ),
    ]
