"""Stores of the server: conversations (tracker store) and one-at-a-time processing (lock store)."""

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
