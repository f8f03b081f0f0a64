"""Support for the clinic's record tests: a record with a patient, a course and a lot; everything it holds (to
show that a refusal changed nothing); the audit chain recomputed."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

from firmware_protocol import make
from mesogun.clinic.actors import PRACTITIONER, Actor
from mesogun.clinic.checklist import DEFAULT_ITEMS, AnswerGiven
from mesogun.record import TreatmentRecord
from mesogun.record.audit import GENESIS, entry_hash
from mesogun.record.courses import CourseBook
from mesogun.record.lots import LotBook
from mesogun.record.patients import PatientBook
from mesogun.record.schema import metadata
from mesogun.record.treatment import TreatmentBook

TODAY = date(2026, 3, 10)
DR = Actor.of("dr.lee", [PRACTITIONER])
ASSISTANT = Actor.of("sam", ["assistant"])
ALL_CLEAR: dict[str, AnswerGiven] = {item.id: False for item in DEFAULT_ITEMS}


_clinics = itertools.count(1)


@dataclass(frozen=True)
class Clinic:
    """One patient (``pseudonym``, named Ada Byron), a course of theirs, a lot (``lot_number``, expiring 2026-12-31)
    and guns of their own (``serial``, ``serial2``) in a record other tests may share."""

    record: TreatmentRecord
    patient: int
    course: int
    lot: int
    pseudonym: str
    lot_number: str
    serial: str
    serial2: str

    @property
    def treatment(self) -> TreatmentBook:
        return TreatmentBook(self.record)

    def start(self, serial: str | None = None, **overrides: Any) -> int:
        """A treatment session started on ``serial`` (default: this clinic's gun) in face.forehead with preset
        face; its visit id."""
        values: dict[str, Any] = {
            "actor": DR,
            "patient_id": self.patient,
            "course_id": self.course,
            "lot_id": self.lot,
            "zone": "face.forehead",
            "checklist": ALL_CLEAR,
            "consent": "signed form v3",
            "preset": "face",
            "today": TODAY,
            **overrides,
        }
        return self.treatment.start(serial or self.serial, **values).treatment.visit_id


def clinic(record: TreatmentRecord) -> Clinic:
    """A new patient, course, lot and guns, named apart from every other clinic's in the record."""
    n = next(_clinics)
    pseudonym, lot_number = f"P-{n:04d}", f"L2403-{n}"
    patient = PatientBook(record).add(actor=DR, pseudonym=pseudonym, name="Ada Byron", birth_date="1985-12-10")
    course = CourseBook(record).open(
        patient.id, actor=DR, indication="skin rejuvenation", planned_sessions=4, interval_days=14, preset="face"
    )
    lot = LotBook(record).add("NCTF 135 HA", lot_number, "2026-12-31", actor=DR)
    return Clinic(record, patient.id, course.id, lot.id, pseudonym, lot_number, f"SN{n}A", f"SN{n}B")


def fire(
    record: TreatmentRecord, session: int, first: int, count: int, *, depth_um: int = 1500, dose_nl: int = 20_000
) -> None:
    """Enter ``count`` shots (indices from ``first``) in connection ``session``, as the device reports them."""
    for index in range(first, first + count):
        shot = make(
            "shot", seq=index, shot_index=index, fire_seq=1, dose_nl=dose_nl, depth_um=depth_um, device_time_ms=index
        )
        record.log_message(session, "device", shot)


def connect(record: TreatmentRecord, serial: str, visit_id: int | None) -> int:
    """A connection (record session) of ``serial`` in the visit, its counter at 0."""
    session = record.start_session(serial, visit_id=visit_id)
    record.reconcile(session, 0, at_connect=True)
    return session


def everything(record: TreatmentRecord) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted (what a refusal must leave as it was)."""
    return {
        name: sorted((tuple(row) for row in record.rows(table.select())), key=repr)
        for name, table in metadata.tables.items()
    }


def chain_verifies(record: TreatmentRecord) -> bool:
    """Whether the audit log's hash chain is whole (each entry's hash recomputed, each linked to the one before)."""
    rows = record.rows(
        "SELECT seq, ts, actor, action, entity, entity_id, reason, old_value, new_value, prev_hash, hash "
        "FROM audit_log ORDER BY seq"
    )
    previous = GENESIS
    for n, row in enumerate(rows, start=1):
        seq, ts, actor, action, entity, entity_id, reason, old, new, prev_hash, digest = row
        fields = {"seq": seq, "ts": ts, "actor": actor, "action": action, "entity": entity, "entity_id": entity_id}
        recomputed = entry_hash(**fields, reason=reason, old_value=old, new_value=new, prev_hash=prev_hash)
        if seq != n or prev_hash != previous or recomputed != digest:
            return False
        previous = digest
    return True


def last_audit(record: TreatmentRecord) -> tuple[str, str, str, str | None, str | None, str]:
    """The newest audit entry's action, entity, entity id, old and new values (JSON) and reason."""
    return tuple(
        record.rows(
            "SELECT action, entity, entity_id, old_value, new_value, reason FROM audit_log ORDER BY seq DESC LIMIT 1"
        )[0]
    )


def audit(record: TreatmentRecord) -> list[tuple[str, str, str]]:
    """The audit log's (action, entity, entity id), in order."""
    return [tuple(r) for r in record.rows("SELECT action, entity, entity_id FROM audit_log ORDER BY seq")]
