"""Calibration (issue 16): the technicians' calibration runs (``calibrations``: one row per run, passed, failed or
aborted, with the run as JSON and its certificate), and the device calibration each shot was fired with
(``shots.calibration_id``).

A record migrated forward keeps every row: its shots' ``calibration_id`` is NULL (fired before the device reported
one), and ``calibrations`` starts empty.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, Text, UniqueConstraint

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Int = BigInteger().with_variant(Integer(), "sqlite")


def upgrade() -> None:
    """Create ``calibrations`` and add the nullable ``shots.calibration_id`` (SQLite's ``ADD COLUMN`` keeps every
    row)."""
    op.create_table(
        "calibrations",
        Column("id", Int, primary_key=True, autoincrement=True),
        Column("run_id", Text, nullable=False),
        Column("device_serial", Text, nullable=False),
        Column("calibration_id", Int),
        Column("kind", Text, nullable=False),
        Column("syringe_brand", Text, nullable=False, server_default=""),
        Column("outcome", Text, nullable=False),
        Column("technician", Text, nullable=False),
        Column("started_at", Text, nullable=False),
        Column("finished_at", Text),
        Column("certificate_id", Text, nullable=False, server_default=""),
        Column("due_at", Text),
        Column("run_json", Text, nullable=False),
        Column("certificate_pdf", LargeBinary),
        Column("saved", Text, nullable=False),
        UniqueConstraint("run_id", name="calibrations_run_id"),
        Index("calibrations_by_device", "device_serial"),
    )
    op.add_column("shots", Column("calibration_id", Int))


def downgrade() -> None:
    """Drop them (the calibration history is lost: only for development)."""
    op.drop_column("shots", "calibration_id")
    op.drop_table("calibrations")
