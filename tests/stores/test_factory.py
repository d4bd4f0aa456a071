"""Stores built from config.yml's `stores` section and its environment variables; the package's
public surface."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import engine.stores
from engine.config import LOCK_STORE_URL_VARIABLE, TRACKER_STORE_URL_VARIABLE, StoresConfig
from engine.stores import InMemoryTrackerStore, InProcessLockStore, StoreError
from engine.stores.factory import lock_store, tracker_store
from engine.stores.redis_lock import RedisLockStore
from engine.stores.sql import SqlTrackerStore


@pytest.fixture(autouse=True)
def no_store_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRACKER_STORE_URL_VARIABLE, raising=False)
    monkeypatch.delenv(LOCK_STORE_URL_VARIABLE, raising=False)


def test_factory_builds_each_tracker_store(tmp_path: Path, postgresql_url: str) -> None:
    assert isinstance(tracker_store(StoresConfig(tracker="memory://")), InMemoryTrackerStore)
    for url in (f"sqlite:///{tmp_path / 'parley.sqlite'}", postgresql_url):
        store = tracker_store(StoresConfig(tracker=url))
        try:
            assert isinstance(store, SqlTrackerStore)
            store.check()
        finally:
            store.close()


def test_factory_builds_each_lock_store(redis_server: str) -> None:
    assert isinstance(lock_store(StoresConfig(lock="in-process")), InProcessLockStore)
    store = lock_store(StoresConfig(lock=redis_server))
    try:
        assert isinstance(store, RedisLockStore)
        store.check()
    finally:
        store.close()


def test_factory_takes_urls_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRACKER_STORE_URL_VARIABLE, f"sqlite:///{tmp_path / 'from-env.sqlite'}")
    monkeypatch.setenv(LOCK_STORE_URL_VARIABLE, "redis://:s3cret@127.0.0.1:6379/0")
    trackers = tracker_store(StoresConfig(tracker="memory://"))
    locks = lock_store(StoresConfig())
    try:
        assert isinstance(trackers, SqlTrackerStore)
        assert (tmp_path / "from-env.sqlite").is_file()
        assert isinstance(locks, RedisLockStore)
        assert locks.url == "redis://:***@127.0.0.1:6379/0"
    finally:
        trackers.close()
        locks.close()


@pytest.mark.parametrize(
    ("config", "build", "message"),
    [
        pytest.param(
            StoresConfig(tracker="mongodb://db/parley"),
            tracker_store,
            "tracker store 'mongodb://db/parley': use memory://, sqlite:///<path> or "
            "postgresql+psycopg://user@host:port/database",
            id="tracker",
        ),
        pytest.param(
            StoresConfig(lock="memcached://:s3cret@cache:11211"),
            lock_store,
            "lock store 'memcached://:***@cache:11211': use in-process or redis://host:port/db",
            id="lock",
        ),
    ],
)
def test_factory_refuses_unknown_stores(
    config: StoresConfig, build: Callable[[StoresConfig], object], message: str
) -> None:
    with pytest.raises(StoreError) as refused:
        build(config)
    assert str(refused.value) == message


def test_public_api_of_engine_stores_is_pinned() -> None:
    assert sorted(engine.stores.__all__) == [
        "ConcurrentWrite",
        "ConversationSummary",
        "InMemoryTrackerStore",
        "InProcessLockStore",
        "LockStore",
        "LockTimeout",
        "StoreError",
        "TrackerStore",
    ]
    for name in engine.stores.__all__:
        assert hasattr(engine.stores, name), name
