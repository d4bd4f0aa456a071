"""Create the tracker store's tables: conversations and their append-only events.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the types in engine/stores/schema.py as of this revision.
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("pack", sa.String(200), nullable=False),
        sa.Column("sender_id", sa.Text(), nullable=False),
        sa.Column("started", sa.Double(), nullable=False),
        sa.Column("updated", sa.Double(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        sa.UniqueConstraint("pack", "sender_id", name="uq_conversations_pack_sender"),
    )
    op.create_index("ix_conversations_updated", "conversations", ["updated", "id"])
    op.create_index("ix_conversations_pack_updated", "conversations", ["pack", "updated", "id"])
    op.create_table(
        "events",
        sa.Column("conversation_id", _Id, nullable=False, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.Double(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", "seq", name="pk_events"),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name="fk_events_conversation", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("events")
    op.drop_index("ix_conversations_pack_updated", table_name="conversations")
    op.drop_index("ix_conversations_updated", table_name="conversations")
    op.drop_table("conversations")
