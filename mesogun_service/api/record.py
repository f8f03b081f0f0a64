"""``/visits`` and ``/record``: treatment sessions as visits (opened and closed explicitly), and the record's
queries. Every SQLite call runs in a worker thread, never on the event loop that serves the guns."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from mesogun.json_forms import plain
from mesogun.record import TreatmentRecord
from mesogun.record.visits import NoSuchVisit, Visit, VisitBook
from mesogun_service.api.bodies import VisitBody
from mesogun_service.api.calibration import calibration_warning, with_warning
from mesogun_service.api.deps import Guns, Hosted, Record
from mesogun_service.errors import NotConnected

router = APIRouter(tags=["record"])


def _visit_fields(visit: Visit) -> dict[str, Any]:
    fields: dict[str, Any] = plain(visit)
    return fields


def _user(request: Request) -> str:
    principal = getattr(request.state, "principal", None)
    return str(getattr(principal, "user", "") or "")


@router.post("/guns/{serial}/visits", tags=["visits"])
async def open_visit(request: Request, hosted: Hosted, record: Record, body: VisitBody) -> dict[str, Any]:
    """Open a treatment session (a visit) on the gun: it holds every connection and command until closed.
    ``warnings``: the gun's calibration overdue or never done (a warning, never a refusal)."""
    serial = hosted.serial
    if serial is None:
        raise NotConnected(f"the gun at {hosted.url} has not been connected yet: its serial number is not known")
    user = _user(request)

    def open_one(r: TreatmentRecord) -> tuple[Visit, str | None]:
        return VisitBook(r).open(serial, opened_by=user, note=body.note), calibration_warning(r, serial)

    visit, overdue = await record.call(open_one)
    await hosted.recorder.set_visit(visit.id)
    return with_warning(_visit_fields(visit), overdue)


@router.get("/guns/{serial}/visit", tags=["visits"])
async def current_visit(hosted: Hosted, record: Record) -> dict[str, Any]:
    """The visit open on the gun (404 if none)."""
    serial = hosted.serial or hosted.url
    visit = await record.call(lambda r: VisitBook(r).open_on(serial))
    if visit is None:
        raise NoSuchVisit(f"gun {serial} has no open visit (open one with POST /guns/{serial}/visits)")
    return _visit_fields(visit)


@router.post("/visits/{visit_id}/close", tags=["visits"])
async def close_visit(request: Request, guns: Guns, record: Record, visit_id: int) -> dict[str, Any]:
    """Close a visit: the gun's connection goes on, recorded outside any visit."""
    user = _user(request)
    await record.call(lambda r: VisitBook(r).close(visit_id, closed_by=user))
    for hosted in guns:
        if hosted.recorder.visit_id == visit_id:
            await hosted.recorder.set_visit(None)
    return _visit_fields(await record.call(lambda r: VisitBook(r).get(visit_id)))


@router.get("/visits", tags=["visits"])
async def list_visits(record: Record, serial: str | None = None) -> list[dict[str, Any]]:
    """Every visit on record (of one gun with ``?serial=``), oldest first."""
    return [_visit_fields(v) for v in await record.call(lambda r: VisitBook(r).all(serial))]


@router.get("/visits/{visit_id}", tags=["visits"])
async def get_visit(record: Record, visit_id: int) -> dict[str, Any]:
    """One visit with its connections and shot totals."""
    return _visit_fields(await record.call(lambda r: VisitBook(r).get(visit_id)))


@router.get("/record/sessions")
async def sessions(record: Record) -> Any:
    """The record's sessions (connections), as ``mesogun record list --json``."""
    return plain(await record.call(lambda r: r.sessions()))


def _session(record: TreatmentRecord, session_id: int) -> dict[str, Any]:
    return {
        "session": record.session(session_id),
        "alarms": record.alarms(session_id),
        "shots": record.shots(session_id),
        "notes": record.notes(session_id),
    }


@router.get("/record/sessions/{session_id}")
async def session(record: Record, session_id: int) -> Any:
    """One session: summary, alarms, notes and every shot, as ``mesogun record show --json``."""
    return plain(await record.call(lambda r: _session(r, session_id)))
