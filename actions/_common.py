"""What every action shares: the demo database, transactions run off the event loop, and reading
slots from the tracker.

rasa_sdk runs actions on its event loop, so database work runs in a worker thread
(`asyncio.to_thread`): a slow query holds up its own request, not the server. Each action's work
is one function of a session, run in one transaction (`read` or `write`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions._sdk import EventType, SlotSet, Tracker
from actions.backend import Backend, database_path, open_backend

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

_backends: dict[Path, Backend] = {}
_backends_lock = threading.Lock()


class BackendError(RuntimeError):
    """The demo database failed. Raised out of an action's run(), it makes rasa_sdk answer 500,
    which the engine treats as a failed action (the pack's failure path)."""


def backend() -> Backend:
    """The database at `$PARLEY_DEMO_DB` (read on every call), opened, created and seeded on
    first use and kept open afterwards."""
    path = database_path()
    with _backends_lock:
        found = _backends.get(path)
        if found is None:
            found = _backends[path] = open_backend(path)
        return found


def close_backends() -> None:
    """Close every database opened by `backend()` (tests; a server never needs to)."""
    with _backends_lock:
        for opened in _backends.values():
            opened.close()
        _backends.clear()


async def read(work: Callable[[Session], T]) -> T:
    """Run `work` in a read transaction in a worker thread; raises `BackendError` when the
    database fails, and whatever `work` raises."""
    return await asyncio.to_thread(_in_transaction, work, False)


async def write(work: Callable[[Session], T]) -> T:
    """Run `work` in one write transaction (committed when it returns, rolled back when it
    raises) in a worker thread; raises like `read`."""
    return await asyncio.to_thread(_in_transaction, work, True)


def _in_transaction(work: Callable[[Session], T], writes: bool) -> T:
    try:
        with backend().transaction(write=writes) as session:
            return work(session)
    except (SQLAlchemyError, OSError) as error:  # OSError: the database folder cannot be created
        # The driver's message ("no such table: orders") and not SQLAlchemy's, which quotes the
        # statement's parameters (emails, addresses) into the 500 body.
        cause = getattr(error, "orig", None) or error
        raise BackendError(f"demo database error: {type(cause).__name__}: {cause}") from error


# -- slots ---------------------------------------------------------------------------------------


def text_slot(tracker: Tracker, name: str) -> str | None:
    """The slot's value as stripped text; None when it is not set or blank."""
    value = tracker.get_slot(name)
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def list_slot(tracker: Tracker, name: str) -> list[str]:
    """The slot's values as a list of non-blank texts (a single value becomes a list of one)."""
    value = tracker.get_slot(name)
    items = value if isinstance(value, (list, tuple)) else [] if value is None else [value]
    return [str(item).strip() for item in items if item is not None and str(item).strip()]


def date_slot(tracker: Tracker, name: str) -> date | None:
    """The slot's value as a date (slots of type date hold YYYY-MM-DD); None when it is not set
    or not a date."""
    text = text_slot(tracker, name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def int_slot(tracker: Tracker, name: str) -> int | None:
    """The slot's value as a whole number; None when it is not set or not a number."""
    value = tracker.get_slot(name)
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def choice(enum_class: type[E], text: str | None) -> E | None:
    """The member of `enum_class` whose value is `text` (a categorical slot's value), or None."""
    try:
        return None if text is None else enum_class(text)
    except ValueError:
        return None


# -- events --------------------------------------------------------------------------------------


def slots(values: Mapping[str, Any]) -> list[EventType]:
    """One SlotSet event per slot, in order."""
    return [SlotSet(name, value) for name, value in values.items()]


def money(amount: Decimal | None) -> float | None:
    """An amount for a money slot: a JSON number."""
    return None if amount is None else float(amount)


def iso(day: date | None) -> str | None:
    """A date for a date slot: YYYY-MM-DD."""
    return None if day is None else day.isoformat()
