"""The record's schema when it moved to SQLAlchemy: every table, index and the ``all_shots`` view.

Tables and indexes are created only where absent, so a record made before migrations existed (the same schema,
written by the sqlite3 code) is taken as it is; revision 2 adds the columns an older one lacks. The tables are
declared here as they stood then (a revision never changes), not imported from :mod:`mesogun.record.schema`.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, MetaData, PrimaryKeyConstraint, Table, Text

from mesogun.record.dialects import create_all_shots_view

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Int = BigInteger().with_variant(Integer(), "sqlite")


def tables() -> MetaData:
    """The schema of revision 1."""
    md = MetaData()
    Table(
        "devices",
        md,
        Column("serial", Text, primary_key=True),
        Column("first_seen", Text, nullable=False),
        Column("baseline_lifetime", Int, nullable=False),
        Column("reconciled_to", Int, nullable=False),
        Column("epoch", Int, nullable=False, server_default="0"),
        Column("hardware_id", Text),
        Column("counter_epoch", Int),
    )
    Table(
        "visits",
        md,
        Column("id", Int, primary_key=True, autoincrement=True),
        Column("device_serial", Text, nullable=False),
        Column("opened", Text, nullable=False),
        Column("closed", Text),
        Column("opened_by", Text, nullable=False, server_default=""),
        Column("closed_by", Text),
        Column("note", Text, nullable=False, server_default=""),
    )
    Table(
        "sessions",
        md,
        Column("id", Int, primary_key=True, autoincrement=True),
        Column("device_serial", Text, nullable=False),
        Column("model", Text, nullable=False, server_default=""),
        Column("firmware_version", Text, nullable=False, server_default=""),
        Column("url", Text, nullable=False, server_default=""),
        Column("started", Text, nullable=False),
        Column("ended", Text),
        Column("kind", Text, nullable=False, server_default="treatment"),
        Column("hardware_id", Text),
        Column("counter_epoch", Int),
        Column("host_id", Int),
        Column("visit_id", Int, ForeignKey("visits.id")),
    )
    Table(
        "events",
        md,
        Column("id", Int, primary_key=True, autoincrement=True),
        Column("session_id", Int, ForeignKey("sessions.id"), nullable=False),
        Column("ts", Text, nullable=False),
        Column("direction", Text, nullable=False),
        Column("type", Text, nullable=False),
        Column("seq", Int, nullable=False),
        Column("body", Text, nullable=False),
        Index("events_by_session", "session_id"),
    )
    Table(
        "shots",
        md,
        Column("device_serial", Text, nullable=False),
        Column("epoch", Int, nullable=False),
        Column("shot_index", Int, nullable=False),
        Column("session_id", Int, ForeignKey("sessions.id"), nullable=False),
        Column("received", Int, nullable=False),
        Column("ts", Text, nullable=False),
        Column("fire_seq", Int),
        Column("depth_um", Int),
        Column("dose_nl", Int),
        Column("device_time_ms", Int),
        Column("recovered", Int, nullable=False, server_default="0"),
        Column("source", Text),
        Column("partial", Int),
        Column("delivered_nl", Int),
        Column("host_id", Int),
        Column("other_host", Int, nullable=False, server_default="0"),
        PrimaryKeyConstraint("device_serial", "epoch", "shot_index"),
        Index("shots_by_session", "session_id"),
    )
    Table(
        "unreceived",
        md,
        Column("device_serial", Text, nullable=False),
        Column("epoch", Int, nullable=False),
        Column("first", Int, nullable=False),
        Column("last", Int, nullable=False),
        Column("session_id", Int, ForeignKey("sessions.id"), nullable=False),
        Column("ts", Text, nullable=False),
        Column("beyond_log", Int, nullable=False, server_default="0"),
        PrimaryKeyConstraint("device_serial", "epoch", "first"),
        Index("unreceived_by_session", "session_id"),
    )
    for name, columns in (
        ("alarms_found", ("code", "priority")),
        ("notes", ("kind", "detail", "reason")),
        ("anomalies", ("kind", "detail")),
    ):
        Table(
            name,
            md,
            Column("id", Int, primary_key=True, autoincrement=True),
            Column("session_id", Int, ForeignKey("sessions.id"), nullable=False),
            Column("ts", Text, nullable=False),
            *(Column(column, Text, nullable=False) for column in columns),
            *((Column("device_time_ms", Int), Column("note", Text, nullable=False)) if name == "alarms_found" else ()),
        )
    return md


def upgrade() -> None:
    """Create what is absent (a record from before migrations keeps its tables and rows)."""
    bind = op.get_bind()
    tables().create_all(bind, checkfirst=True)
    op.execute(create_all_shots_view(bind.dialect.name))


def downgrade() -> None:
    """Drop the record (every table and the view)."""
    op.execute("DROP VIEW IF EXISTS all_shots")
    tables().drop_all(op.get_bind())
