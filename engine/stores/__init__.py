"""Stores of the server: conversations (tracker store) and one-at-a-time processing (lock store).

`engine.stores.factory` builds the stores config.yml names: `SqlTrackerStore`
(`engine.stores.sql`, SQLite or PostgreSQL) and `RedisLockStore` (`engine.stores.redis_lock`) are
imported from their modules, so that importing this package stays cheap.
"""

from engine.stores.base import (
    ConcurrentWrite,
    ConversationSummary,
    LockStore,
    LockTimeout,
    StoreError,
    TrackerStore,
)
from engine.stores.memory import InMemoryTrackerStore, InProcessLockStore

__all__ = [
    "ConcurrentWrite",
    "ConversationSummary",
    "InMemoryTrackerStore",
    "InProcessLockStore",
    "LockStore",
    "LockTimeout",
    "StoreError",
    "TrackerStore",
]
