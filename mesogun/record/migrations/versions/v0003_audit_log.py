"""The audit log: an append-only, hash-chained table of every change and privileged action.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, Integer, Text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Int = BigInteger().with_variant(Integer(), "sqlite")


def upgrade() -> None:
    """Create ``audit_log`` (empty: a record migrated forward starts its chain at the migration)."""
    op.create_table(
        "audit_log",
        Column("seq", Int, primary_key=True, autoincrement=False),
        Column("ts", Text, nullable=False),
        Column("actor", Text, nullable=False),
        Column("action", Text, nullable=False),
        Column("entity", Text, nullable=False),
        Column("entity_id", Text, nullable=False),
        Column("reason", Text, nullable=False, server_default=""),
        Column("old_value", Text),
        Column("new_value", Text),
        Column("prev_hash", Text, nullable=False),
        Column("hash", Text, nullable=False),
    )


def downgrade() -> None:
    """Drop it (the chain is lost: only for development)."""
    op.drop_table("audit_log")
