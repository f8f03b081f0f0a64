"""Courses of treatment in the record: a patient's indication, the sessions planned and their interval, and the
treatment sessions (visits) held in it. Each write one durable transaction with its audit entry."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from mesogun.clinic.actors import Actor
from mesogun.clinic.courses import check_course
from mesogun.clinic.errors import NoSuchCourse
from mesogun.clinic.presets import find
from mesogun.i18n import N_
from mesogun.record import schema as t
from mesogun.record.audit import append_audit
from mesogun.record.basics import now
from mesogun.record.patients import patient_of
from mesogun.record.presets import clinic_presets
from mesogun.record.store import TreatmentRecord
from mesogun.record.writes import inserted_id
from mesogun.wording import Wording


@dataclass(frozen=True)
class Course:
    """A course of treatment and the sessions held in it so far."""

    id: int
    patient_id: int
    indication: str
    preset: str | None
    planned_sessions: int
    interval_days: int
    opened: str
    closed: str | None
    sessions: tuple[int, ...]
    """The treatment sessions (visit ids) held in it, oldest first."""


class CourseBook:
    """Opens, closes and reads courses in a :class:`TreatmentRecord`."""

    def __init__(self, record: TreatmentRecord) -> None:
        self.record = record

    def open(
        self,
        patient_id: int,
        *,
        actor: Actor,
        indication: str,
        planned_sessions: int,
        interval_days: int,
        preset: str | None = None,
    ) -> Course:
        """A new course for the patient; refused naming the field (``patient``, ``indication``,
        ``planned_sessions``, ``interval_days``, ``preset``) with nothing changed."""
        kept = check_course(indication, planned_sessions, interval_days)
        with self.record.transaction() as db:
            patient_of(db, patient_id)
            if preset is not None:
                find(preset, clinic_presets(db))
            values = {
                "patient_id": patient_id,
                "indication": kept,
                "preset": preset,
                "planned_sessions": planned_sessions,
                "interval_days": interval_days,
            }
            course_id = inserted_id(db.execute(insert(t.courses).values(**values, opened=now())))
            append_audit(db, actor=actor.name, action="course.open", entity="course", entity_id=course_id, new=values)
        return self.get(course_id)

    def close(self, course_id: int, *, actor: Actor, reason: str = "") -> Course:
        """Close an open course (no more sessions in it); :class:`NoSuchCourse` if there is no such open course."""
        c = t.courses.c
        with self.record.transaction() as db:
            course_of(db, course_id, open_only=True)
            closed = now()
            db.execute(update(t.courses).where(c.id == course_id).values(closed=closed))
            append_audit(
                db,
                actor=actor.name,
                action="course.close",
                entity="course",
                entity_id=course_id,
                reason=reason.strip(),
                old={"closed": None},
                new={"closed": closed},
            )
        return self.get(course_id)

    def get(self, course_id: int) -> Course:
        """One course; :class:`NoSuchCourse` (field ``course``) if none."""
        with self.record.reading() as db:
            return course_of(db, course_id)

    def of_patient(self, patient_id: int) -> list[Course]:
        """The patient's courses, oldest first (:class:`~mesogun.clinic.errors.NoSuchPatient` if no such patient)."""
        c = t.courses.c
        with self.record.reading() as db:
            patient_of(db, patient_id)
            ids = db.execute(select(c.id).where(c.patient_id == patient_id).order_by(c.id)).scalars().all()
            return [course_of(db, int(i)) for i in ids]


def course_of(db: Connection, course_id: int, *, open_only: bool = False, patient_id: int | None = None) -> Course:
    """The course of ``course_id`` read on ``db``; :class:`NoSuchCourse` (field ``course``) if there is none, or
    it is closed (``open_only``), or not the patient's (``patient_id``)."""
    c, v = t.courses.c, t.visits.c
    row = db.execute(
        select(
            c.id, c.patient_id, c.indication, c.preset, c.planned_sessions, c.interval_days, c.opened, c.closed
        ).where(c.id == course_id)
    ).first()
    if row is None:
        raise NoSuchCourse(
            Wording(N_("no course {course} in the treatment record"), course=course_id), field="course", value=course_id
        )
    if patient_id is not None and int(row[1]) != patient_id:
        raise NoSuchCourse(
            Wording(
                N_("course {course} is not patient {patient}'s (it is patient {owner}'s)"),
                course=course_id,
                patient=patient_id,
                owner=row[1],
            ),
            field="course",
            value=course_id,
        )
    if open_only and row[7] is not None:
        raise NoSuchCourse(
            Wording(N_("course {course} was closed on {closed}"), course=course_id, closed=row[7]),
            field="course",
            value=course_id,
        )
    sessions = tuple(
        int(i) for i in db.execute(select(v.id).where(v.course_id == course_id).order_by(v.opened, v.id)).scalars()
    )
    return Course(int(row[0]), int(row[1]), row[2], row[3], int(row[4]), int(row[5]), row[6], row[7], sessions)
