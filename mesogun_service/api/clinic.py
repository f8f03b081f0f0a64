"""``/patients``, ``/courses``, ``/lots``, ``/presets``, ``/zones``, ``/checklist``: what a treatment is prepared
with, on the service's one record (:mod:`mesogun.record`'s books, each write one transaction with its audit
entry; the clinic's rules in :mod:`mesogun.clinic`). An assistant or better may use them; erasing a patient's
identifying details needs an admin. Every record call runs in a worker thread, never on the guns' event loop."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request

from mesogun.clinic import lots as lot_rules
from mesogun.clinic import presets as preset_rules
from mesogun.clinic import zones as zone_rules
from mesogun.clinic.checklist import DEFAULT_ITEMS, ChecklistItem
from mesogun.clinic.errors import LotExpired
from mesogun.clinic.summary import SessionSummary
from mesogun.json_forms import plain
from mesogun.record import TreatmentRecord
from mesogun.record.courses import CourseBook
from mesogun.record.lots import LotBook, StoredLot
from mesogun.record.patients import PatientBook
from mesogun.record.presets import PresetBook
from mesogun.record.treatment import TreatmentBook
from mesogun_service.api.clinic_bodies import (
    CorrectionBody,
    CourseBody,
    ErasureBody,
    LotBody,
    PatientBody,
    PresetBody,
)
from mesogun_service.api.deps import Admin, Reader, Record, actor_of, assistant

router = APIRouter(tags=["clinic"], dependencies=[Depends(assistant)])


def checklist_items(request: Request) -> tuple[ChecklistItem, ...]:
    """The clinic's pre-treatment checklist (``app.state.checklist_items``; the default items unless set)."""
    items: tuple[ChecklistItem, ...] = getattr(request.app.state, "checklist_items", DEFAULT_ITEMS)
    return items


# ---------------------------------------------------------------------------------------------- patients


@router.post("/patients")
async def add_patient(request: Request, record: Record, body: PatientBody) -> Any:
    """A new patient: a pseudonymous id (given, or a random one) and identifying details kept in one table only."""
    actor = actor_of(request)
    values = body.model_dump()
    return plain(await record.call(lambda r: PatientBook(r).add(actor=actor, **values)))


@router.get("/patients")
async def list_patients(record: Record, pseudonym: str | None = None) -> Any:
    """Every patient, oldest first, without identifying details (``?pseudonym=``: that one's, or 404)."""
    if pseudonym is not None:
        return [plain(await record.call(lambda r: PatientBook(r).find(pseudonym)))]
    return plain(await record.call(lambda r: PatientBook(r).all()))


@router.get("/patients/{patient_id}")
async def show_patient(record: Record, reader: Reader, patient_id: int, identified: bool = False) -> Any:
    """One patient and their courses; ``?identified=true``: with the identifying details (unless erased), the read
    entered in the audit log first (who, this route, ``?reason=``), else nothing is shown."""

    def read(r: TreatmentRecord) -> dict[str, Any]:
        book = PatientBook(r)
        patient = (
            book.identified(patient_id, read_by=reader.read_by, via=reader.via, reason=reader.reason)
            if identified
            else book.get(patient_id)
        )
        return {**plain(patient), "courses": plain(CourseBook(r).of_patient(patient_id))}

    return await record.call(read)


@router.post("/patients/{patient_id}/correct")
async def correct_patient(request: Request, record: Record, patient_id: int, body: CorrectionBody) -> Any:
    """Correct identifying details, with a reason (the audit entry holds keyed digests, never the values)."""
    actor = actor_of(request)
    return plain(
        await record.call(
            lambda r: PatientBook(r).correct(patient_id, actor=actor, reason=body.reason, changes=body.changes)
        )
    )


@router.post("/patients/{patient_id}/erase")
async def erase_patient(request: Request, who: Admin, record: Record, patient_id: int, body: ErasureBody) -> Any:
    """Erase the patient's identifying details (right to erasure; admin only, with a reason): the pseudonymous
    record and the audit chain stay whole."""
    actor = actor_of(request)
    return plain(await record.call(lambda r: PatientBook(r).erase(patient_id, actor=actor, reason=body.reason)))


