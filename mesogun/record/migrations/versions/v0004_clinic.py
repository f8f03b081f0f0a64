"""The clinic's record (issue 14): patients and their identities (kept apart), courses, products and lots, and a
treatment session's clinical side: its visit's patient, course, practitioner, preset, lot, syringe, needle, zone,
consent and sign-off; its checklist answers, adverse events, aftercare, notes and overrides; the clinic's
presets. Every shot carries the zone and lot in force when it was written, every connection the device
calibration in force (NULL until devices report one).

A record migrated forward keeps every row: the new columns are NULL on its visits, sessions and shots (a visit
of before was a device's, without a patient). The tables are declared here as they stand at this revision.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, PrimaryKeyConstraint, Text, UniqueConstraint

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Int = BigInteger().with_variant(Integer(), "sqlite")

VISIT_COLUMNS = (
    ("patient_id", Int, "patients.id"),
    ("course_id", Int, "courses.id"),
    ("practitioner", Text, None),
    ("preset", Text, None),
    ("lot_id", Int, "lots.id"),
    ("syringe_brand", Text, None),
    ("syringe_ul", Int, None),
    ("needle_gauge", Int, None),
    ("needle_length_um", Int, None),
    ("needle_changed", Text, None),
    ("zone", Text, None),
    ("consent", Text, None),
    ("signed_off_by", Text, None),
    ("signed_off_at", Text, None),
    ("signed_off_meaning", Text, None),
)
"""The visit's new columns (name, type, the table.column it refers to), all nullable."""


def upgrade() -> None:
    """Create the clinic's tables, then add the new nullable columns (SQLite's ``ADD COLUMN`` keeps every row)."""
    _create_tables()
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, kind, refers in VISIT_COLUMNS:
        if sqlite and refers:  # SQLite adds a column's key inline only (Alembic would ALTER a constraint)
            table, column = refers.split(".")
            op.execute(f"ALTER TABLE visits ADD COLUMN {name} INTEGER REFERENCES {table}({column})")
        else:
            op.add_column("visits", Column(name, kind, *([ForeignKey(refers)] if refers else [])))
    op.create_index("visits_by_patient", "visits", ["patient_id"])
    op.add_column("sessions", Column("calibration", Text))
    op.add_column("shots", Column("zone", Text))
    op.add_column("shots", Column("lot_id", Int))


def _create_tables() -> None:
    op.create_table(
        "patients",
        Column("id", Int, primary_key=True, autoincrement=True),
        Column("pseudonym", Text, nullable=False),
        Column("created", Text, nullable=False),
        UniqueConstraint("pseudonym", name="patients_pseudonym"),
    )
    op.create_table(
        "patient_identities",
        Column("patient_id", Int, ForeignKey("patients.id"), primary_key=True, autoincrement=False),
        Column("name", Text),
        Column("birth_date", Text),
        Column("contact", Text),
        Column("salt", Text),
        Column("erased", Int, nullable=False, server_default="0"),
        Column("erased_at", Text),
    )
    op.create_table(
        "courses",
        Column("id", Int, primary_key=True, autoincrement=True),
        Column("patient_id", Int, ForeignKey("patients.id"), nullable=False),
        Column("indication", Text, nullable=False),
        Column("preset", Text),
        Column("planned_sessions", Int, nullable=False),
        Column("interval_days", Int, nullable=False),
        Column("opened", Text, nullable=False),
        Column("closed", Text),
        Index("courses_by_patient", "patient_id"),
    )
    op.create_table(
        "products",
        Column("id", Int, primary_key=True, autoincrement=True),
        Column("name", Text, nullable=False),
        Column("description", Text, nullable=False, server_default=""),
        Column("added", Text, nullable=False),
        UniqueConstraint("name", name="products_name"),
    )
    op.create_table(
        "lots",
        Column("id", Int, primary_key=True, autoincrement=True),
        Column("product_id", Int, ForeignKey("products.id"), nullable=False),
        Column("lot_number", Text, nullable=False),
        Column("expiry", Text, nullable=False),
        Column("added", Text, nullable=False),
        UniqueConstraint("product_id", "lot_number", name="lots_product_lot_number"),
    )
    op.create_table(
        "checklist_answers",
        Column("visit_id", Int, ForeignKey("visits.id"), nullable=False),
        Column("item", Text, nullable=False),
        Column("position", Int, nullable=False),
        Column("question", Text, nullable=False),
        Column("present", Int, nullable=False),
        Column("note", Text, nullable=False, server_default=""),
        PrimaryKeyConstraint("visit_id", "item"),
    )
    op.create_table(
        "adverse_events",
        Column("id", Int, primary_key=True, autoincrement=True),
        Column("visit_id", Int, ForeignKey("visits.id"), nullable=False),
        Column("ts", Text, nullable=False),
        Column("kind", Text, nullable=False),
        Column("severity", Text, nullable=False),
        Column("detail", Text, nullable=False, server_default=""),
        Column("reported_by", Text, nullable=False),
        Index("adverse_events_by_visit", "visit_id"),
    )
    op.create_table(
        "aftercare",
        Column("id", Int, primary_key=True, autoincrement=True),
        Column("visit_id", Int, ForeignKey("visits.id"), nullable=False),
        Column("ts", Text, nullable=False),
        Column("advice", Text, nullable=False),
        Column("given_by", Text, nullable=False),
        Index("aftercare_by_visit", "visit_id"),
    )
    op.create_table(
        "visit_notes",
        Column("id", Int, primary_key=True, autoincrement=True),
        Column("visit_id", Int, ForeignKey("visits.id"), nullable=False),
        Column("ts", Text, nullable=False),
        Column("text", Text, nullable=False),
        Column("written_by", Text, nullable=False),
        Index("visit_notes_by_visit", "visit_id"),
    )
    op.create_table(
        "overrides",
        Column("id", Int, primary_key=True, autoincrement=True),
        Column("visit_id", Int, ForeignKey("visits.id"), nullable=False),
        Column("ts", Text, nullable=False),
        Column("limit_name", Text, nullable=False),
        Column("detail", Text, nullable=False),
        Column("reason", Text, nullable=False),
        Column("overridden_by", Text, nullable=False),
        Index("overrides_by_visit", "visit_id"),
    )
    op.create_table(
        "clinic_presets",
        Column("name", Text, primary_key=True),
        Column("depth_um", Int, nullable=False),
        Column("dose_nl", Int, nullable=False),
        Column("rate_mhz", Int, nullable=False),
        Column("mode", Text, nullable=False),
        Column("description", Text, nullable=False, server_default=""),
        Column("max_depth_um", Int),
        Column("max_volume_per_zone_nl", Int),
        Column("created", Text, nullable=False),
    )


def downgrade() -> None:
    """Drop them (the clinic's record is lost: only for development)."""
    op.drop_column("shots", "lot_id")
    op.drop_column("shots", "zone")
    op.drop_column("sessions", "calibration")
    op.drop_index("visits_by_patient", "visits")
    for name, _, _ in reversed(VISIT_COLUMNS):
        op.drop_column("visits", name)
    for table in (
        "clinic_presets",
        "overrides",
        "visit_notes",
        "aftercare",
        "adverse_events",
        "checklist_answers",
        "lots",
        "products",
        "courses",
        "patient_identities",
        "patients",
    ):
        op.drop_table(table)
