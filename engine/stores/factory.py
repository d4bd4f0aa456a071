"""Stores from config.yml (`stores.tracker`, `stores.lock`, overridable from the environment)."""

from __future__ import annotations

from engine.config import StoresConfig
from engine.stores.base import LockStore, StoreError, TrackerStore
from engine.stores.memory import InMemoryTrackerStore, InProcessLockStore


def tracker_store(config: StoresConfig) -> TrackerStore:
    url = config.tracker_url()
    if url.startswith("memory://"):
        return InMemoryTrackerStore()
    raise StoreError(f"tracker store {url!r}: use memory://, sqlite:///<path> or postgresql+psycopg://...")


def lock_store(config: StoresConfig) -> LockStore:
    url = config.lock_url()
    if url == "in-process":
        return InProcessLockStore()
    raise StoreError(f"lock store {url!r}: use in-process or redis://host:port/db")


def is_in_process(config: StoresConfig) -> bool:
    """Whether the lock store coordinates one process only (then `parley run --workers` must be 1)."""
    return config.lock_url() == "in-process"
