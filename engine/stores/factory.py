"""Stores from config.yml (`stores.tracker`, `stores.lock`, overridable from the environment).

The SQL and Redis stores are imported when configured, so `import engine.stores` stays light.
"""

from __future__ import annotations

from engine.config import StoresConfig
from engine.stores.base import LockStore, StoreError, TrackerStore
from engine.stores.memory import InMemoryTrackerStore, InProcessLockStore
from engine.stores.urls import mask_password

SQL_SCHEMES = ("sqlite:", "sqlite+pysqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")
REDIS_SCHEMES = ("redis:", "rediss:", "unix:")


def tracker_store(config: StoresConfig) -> TrackerStore:
    """The configured tracker store. An SQL store is migrated to the latest schema here. Raises
    `StoreError` for an unknown URL or a database that cannot be reached or migrated."""
    url = config.tracker_url()
    if url.startswith("memory://"):
        return InMemoryTrackerStore()
    if url.startswith(SQL_SCHEMES):
        from engine.stores.sql import SqlTrackerStore

        return SqlTrackerStore(url)
    raise StoreError(
        f"tracker store {mask_password(url)!r}: use memory://, sqlite:///<path> or "
        "postgresql+psycopg://user@host:port/database"
    )


def lock_store(config: StoresConfig) -> LockStore:
    """The configured lock store (Redis is first contacted by `check` or the first lock). Raises
    `StoreError` for an unknown URL."""
    url = config.lock_url()
    if url == "in-process":
        return InProcessLockStore()
    if url.startswith(REDIS_SCHEMES):
        from engine.stores.redis_lock import RedisLockStore

        return RedisLockStore(url)
    raise StoreError(f"lock store {mask_password(url)!r}: use in-process or redis://host:port/db")


def is_in_process(config: StoresConfig) -> bool:
    """Whether the lock store coordinates one process only (then `parley run --workers` must be 1)."""
    return config.lock_url() == "in-process"
