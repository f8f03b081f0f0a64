"""Columns a SQLite record written before them lacks, added with their defaults (what the sqlite3 code's
``_ADDED_COLUMNS`` did at every open): a record of any earlier schema keeps every row and reads as before.

A database created at revision 1 has them all already (nothing is done); PostgreSQL records never lacked them.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import inspect

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ADDED_COLUMNS = (
    ("sessions", "kind", "TEXT NOT NULL DEFAULT 'treatment'"),
    ("shots", "recovered", "INTEGER NOT NULL DEFAULT 0"),
    ("shots", "source", "TEXT"),
    ("shots", "partial", "INTEGER"),
    ("shots", "delivered_nl", "INTEGER"),
    ("unreceived", "beyond_log", "INTEGER NOT NULL DEFAULT 0"),
    ("sessions", "hardware_id", "TEXT"),
    ("sessions", "counter_epoch", "INTEGER"),
    ("devices", "hardware_id", "TEXT"),
    ("devices", "counter_epoch", "INTEGER"),
    ("sessions", "host_id", "INTEGER"),
    ("shots", "host_id", "INTEGER"),
    ("shots", "other_host", "INTEGER NOT NULL DEFAULT 0"),
    ("sessions", "visit_id", "INTEGER REFERENCES visits(id)"),
)
"""(table, column, SQLite declaration), in the order they were added to the record."""


def upgrade() -> None:
    """Add each missing column (SQLite's ``ALTER TABLE … ADD COLUMN`` keeps the rows, filling in the default)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    inspector = inspect(bind)
    present = {table: {c["name"] for c in inspector.get_columns(table)} for table in {t for t, _, _ in ADDED_COLUMNS}}
    for table, column, declaration in ADDED_COLUMNS:
        if column not in present[table]:
            op.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


def downgrade() -> None:
    """Nothing: revision 1's schema has these columns."""
