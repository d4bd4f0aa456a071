"""The tracker store's tables, as the latest migration leaves them.

`conversations` has one row per (pack, sender id) with its event count and the times of its first
and latest event; `events` has one row per event, never updated or deleted by Parley, keyed by
(conversation, seq) where seq is the event's 0-based position in the conversation.

Indexes serve the queries the product makes:
- a conversation's events in order: the primary key (conversation_id, seq), found through the
  unique (pack, sender_id) key;
- conversations most recently updated first, over all packs or one: (updated, id) and
  (pack, updated, id).

Event data is JSON in a text column, byte for byte what `json.dumps` wrote: the same on both
databases, and free of JSONB's refusal of "\\u0000" (a customer can type a NUL character).
PostgreSQL still queries it with `data::jsonb`.

Changing these tables needs a new migration in `migrations/versions/`; a test compares the
migrated database with this module.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(naming_convention={"pk": "pk_%(table_name)s"})

#: An integer primary key that is SQLite's rowid (BIGINT is not, on SQLite).
_Id = BigInteger().with_variant(Integer(), "sqlite")

conversations = Table(
    "conversations",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("pack", String(200), nullable=False),
    Column("sender_id", Text, nullable=False),
    #: Unix times of the first and the latest event.
    Column("started", Double, nullable=False),
    Column("updated", Double, nullable=False),
    Column("event_count", Integer, nullable=False),
    UniqueConstraint("pack", "sender_id", name="uq_conversations_pack_sender"),
    Index("ix_conversations_updated", "updated", "id"),
    Index("ix_conversations_pack_updated", "pack", "updated", "id"),
)

events = Table(
    "events",
    metadata,
    # CASCADE: an operator erasing a conversation (e.g. on a data-protection request) erases
    # its events with it; Parley itself never deletes.
    Column(
        "conversation_id",
        _Id,
        ForeignKey("conversations.id", ondelete="CASCADE", name="fk_events_conversation"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(64), nullable=False),
    Column("timestamp", Double, nullable=False),
    Column("data", Text, nullable=False),
)
