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

The handoff desk keeps its tickets in the same database (migration 0002): `tickets`, one row per
handoff with its measures as columns (created, first claimed, first agent reply, ended), and
`ticket_entries`, each ticket's timeline (customer messages while waiting, agent replies, notes,
claims, transfers, the ending), appended only. `webhook_deliveries` is the outbox of the outbound
helpdesk webhook: a row per notification, delivered (or given up) by a background dispatcher.
Indexes: the waiting list (status, priority rank, queued_at), a conversation's open ticket
(pack, sender_id, status), analytics by creation time, a ticket's timeline, and the due deliveries.

`channel_inbox` (migration 0003) records every message a messenger connector received before
the platform is answered: one row per platform delivery, unique by (channel, message_id) so a
retried delivery is recognised, processed in the background and kept a week after it is done
(indexes: the due rows, and the rows old enough to prune).

Changing these tables needs a new migration in `migrations/versions/`; a test compares the
migrated database with this module.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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

tickets = Table(
    "tickets",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("pack", String(200), nullable=False),
    Column("sender_id", Text, nullable=False),
    #: The channel the customer wrote on (replies go back through it).
    Column("channel", String(64), nullable=False),
    #: The position of the handoff_requested event in the conversation: one ticket per request.
    Column("handoff_seq", Integer, nullable=False),
    Column("queue", String(200), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("priority", String(16), nullable=False),
    #: urgent 3, high 2, normal 1, low 0: the waiting list's order.
    Column("priority_rank", Integer, nullable=False),
    #: queued, claimed, handed_back, closed, expired.
    Column("status", String(16), nullable=False),
    Column("agent", String(200), nullable=True),
    #: The context packet (JSON; its summary is the ticket's summary). Customer text is kept in
    #: JSON columns only: PostgreSQL's TEXT cannot hold a NUL character, JSON's "\u0000" can.
    Column("context", Text, nullable=False),
    #: Unix times: requested, first claimed, first agent reply, ended (handed back, closed,
    #: expired), last changed.
    Column("created_at", Double, nullable=False),
    Column("claimed_at", Double, nullable=True),
    #: The latest claim (claimed_at is the first): with queued_at, the wait in the current queue.
    Column("queue_claimed_at", Double, nullable=True),
    Column("first_reply_at", Double, nullable=True),
    Column("ended_at", Double, nullable=True),
    Column("updated_at", Double, nullable=False),
    #: When the ticket entered its current queue (a transfer restarts the wait).
    Column("queued_at", Double, nullable=False),
    #: The queue's wait limit was passed and its timeout_* keys applied (once per queue).
    Column("timed_out", Boolean, nullable=False),
    Column("resolution", String(200), nullable=True),
    #: Handed back: the bot resumed the interrupted flow ("resume") or ended it ("end").
    Column("handback", String(16), nullable=True),
    UniqueConstraint("pack", "sender_id", "handoff_seq", name="uq_tickets_conversation_request"),
    Index("ix_tickets_waiting", "status", "priority_rank", "queued_at"),
    Index("ix_tickets_conversation", "pack", "sender_id", "status"),
    Index("ix_tickets_created", "created_at", "id"),
)

ticket_entries = Table(
    "ticket_entries",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column(
        "ticket_id",
        _Id,
        ForeignKey("tickets.id", ondelete="CASCADE", name="fk_ticket_entries_ticket"),
        nullable=False,
    ),
    #: requested, customer_message, wait_message, claimed, agent_reply, note, transferred,
    #: reprioritized, handed_back, closed, expired.
    Column("kind", String(32), nullable=False),
    #: "customer", "system" or the agent's id.
    Column("actor", String(200), nullable=False),
    #: JSON: {"text": the message or note (or null), "data": {...}}.
    Column("data", Text, nullable=False),
    Column("at", Double, nullable=False),
    Index("ix_ticket_entries_ticket", "ticket_id", "id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    #: ticket.created, ticket.claimed, ticket.transferred, ticket.handed_back, ticket.closed, ...
    Column("event", String(64), nullable=False),
    Column("ticket_id", BigInteger, nullable=True),
    #: The JSON body, byte for byte as it is signed and sent.
    Column("payload", Text, nullable=False),
    #: pending, delivered, failed (gave up after the last attempt).
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("next_attempt_at", Double, nullable=False),
    Column("finished_at", Double, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
)

channel_inbox = Table(
    "channel_inbox",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    #: The platform's id of the delivery (Telegram's update_id, Slack's event_id, ...).
    Column("message_id", String(200), nullable=False),
    Column("pack", String(200), nullable=False),
    Column("sender_id", Text, nullable=False),
    #: JSON: the message's text, reply address and metadata.
    Column("data", Text, nullable=False),
    #: pending, done, failed
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("received_at", Double, nullable=False),
    #: When it may be taken (again): the end of a worker's lease, or of a retry's wait.
    Column("next_attempt_at", Double, nullable=False),
    Column("finished_at", Double, nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("channel", "message_id", name="uq_channel_inbox_delivery"),
    Index("ix_channel_inbox_due", "state", "next_attempt_at"),
    Index("ix_channel_inbox_received", "received_at"),
)
