"""The treatment record's schema, declared once as SQLAlchemy Core tables (every backend: SQLite, PostgreSQL).

Integers are 64-bit everywhere (lifetime shot indices count on past the device's 2³² wrap): ``BIGINT`` on
PostgreSQL, ``INTEGER`` on SQLite (where an ``INTEGER`` primary key is the rowid, as in records made before
SQLAlchemy). Flags (``received``, ``recovered``…) stay integers 0/1, as the record has always stored them.
Timestamps are ISO 8601 text in UTC, so they sort as text on every backend. The ``all_shots`` view is in
:mod:`mesogun.record.dialects` (its DDL differs per dialect); changes to this module need a migration
(:mod:`mesogun.record.migrations`): a test compares the migrated database with these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

from mesogun.record.basics import BETWEEN_SESSIONS, TREATMENT

__all__ = ["BETWEEN_SESSIONS", "TREATMENT", "Int", "metadata"]

Int = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit integer: BIGINT on PostgreSQL, INTEGER on SQLite (64-bit there, and the rowid for a primary key)."""

metadata = MetaData()

devices = Table(
    "devices",
    metadata,
    Column("serial", Text, primary_key=True),
    Column("first_seen", Text, nullable=False),
    Column("baseline_lifetime", Int, nullable=False, comment="the device's lifetime counter when this epoch began"),
    Column("reconciled_to", Int, nullable=False, comment="every index up to this one is on record (received or not)"),
    Column("epoch", Int, nullable=False, server_default="0", comment="bumped when the device's counter was reset"),
    Column("hardware_id", Text, comment="the board this epoch was counted on (identity.hardware_id)"),
    Column("counter_epoch", Int, comment="the device's own id of this epoch (identity.counter_epoch)"),
)

