"""Create the handoff desk's tables: tickets, their timelines, and the webhook outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the types in engine/stores/schema.py as of this revision.
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("pack", sa.String(200), nullable=False),
        sa.Column("sender_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("handoff_seq", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("agent", sa.String(200), nullable=True),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("claimed_at", sa.Double(), nullable=True),
        sa.Column("queue_claimed_at", sa.Double(), nullable=True),
        sa.Column("first_reply_at", sa.Double(), nullable=True),
        sa.Column("ended_at", sa.Double(), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("queued_at", sa.Double(), nullable=False),
        sa.Column("timed_out", sa.Boolean(), nullable=False),
        sa.Column("resolution", sa.String(200), nullable=True),
        sa.Column("handback", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.UniqueConstraint("pack", "sender_id", "handoff_seq", name="uq_tickets_conversation_request"),
    )
    op.create_index("ix_tickets_waiting", "tickets", ["status", "priority_rank", "queued_at"])
    op.create_index("ix_tickets_conversation", "tickets", ["pack", "sender_id", "status"])
    op.create_index("ix_tickets_created", "tickets", ["created_at", "id"])
    op.create_table(
        "ticket_entries",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", _Id, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_entries"),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_ticket_entries_ticket", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_ticket_entries_ticket", "ticket_entries", ["ticket_id", "id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("next_attempt_at", sa.Double(), nullable=False),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_ticket_entries_ticket", table_name="ticket_entries")
    op.drop_table("ticket_entries")
    op.drop_index("ix_tickets_created", table_name="tickets")
    op.drop_index("ix_tickets_conversation", table_name="tickets")
    op.drop_index("ix_tickets_waiting", table_name="tickets")
    op.drop_table("tickets")
