"""The declarative base shared by the demo backend's tables."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Enum as SqlEnum
from sqlalchemy.orm import DeclarativeBase


def _enum_values(enum_class: type[enum.Enum]) -> list[str]:
    return [str(member.value) for member in enum_class]


class Base(DeclarativeBase):
    """Enum columns store the member's value (`in_progress`, the word a pack's categorical slot
    uses), not its Python name, so the database reads the same as the conversation."""

    type_annotation_map: dict[Any, Any] = {
        enum.Enum: SqlEnum(enum.Enum, native_enum=False, validate_strings=True, values_callable=_enum_values),
    }


def utc_now() -> datetime:
    """Now in UTC, without tzinfo: SQLite stores datetimes naive, and every one here is UTC."""
    return datetime.now(UTC).replace(tzinfo=None)