@router.get("/patients/{patient_id}/history")
async def patient_history(record: Record, reader: Reader, patient_id: int, identified: bool = False) -> Any:
    """The patient's treatment sessions, oldest first, each summarised (as ``GET /treatments/{id}/summary``; with
    ``?identified=true`` the read entered in the audit log first)."""

    def read(r: TreatmentRecord) -> list[SessionSummary]:
        book = TreatmentBook(r)
        if not identified:
            return book.history(patient_id)
        return book.identified_history(patient_id, read_by=reader.read_by, via=reader.via, reason=reader.reason)

    return plain(await record.call(read))


# ---------------------------------------------------------------------------------------------- courses


@router.post("/patients/{patient_id}/courses")
async def add_course(request: Request, record: Record, patient_id: int, body: CourseBody) -> Any:
    """Open a course of treatment for the patient: indication, sessions planned, their interval, its preset."""
    actor = actor_of(request)
    values = body.model_dump()
    return plain(await record.call(lambda r: CourseBook(r).open(patient_id, actor=actor, **values)))


@router.get("/patients/{patient_id}/courses")
async def list_courses(record: Record, patient_id: int) -> Any:
    """The patient's courses, oldest first, each with its sessions."""
    return plain(await record.call(lambda r: CourseBook(r).of_patient(patient_id)))


@router.get("/courses/{course_id}")
async def show_course(record: Record, course_id: int) -> Any:
    """One course with its sessions (visit ids)."""
    return plain(await record.call(lambda r: CourseBook(r).get(course_id)))


# ---------------------------------------------------------------------------------------------- lots


def lot_fields(lot: StoredLot, today: date) -> dict[str, Any]:
    """A lot with whether it may be used today: ``expired``, and a ``warning`` when it expires soon."""
    warning: str | None
    try:
        warning = lot_rules.check_usable(lot.as_lot(), today)
        expired = False
    except LotExpired as exc:
        warning, expired = str(exc), True
    return {**plain(lot), "expired": expired, "warning": warning}


@router.post("/lots")
async def add_lot(request: Request, record: Record, body: LotBody) -> Any:
    """Enter a product lot (the product too if new); an expired one may be entered, never used."""
    actor = actor_of(request)
    lot = await record.call(
        lambda r: LotBook(r).add(body.product, body.lot_number, body.expiry, actor=actor, description=body.description)
    )
    return lot_fields(lot, date.today())


@router.get("/lots")
async def list_lots(record: Record) -> Any:
    """Every lot, by product and expiry, each with ``expired`` and its near-expiry ``warning``."""
    today = date.today()
    return [lot_fields(lot, today) for lot in await record.call(lambda r: LotBook(r).all())]


# ---------------------------------------------------------------------------------------------- presets, zones


@router.get("/presets")
async def list_presets(record: Record) -> Any:
    """The built-in presets, then the clinic's, each with its soft limits (``builtin`` says which)."""
    clinic = await record.call(lambda r: PresetBook(r).all())
    return plain([*preset_rules.PRESETS.values(), *clinic])


@router.post("/presets")
async def add_preset(request: Request, record: Record, body: PresetBody) -> Any:
    """Define a clinic preset (a new name; its soft limits not below its own values)."""
    actor = actor_of(request)
    preset = preset_rules.define(**body.model_dump())
    return plain(await record.call(lambda r: PresetBook(r).define(preset, actor=actor)))


@router.get("/zones")
async def list_zones() -> Any:
    """The treatment zones: ``id`` (what a session names), ``label``, ``region``."""
    return zone_rules.listing()


@router.get("/checklist")
async def checklist(request: Request) -> Any:
    """The pre-treatment checklist: every item must be answered when a session starts."""
    return [{"id": item.id, "question": item.question} for item in checklist_items(request)]
