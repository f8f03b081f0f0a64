"""``/guns/{serial}/treatments`` and ``/treatments``: a treatment session (a visit with its patient, course, lot,
preset, zone, syringe, needle and checklist) started on a gun, whose recorder then writes every connection and
shot into it (each shot with the zone and lot in force); its zone, lot and needle changed, notes, adverse events
and aftercare entered, the practitioner's sign-off (which closes it), its summary. The clinic's rules and the
record's books decide (:class:`~mesogun.record.treatment.TreatmentBook`): an assistant may read and enter notes,
only a practitioner starts or signs off (refused 403 naming the role, nothing changed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request

from mesogun.clinic.checklist import AnswerGiven
from mesogun.clinic.errors import ClinicError
from mesogun.clinic.needles import Needle
from mesogun.clinic.summary import SessionSummary, Voided
from mesogun.i18n import N_
from mesogun.json_forms import plain
from mesogun.record import TreatmentRecord
from mesogun.record.lots import LotBook
from mesogun.record.patients import PatientBook
from mesogun.record.treatment import Started, Treatment, TreatmentBook
from mesogun.record.visits import NoSuchVisit, VisitBook
from mesogun.wording import Wording
from mesogun_service.api.calibration import calibration_warning
from mesogun_service.api.clinic import checklist_items
from mesogun_service.api.clinic_bodies import (
    AdverseEventBody,
    AftercareBody,
    ChecklistAnswerBody,
    LotChangeBody,
    NeedleBody,
    SignOffBody,
    TextBody,
    TreatmentBody,
    VoidBody,
    ZoneBody,
)
from mesogun_service.api.deps import (
    Guns,
    Hosted,
    IdentifiedRead,
    Limits,
    Reader,
    Record,
    actor_of,
    assistant,
)
from mesogun_service.errors import NotConnected
from mesogun_service.registry import GunRegistry

router = APIRouter(tags=["treatments"], dependencies=[Depends(assistant)])


def treatment_fields(
    treatment: Treatment,
    warnings: tuple[str, ...] = (),
    reminder: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Any:
    """A treatment session as the API sends it: the record's columns, ``open``, near-expiry ``warnings`` and the
    needle change ``reminder``; ``names`` (the patient's ``pseudonym``, the ``lot_number``) where a person reads
    the reply."""
    fields = {**plain(treatment), "open": treatment.is_open, "warnings": list(warnings), "needle_reminder": reminder}
    return fields | dict(names or {})


def _names(r: TreatmentRecord, treatment: Treatment) -> dict[str, str]:
    """The patient's pseudonym and the lot's number of a session, as people name them."""
    names = {"pseudonym": PatientBook(r).get(treatment.patient_id).pseudonym}
    if treatment.lot_id is not None:
        names["lot_number"] = LotBook(r).get(treatment.lot_id).lot_number
    return names


def _answers(checklist: Mapping[str, bool | ChecklistAnswerBody]) -> dict[str, AnswerGiven]:
    return {
        item: answer if isinstance(answer, bool) else (answer.present, answer.note)
        for item, answer in checklist.items()
    }


def _needle(gauge: int | None, length_mm: float | None) -> Needle | None:
    if gauge is None and length_mm is None:
        return None
    if gauge is None or length_mm is None:
        missing = "needle_gauge" if gauge is None else "needle_length_mm"
        raise ClinicError(
            Wording(N_("a needle needs both needle_gauge and needle_length_mm: {field} is missing"), field=missing),
            field=missing,
        )
    return Needle(gauge, length_mm)


async def _follow(guns: GunRegistry, visit_id: int, soft_of: Mapping[str, Any]) -> None:
    """The soft limits of the gun the session is on read it again (its zone, or its end)."""
    for hosted in guns:
        if hosted.recorder.visit_id == visit_id:
            await soft_of[hosted.url].reload()


@router.post("/guns/{serial}/treatments")
async def start(request: Request, hosted: Hosted, soft: Limits, record: Record, body: TreatmentBody) -> Any:
    """Start a treatment session on the gun (a practitioner): the patient (and course), how their informed consent
    was given, the lot (not expired), the preset (default: the course's), the zone and every checklist item
    answered (a contraindication present only with ``override_reason``). The gun's connection is recorded in it
    from now on. ``warnings``: a lot near its expiry, and the gun's calibration overdue or never done (a warning,
    never a refusal)."""
    serial = hosted.serial
    if serial is None:
        raise NotConnected(
            Wording(N_("the gun at {url} has not been connected yet: its serial number is not known"), url=hosted.url)
        )
    actor = actor_of(request)
    items = checklist_items(request)
    needle = _needle(body.needle_gauge, body.needle_length_mm)
    answers = _answers(body.checklist)

    def begin(r: TreatmentRecord) -> tuple[Started, dict[str, str], str | None]:
        started = TreatmentBook(r, checklist_items=items).start(
            serial,
            actor=actor,
            patient_id=body.patient_id,
            course_id=body.course_id,
            lot_id=body.lot_id,
            zone=body.zone,
            checklist=answers,
            consent=body.consent,
            preset=body.preset,
            override_reason=body.override_reason,
            syringe_brand=body.syringe_brand,
            syringe_ml=body.syringe_ml,
            needle=needle,
            note=body.note,
        )
        return started, _names(r, started.treatment), calibration_warning(r, serial)

    started, names, overdue = await record.call(begin)
    await hosted.recorder.set_visit(started.treatment.visit_id)
    await soft.reload()
    warnings = (*started.warnings, *([overdue] if overdue else []))
    return treatment_fields(started.treatment, warnings, names=names)


@router.get("/guns/{serial}/treatment")
async def current(hosted: Hosted, record: Record) -> Any:
    """The treatment session open on the gun (404 if none)."""
    serial = hosted.serial or hosted.url

    def read(r: TreatmentRecord) -> Any:
        visit = VisitBook(r).open_on(serial)
        if visit is None:
            raise NoSuchVisit(
                Wording(
                    N_("gun {serial} has no open treatment session (start one: POST /guns/{serial}/treatments)"),
                    serial=serial,
                )
            )
        return _read(r, visit.id)

    return await record.call(read)


def _read(r: TreatmentRecord, visit_id: int) -> Any:
    book = TreatmentBook(r)
    treatment = book.get(visit_id)
    return treatment_fields(treatment, reminder=book.needle_reminder(visit_id) if treatment.is_open else None)


@router.get("/treatments/{visit_id}")
async def show(record: Record, visit_id: int) -> Any:
    """One treatment session's clinical side, with the needle change reminder while it is open."""
    return await record.call(lambda r: _read(r, visit_id))


@router.post("/treatments/{visit_id}/zone")
async def change_zone(request: Request, guns: Guns, record: Record, visit_id: int, body: ZoneBody) -> Any:
    """The zone the next shots are given in (each shot carries the zone in force when it is written)."""
    actor = actor_of(request)
    treatment = await record.call(lambda r: TreatmentBook(r).change_zone(visit_id, body.zone, actor=actor))
    await _follow(guns, visit_id, request.app.state.soft_limits)
    return treatment_fields(treatment)


@router.post("/treatments/{visit_id}/lot")
async def change_lot(request: Request, record: Record, visit_id: int, body: LotChangeBody) -> Any:
    """Another product lot for the next shots (not expired; a near-expiry one warns)."""
    actor = actor_of(request)

    def change(r: TreatmentRecord) -> tuple[Started, dict[str, str]]:
        started = TreatmentBook(r).change_lot(visit_id, body.lot_id, actor=actor)
        return started, _names(r, started.treatment)

    started, names = await record.call(change)
    return treatment_fields(started.treatment, started.warnings, names=names)


@router.post("/treatments/{visit_id}/needle")
async def change_needle(request: Request, record: Record, visit_id: int, body: NeedleBody) -> Any:
    """A new needle fitted now (the change reminder counts from here)."""
    actor = actor_of(request)
    needle = Needle(body.gauge, body.length_mm)
    return treatment_fields(await record.call(lambda r: TreatmentBook(r).change_needle(visit_id, needle, actor=actor)))


@router.post("/treatments/{visit_id}/notes")
async def note(request: Request, record: Record, visit_id: int, body: TextBody) -> dict[str, Any]:
    """A note in the session (after its close too: a new entry)."""
    actor = actor_of(request)
    await record.call(lambda r: TreatmentBook(r).note(visit_id, body.text, actor=actor))
    return {}


@router.post("/treatments/{visit_id}/adverse-events")
async def adverse_event(request: Request, record: Record, visit_id: int, body: AdverseEventBody) -> dict[str, Any]:
    """Something that went wrong for the patient (severity mild, moderate or severe)."""
    actor = actor_of(request)
    await record.call(
        lambda r: TreatmentBook(r).adverse_event(
            visit_id, kind=body.kind, severity=body.severity, detail=body.detail, actor=actor
        )
    )
    return {}


@router.post("/treatments/{visit_id}/aftercare")
async def aftercare(request: Request, record: Record, visit_id: int, body: AftercareBody) -> dict[str, Any]:
    """The aftercare advice given (default: the standard lines); the lines kept."""
    actor = actor_of(request)
    kept = await record.call(lambda r: TreatmentBook(r).give_aftercare(visit_id, body.lines, actor=actor))
    return {"aftercare": list(kept)}


@router.post("/treatments/{visit_id}/sign-off")
async def sign_off(request: Request, guns: Guns, record: Record, visit_id: int, body: SignOffBody) -> Any:
    """The practitioner's signature (name, time, meaning), closing the session; the gun's connection goes on
    outside any visit. Refused (403) for a user without the practitioner role."""
    actor = actor_of(request)
    meaning = {"meaning": body.meaning} if body.meaning is not None else {}
    treatment = await record.call(lambda r: TreatmentBook(r).sign_off(visit_id, actor=actor, **meaning))
    await _leave(guns, visit_id, request.app.state.soft_limits)
    return treatment_fields(treatment)


async def _leave(guns: GunRegistry, visit_id: int, soft_of: Mapping[str, Any]) -> None:
    """The gun the session was on goes on outside it (signed off or voided), its soft limits read again."""
    for hosted in guns:
        if hosted.recorder.visit_id == visit_id:
            await hosted.recorder.set_visit(None)
            await soft_of[hosted.url].reload()


@router.post("/treatments/{visit_id}/void")
async def void(request: Request, guns: Guns, record: Record, visit_id: int, body: VoidBody) -> Any:
    """Mark a session opened by mistake (the wrong patient) void, with a reason: a correction, nothing deleted;
    an open one is closed (not signed off) and its gun goes on outside it. A practitioner; once signed off, an
    admin (403 otherwise)."""
    actor = actor_of(request)

    def mark(r: TreatmentRecord) -> tuple[Treatment, Voided | None]:
        book = TreatmentBook(r)
        return book.void(visit_id, actor=actor, reason=body.reason), book.voided(visit_id)

    treatment, voided = await record.call(mark)
    await _leave(guns, visit_id, request.app.state.soft_limits)
    return treatment_fields(treatment) | {"void": plain(voided)}


@router.get("/treatments/{visit_id}/summary")
async def summary(record: Record, reader: Reader, visit_id: int, identified: bool = False) -> Any:
    """The session summarised: shots and volume per zone, depth, lots, practitioner, checklist, overrides,
    alarms, adverse events, aftercare, sign-off; pseudonymous unless ``?identified=true`` (then the read is entered
    in the audit log first: who, this route, ``?reason=``)."""
    return plain(await record.call(lambda r: read_summary(r, visit_id, reader if identified else None)))


def read_summary(r: TreatmentRecord, visit_id: int, reader: IdentifiedRead | None) -> SessionSummary:
    """The session's summary: pseudonymous without a ``reader``, else with the patient's name and the read entered
    in the audit log in the same transaction (:meth:`TreatmentBook.identified_summary`)."""
    book = TreatmentBook(r)
    if reader is None:
        return book.summary(visit_id)
    return book.identified_summary(visit_id, read_by=reader.read_by, via=reader.via, reason=reader.reason)
