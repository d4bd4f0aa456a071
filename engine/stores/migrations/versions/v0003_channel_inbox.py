"""Create the messenger connectors' inbox: every platform delivery, recorded before it is answered.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the types in engine/stores/schema.py as of this revision.
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "channel_inbox",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("pack", sa.String(200), nullable=False),
        sa.Column("sender_id", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.Double(), nullable=False),
        sa.Column("next_attempt_at", sa.Double(), nullable=False),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_channel_inbox"),
        sa.UniqueConstraint("channel", "message_id", name="uq_channel_inbox_delivery"),
    )
    op.create_index("ix_channel_inbox_due", "channel_inbox", ["state", "next_attempt_at"])
    op.create_index("ix_channel_inbox_received", "channel_inbox", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_channel_inbox_received", table_name="channel_inbox")
    op.drop_index("ix_channel_inbox_due", table_name="channel_inbox")
    op.drop_table("channel_inbox")