visits = Table(
    "visits",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("device_serial", Text, nullable=False),
    Column("opened", Text, nullable=False),
    Column("closed", Text),
    Column("opened_by", Text, nullable=False, server_default=""),
    Column("closed_by", Text),
    Column("note", Text, nullable=False, server_default=""),
    # A treatment session's clinical side (NULL on a visit opened without a patient, and on older records):
    Column("patient_id", Int, ForeignKey("patients.id"), comment="the patient treated"),
    Column("course_id", Int, ForeignKey("courses.id"), comment="the course this session belongs to (NULL: none)"),
    Column("practitioner", Text, comment="who treats: a user of the service"),
    Column("preset", Text, comment="the preset by name (built in, or clinic_presets.name)"),
    Column("lot_id", Int, ForeignKey("lots.id"), comment="the product lot in use now (shots.lot_id: per shot)"),
    Column("syringe_brand", Text),
    Column("syringe_ul", Int, comment="the syringe's size, µL"),
    Column("needle_gauge", Int),
    Column("needle_length_um", Int),
    Column("needle_changed", Text, comment="when the needle in use was fitted (its shots count from then)"),
    Column("zone", Text, comment="the treatment zone in force now (mesogun.clinic.zones; shots.zone: per shot)"),
    Column("consent", Text, comment="how the patient's informed consent was given, e.g. 'signed form v3'"),
    Column("signed_off_by", Text, comment="the practitioner's signature: who"),
    Column("signed_off_at", Text, comment="… when"),
    Column("signed_off_meaning", Text, comment="… and what it means"),
    Index("visits_by_patient", "patient_id"),
    Index("visits_by_course", "course_id"),
    comment="a treatment session as a clinic means it: opened and closed explicitly",
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("device_serial", Text, nullable=False),
    Column("model", Text, nullable=False, server_default=""),
    Column("firmware_version", Text, nullable=False, server_default=""),
    Column("url", Text, nullable=False, server_default=""),
    Column("started", Text, nullable=False),
    Column("ended", Text),
    Column("kind", Text, nullable=False, server_default=TREATMENT, comment="'treatment' or 'between_sessions'"),
    Column("hardware_id", Text, comment="the board connected (identity.hardware_id; NULL: not reported)"),
    Column("counter_epoch", Int, comment="its lifetime counter's epoch id then (identity.counter_epoch)"),
    Column("host_id", Int, comment="the host id this host said hello with (NULL: not known)"),
    Column("visit_id", Int, ForeignKey("visits.id"), comment="the visit this connection belongs to (NULL: none)"),
    Column(
        "calibration",
        Text,
        comment="the device calibration id in force at the connect (identity.calibration_id; '0': factory or a "
        "device that reports none; NULL: a record of before)",
    ),
    Index("sessions_by_visit", "visit_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("session_id", Int, ForeignKey("sessions.id"), nullable=False),
    Column("ts", Text, nullable=False),
    Column("direction", Text, nullable=False, comment="'host' (command) or 'device' (reply or event)"),
    Column("type", Text, nullable=False),
    Column("seq", Int, nullable=False),
    Column("body", Text, nullable=False, comment="the message's JSON form"),
    Index("events_by_session", "session_id"),
)

shots = Table(
    "shots",
    metadata,
    Column("device_serial", Text, nullable=False),
    Column("epoch", Int, nullable=False, comment="the device's counter epoch: (serial, epoch, index) names one shot"),
    Column("shot_index", Int, nullable=False),
    Column("session_id", Int, ForeignKey("sessions.id"), nullable=False),
    Column("received", Int, nullable=False, comment="1: the shot event reached the host; 0: counted by the device"),
    Column("ts", Text, nullable=False),
    Column("fire_seq", Int),
    Column("depth_um", Int),
    Column("dose_nl", Int),
    Column("device_time_ms", Int),
    Column("recovered", Int, nullable=False, server_default="0", comment="1: read back from the device's shot log"),
    Column("source", Text, comment="trigger, pedal or remote (NULL: unreceived, or an old record)"),
    Column("partial", Int, comment="1: a stroke cut short by an alarm (a partial shot), 0 a whole one"),
    Column("delivered_nl", Int, comment="the device's estimate of what left: dose_nl for a whole shot"),
    Column("host_id", Int, comment="the host id the device stamped on it (0: no session; NULL: not known)"),
    Column("other_host", Int, nullable=False, server_default="0", comment="1: fired by another host's session"),
    Column("zone", Text, comment="the visit's treatment zone when the shot was written (NULL: none)"),
    Column("lot_id", Int, comment="the visit's product lot (lots.id) when the shot was written (NULL: none)"),
    Column(
        "calibration_id",
        Int,
        comment="the device calibration the device fired it with (0: factory or an older device; NULL: older record)",
    ),
    PrimaryKeyConstraint("device_serial", "epoch", "shot_index"),
    Index("shots_by_session", "session_id"),
)

unreceived = Table(
    "unreceived",
    metadata,
    Column("device_serial", Text, nullable=False),
    Column("epoch", Int, nullable=False),
    Column("first", Int, nullable=False),
    Column("last", Int, nullable=False),
    Column("session_id", Int, ForeignKey("sessions.id"), nullable=False),
    Column("ts", Text, nullable=False),
    Column("beyond_log", Int, nullable=False, server_default="0", comment="1: older than the device's log window"),
    PrimaryKeyConstraint("device_serial", "epoch", "first"),
    Index("unreceived_by_session", "session_id"),
    comment="shots first..last the device counted, whose events never arrived",
)

alarms_found = Table(
    "alarms_found",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("session_id", Int, ForeignKey("sessions.id"), nullable=False),
    Column("ts", Text, nullable=False, comment="host wall time (UTC) of the connect that found it"),
    Column("code", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("device_time_ms", Int, comment="when the device raised it, if it reports that"),
    Column("note", Text, nullable=False),
    Index("alarms_found_by_session", "session_id"),
    comment="alarms latched on the device at a connect, never seen raised",
)

notes = Table(
    "notes",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("session_id", Int, ForeignKey("sessions.id"), nullable=False),
    Column("ts", Text, nullable=False),
    Column("kind", Text, nullable=False, comment="e.g. 'soft_limit_override'"),
    Column("detail", Text, nullable=False, comment="what was done, naming the value and the limit"),
    Column("reason", Text, nullable=False, comment="why, in the operator's words"),
    Index("notes_by_session", "session_id"),
    comment="what the operator said: a soft-limit override and its reason",
)

anomalies = Table(
    "anomalies",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("session_id", Int, ForeignKey("sessions.id"), nullable=False),
    Column("ts", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("detail", Text, nullable=False),
    comment="what the record refused to believe (e.g. a counter jump)",
)

ALL_SHOTS_SELECT = """
WITH RECURSIVE expanded(device_serial, epoch, shot_index, last, session_id, ts) AS (
    SELECT device_serial, epoch, first, last, session_id, ts FROM unreceived
    UNION ALL
    SELECT device_serial, epoch, shot_index + 1, last, session_id, ts FROM expanded WHERE shot_index < last
)
SELECT device_serial, epoch, shot_index, session_id, received, ts, fire_seq, depth_um, dose_nl, device_time_ms
FROM shots
UNION ALL
SELECT device_serial, epoch, shot_index, session_id, 0, ts, NULL, NULL, NULL, NULL FROM expanded
"""
"""The ``all_shots`` view's query (standard SQL): every shot, received or not, one row each (ranges expanded)."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Int, primary_key=True, autoincrement=False, comment="the entry's place in the chain: 1, 2, 3…"),
    Column("ts", Text, nullable=False),
    Column("actor", Text, nullable=False, comment="who did it: a user of the service, local:<os user>, or a program"),
    Column("action", Text, nullable=False, comment="what was done, e.g. 'patient.add', 'session.sign_off'"),
    Column("entity", Text, nullable=False, comment="the kind of thing changed, e.g. 'patient'"),
    Column("entity_id", Text, nullable=False, comment="which one"),
    Column("reason", Text, nullable=False, server_default=""),
    Column("old_value", Text, comment="the values before, canonical JSON (NULL: created)"),
    Column("new_value", Text, comment="the values after, canonical JSON (NULL: removed)"),
    Column("prev_hash", Text, nullable=False, comment="the hash of entry seq-1 (64 zeros for the first)"),
    Column("hash", Text, nullable=False, comment="SHA-256 of this entry's fields and prev_hash"),
    comment="append-only: every change and privileged action, each chained to the one before (record verify)",
)

# -- the clinic's record (issue 14; docs/record.md): patients, courses, products and lots, a treatment session's
# checklist, adverse events, aftercare, notes and overrides, the clinic's presets. Identifying details of a patient
# are in patient_identities only; every other table names a patient by patients.id (pseudonymous).

patients = Table(
    "patients",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("pseudonym", Text, nullable=False, comment="how the record and its exports name the patient"),
    Column("created", Text, nullable=False),
    UniqueConstraint("pseudonym", name="patients_pseudonym"),
    comment="a patient, pseudonymous: identifying details are in patient_identities only",
)

patient_identities = Table(
    "patient_identities",
    metadata,
    Column("patient_id", Int, ForeignKey("patients.id"), primary_key=True, autoincrement=False),
    Column("name", Text),
    Column("birth_date", Text, comment="ISO date"),
    Column("contact", Text),
    Column("salt", Text, comment="the key of this patient's audit digests (hex; NULL once erased)"),
    Column("erased", Int, nullable=False, server_default="0", comment="1: the details were erased"),
    Column("erased_at", Text),
    comment="a patient's identifying details, the only place they are kept; erased on request",
)

courses = Table(
    "courses",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("patient_id", Int, ForeignKey("patients.id"), nullable=False),
    Column("indication", Text, nullable=False),
    Column("preset", Text, comment="the preset planned (NULL: chosen per session)"),
    Column("planned_sessions", Int, nullable=False),
    Column("interval_days", Int, nullable=False, comment="days between sessions"),
    Column("opened", Text, nullable=False),
    Column("closed", Text),
    Index("courses_by_patient", "patient_id"),
    comment="a course of treatments: an indication, sessions planned every so many days",
)

products = Table(
    "products",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, comment="a product or cocktail"),
    Column("description", Text, nullable=False, server_default=""),
    Column("added", Text, nullable=False),
    UniqueConstraint("name", name="products_name"),
)

lots = Table(
    "lots",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("product_id", Int, ForeignKey("products.id"), nullable=False),
    Column("lot_number", Text, nullable=False),
    Column("expiry", Text, nullable=False, comment="ISO date: usable through this day"),
    Column("added", Text, nullable=False),
    UniqueConstraint("product_id", "lot_number", name="lots_product_lot_number"),
    comment="a product's lot: its number and expiry (an expired lot is refused)",
)

checklist_answers = Table(
    "checklist_answers",
    metadata,
    Column("visit_id", Int, ForeignKey("visits.id"), nullable=False),
    Column("item", Text, nullable=False, comment="the item's id (mesogun.clinic.checklist)"),
    Column("position", Int, nullable=False, comment="its place on the checklist (1, 2, 3…)"),
    Column("question", Text, nullable=False, comment="the question as asked"),
    Column("present", Int, nullable=False, comment="1: the contraindication is present"),
    Column("note", Text, nullable=False, server_default=""),
    PrimaryKeyConstraint("visit_id", "item"),
    comment="the pre-treatment checklist of a treatment session, every item answered",
)

adverse_events = Table(
    "adverse_events",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("visit_id", Int, ForeignKey("visits.id"), nullable=False),
    Column("ts", Text, nullable=False),
    Column("kind", Text, nullable=False, comment="e.g. bruising, bleeding, pain, allergic reaction"),
    Column("severity", Text, nullable=False, comment="mild, moderate or severe"),
    Column("detail", Text, nullable=False, server_default=""),
    Column("reported_by", Text, nullable=False),
    Index("adverse_events_by_visit", "visit_id"),
)

aftercare = Table(
    "aftercare",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("visit_id", Int, ForeignKey("visits.id"), nullable=False),
    Column("ts", Text, nullable=False),
    Column("advice", Text, nullable=False, comment="one line of advice, as given"),
    Column("given_by", Text, nullable=False),
    Index("aftercare_by_visit", "visit_id"),
    comment="the aftercare advice given to the patient after a session",
)

visit_notes = Table(
    "visit_notes",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("visit_id", Int, ForeignKey("visits.id"), nullable=False),
    Column("ts", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("written_by", Text, nullable=False),
    Index("visit_notes_by_visit", "visit_id"),
    comment="the practitioner's notes during a treatment session",
)

overrides = Table(
    "overrides",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("visit_id", Int, ForeignKey("visits.id"), nullable=False),
    Column("ts", Text, nullable=False),
    Column("limit_name", Text, nullable=False, comment="e.g. preset.face.max_depth_mm, checklist.clotting"),
    Column("detail", Text, nullable=False, comment="the value and the limit in words"),
    Column("reason", Text, nullable=False),
    Column("overridden_by", Text, nullable=False),
    Index("overrides_by_visit", "visit_id"),
    comment="a soft limit or a contraindication gone past on purpose, with the reason (CLI overrides: notes)",
)

clinic_presets = Table(
    "clinic_presets",
    metadata,
    Column("name", Text, primary_key=True),
    Column("depth_um", Int, nullable=False),
    Column("dose_nl", Int, nullable=False),
    Column("rate_mhz", Int, nullable=False),
    Column("mode", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("max_depth_um", Int, comment="soft limit (NULL: none)"),
    Column("max_volume_per_zone_nl", Int, comment="soft limit per zone per session (NULL: none)"),
    Column("created", Text, nullable=False),
    comment="presets the clinic defined (the built-in ones are in mesogun.clinic.presets)",
)

# -- calibration (issue 16; docs/record.md): one row per technician's calibration run, passed, failed or aborted.

calibrations = Table(
    "calibrations",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("run_id", Text, nullable=False, comment="the run's own id (CalibrationRun.run_id)"),
    Column("device_serial", Text, nullable=False),
    Column("calibration_id", Int, comment="the device's calibration id after the run (NULL: nothing was written)"),
    Column("kind", Text, nullable=False, comment="volume, depth or rate"),
    Column("syringe_brand", Text, nullable=False, server_default="", comment="the brand calibrated (volume)"),
    Column("outcome", Text, nullable=False, comment="passed, failed or aborted"),
    Column("technician", Text, nullable=False),
    Column("started_at", Text, nullable=False, comment="ISO 8601, UTC"),
    Column("finished_at", Text, comment="ISO 8601, UTC (NULL: aborted before the end)"),
    Column("certificate_id", Text, nullable=False, server_default=""),
    Column("due_at", Text, comment="when the next calibration is due, ISO 8601 UTC (NULL: none)"),
    Column("run_json", Text, nullable=False, comment="the whole run (CalibrationRun.to_json())"),
    Column("certificate_pdf", LargeBinary, comment="the certificate as issued (NULL: none, e.g. an aborted run)"),
    Column("saved", Text, nullable=False),
    UniqueConstraint("run_id", name="calibrations_run_id"),
    Index("calibrations_by_device", "device_serial"),
    comment="technicians' calibration runs with their certificates (the device's constants are in its NVM)",
)
