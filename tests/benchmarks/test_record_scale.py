"""The scale benchmark's record: built in the real schema, it reads as the program would have written it (visits
with their sessions and shots, shot indices per gun, a patient's course, the clinic's side of every session and its
audit trail, as the books write them); no timing is asserted."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import record_clinic, record_scale
from mesogun.clinic.actors import Actor
from mesogun.clinic.checklist import DEFAULT_ITEMS
from mesogun.clinic.needles import Needle
from mesogun.record import TreatmentRecord
from mesogun.record.audit_crosscheck import crosscheck
from mesogun.record.audit_verify import verify_chain
from mesogun.record.courses import CourseBook
from mesogun.record.lots import LotBook
from mesogun.record.patients import PatientBook
from mesogun.record.treatment import TreatmentBook
from mesogun.record.visits import VisitBook


def test_the_built_record_reads_as_visits_with_their_shots(tmp_path: Path) -> None:
    where = tmp_path / "big.sqlite"
    built = record_scale.build(where, shots=1005, visits=20)
    assert (built.shots, built.visits, built.events) == (1005, 20, 1005)
    with TreatmentRecord(where, create=False) as record:
        visits = VisitBook(record).all()
        assert [v.id for v in visits] == list(range(1, 21))
        assert sum(v.shots for v in visits) == 1005 and {v.shots for v in visits} == {50, 51}
        assert all(v.sessions == (v.id,) and v.shots_unreceived == 0 and v.closed for v in visits)
        summaries = record.sessions()
        assert len(summaries) == 20 and sum(s.shots_recorded for s in summaries) == 1005
        course = built.patients[0]
        assert len(course) == record_scale.VISITS_PER_PATIENT
        history = record_scale.current_history(record, course)
        assert [row[0] for row in history] == list(course) and all(row[1] in (50, 51) for row in history)
        serials = {v.device_serial for v in visits}
        assert len(serials) == record_scale.GUNS
        indices = record.rows("SELECT device_serial, MIN(shot_index), MAX(shot_index), COUNT(*) FROM shots GROUP BY 1")
        assert all(low == 1 and high == count for _, low, high, count in indices)  # one gun's lifetime, no gaps
        reconciled = dict(record.rows("SELECT serial, reconciled_to FROM devices"))
        assert reconciled == {serial: high for serial, _, high, _ in indices}


def test_every_built_session_summarises_as_a_signed_treatment_of_its_patients_course(tmp_path: Path) -> None:
    """The clinic's rows: each session of a bench patient's course (numbered 1-10 in it) with its zones (a third of
    the shots each), lot, checklist, aftercare and sign-off; the audit log holds one entry per change and verifies."""
    where = tmp_path / "big.sqlite"
    built = record_scale.build(where, shots=1005, visits=20)
    patients = len(built.patients)
    assert built.audit_entries == 2 + 2 * patients + 5 * built.visits
    with TreatmentRecord(where, create=False) as record:
        history = record_clinic.patient_history(record, 1)
        assert [s.visit_id for s in history] == list(built.patients[1])
        assert [s.session_number for s in history] == list(range(1, 11))
        assert {s.course_id for s in history} == {record_clinic.patient_id(1)} and history[-1].next_session is None
        first = history[0]
        assert first.patient.startswith("P-") and first.patient_name is None  # pseudonymous
        assert len(first.zones) == record_clinic.ZONES_PER_VISIT and sum(z.shots for z in first.zones) == first.shots
        assert {z.shots for z in first.zones} <= {16, 17} and first.preset in ("face", "scalp", "body")
        assert [lot.lot for lot in first.lots] == [record_clinic.LOT_NUMBER]
        assert [a.item for a in first.checklist] == [item.id for item in DEFAULT_ITEMS]
        assert not any(a.present for a in first.checklist) and len(first.aftercare) == 6
        assert first.signoff is not None and first.signoff.at == first.closed and first.consent
        identified = TreatmentBook(record).summary(first.visit_id, identified=True)
        assert identified.patient_name == "Bench Patient 1"
        report = verify_chain(record)
        assert report.intact and report.guarded and report.entries == built.audit_entries
        assert crosscheck(record) is None  # the clinical rows hold what the bulk-built audit log says


def test_the_built_audit_entries_are_those_the_books_write(tmp_path: Path) -> None:
    """The bulk build's audit trail of a patient's first session has the actions, entities and value fields that
    the books write for the same steps (so ``record verify`` checks what a clinic's record would hold)."""
    bulk = tmp_path / "bulk.sqlite"
    record_scale.build(bulk, shots=1005, visits=20)
    books = tmp_path / "books.sqlite"
    with TreatmentRecord(books) as record:
        actor = Actor.of(record_clinic.ACTOR, ["practitioner"])
        product, number, expiry = record_clinic.PRODUCT, record_clinic.LOT_NUMBER, record_clinic.LOT_EXPIRY
        lot = LotBook(record).add(product, number, expiry, actor=actor)
        patient = PatientBook(record).add(actor=actor, name="A B", birth_date="1970-01-01", contact="+44 20 0")
        course = CourseBook(record).open(
            patient.id, actor=actor, indication="face", planned_sessions=10, interval_days=10, preset="face"
        )
        book = TreatmentBook(record)
        visit = book.start(
            "BENCH-0001",
            actor=actor,
            patient_id=patient.id,
            lot_id=lot.id,
            zone="face.forehead",
            checklist=dict.fromkeys((item.id for item in DEFAULT_ITEMS), False),
            consent=record_clinic.CONSENT,
            course_id=course.id,
            syringe_brand="BD Plastipak",
            syringe_ml=10,
            needle=Needle(32, 4.0),
            today=record_scale.START.date(),  # the bench's clinic day: its lot is usable then
        ).treatment.visit_id
        book.change_zone(visit, "face.chin", actor=actor)
        book.change_zone(visit, "face.glabella", actor=actor)
        book.give_aftercare(visit, actor=actor)
        book.sign_off(visit, actor=actor)

    def trail(where: Path) -> list[tuple[str, str, str, list[str], list[str]]]:
        with TreatmentRecord(where, create=False) as record:
            rows = record.rows("SELECT actor, action, entity, old_value, new_value FROM audit_log ORDER BY seq LIMIT 9")
        return [
            (who, action, entity, sorted(json.loads(old or "{}")), sorted(json.loads(new or "{}")))
            for who, action, entity, old, new in rows
        ]

    assert trail(bulk) == trail(books)
