"""``/visits`` and ``/record``: treatment sessions as visits (opened and closed explicitly), and the record's
queries. Every SQLite call runs in a worker thread, never on the event loop that serves the guns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from mesogun.json_forms import plain
from mesogun.record import TreatmentRecord, default_path
from mesogun.record.visits import NoSuchVisit, Visit, VisitBook
from mesogun_service.api.bodies import VisitBody
from mesogun_service.api.deps import Guns, Hosted
from mesogun_service.errors import NotConnected

router = APIRouter(tags=["record"])


def record_path(request: Request) -> Path:
    """The service's treatment record."""
    path: Path | None = request.app.state.config.record
    return path if path is not None else default_path()


def _visit_fields(visit: Visit) -> dict[str, Any]:
    fields: dict[str, Any] = plain(visit)
    return fields


def _user(request: Request) -> str:
    principal = getattr(request.state, "principal", None)
    return str(getattr(principal, "user", "") or "")


@router.post("/guns/{serial}/visits", tags=["visits"])
async def open_visit(request: Request, hosted: Hosted, body: VisitBody) -> dict[str, Any]:
    """Open a treatment session (a visit) on the gun: it holds every connection and command until closed."""
    serial = hosted.serial
    if serial is None:
        raise NotConnected(f"the gun at {hosted.url} has not been connected yet: its serial number is not known")
    path, user = record_path(request), _user(request)

    def open_() -> Visit:
        with TreatmentRecord(path) as record:
            return VisitBook(record).open(serial, opened_by=user, note=body.note)

    visit = await run_in_threadpool(open_)
    await hosted.recorder.set_visit(visit.id)
    return _visit_fields(visit)


@router.get("/guns/{serial}/visit", tags=["visits"])
async def current_visit(request: Request, hosted: Hosted) -> dict[str, Any]:
    """The visit open on the gun (404 if none)."""
    path, serial = record_path(request), hosted.serial or hosted.url

    def find() -> Visit | None:
        with TreatmentRecord(path) as record:
            return VisitBook(record).open_on(serial)

    visit = await run_in_threadpool(find)
    if visit is None:
        raise NoSuchVisit(f"gun {serial} has no open visit (open one with POST /guns/{serial}/visits)")
    return _visit_fields(visit)


@router.post("/visits/{visit_id}/close", tags=["visits"])
async def close_visit(request: Request, guns: Guns, visit_id: int) -> dict[str, Any]:
    """Close a visit: the gun's connection goes on, recorded outside any visit."""
    path, user = record_path(request), _user(request)

    def close() -> Visit:
        with TreatmentRecord(path) as record:
            return VisitBook(record).close(visit_id, closed_by=user)

    await run_in_threadpool(close)
    for hosted in guns:
        if hosted.recorder.visit_id == visit_id:
            await hosted.recorder.set_visit(None)
    return _visit_fields(await run_in_threadpool(_get_visit, path, visit_id))


def _get_visit(path: Path, visit_id: int) -> Visit:
    with TreatmentRecord(path) as record:
        return VisitBook(record).get(visit_id)


@router.get("/visits", tags=["visits"])
def list_visits(request: Request, serial: str | None = None) -> list[dict[str, Any]]:
    """Every visit on record (of one gun with ``?serial=``), oldest first."""
    with TreatmentRecord(record_path(request)) as record:
        return [_visit_fields(v) for v in VisitBook(record).all(serial)]


@router.get("/visits/{visit_id}", tags=["visits"])
def get_visit(request: Request, visit_id: int) -> dict[str, Any]:
    """One visit with its connections and shot totals."""
    return _visit_fields(_get_visit(record_path(request), visit_id))


@router.get("/record/sessions")
def sessions(request: Request) -> Any:
    """The record's sessions (connections), as ``mesogun record list --json``."""
    with TreatmentRecord(record_path(request)) as record:
        return plain(record.sessions())


@router.get("/record/sessions/{session_id}")
def session(request: Request, session_id: int) -> Any:
    """One session: summary, alarms, notes and every shot, as ``mesogun record show --json``."""
    with TreatmentRecord(record_path(request)) as record:
        return plain(
            {
                "session": record.session(session_id),
                "alarms": record.alarms(session_id),
                "shots": record.shots(session_id),
                "notes": record.notes(session_id),
            }
        )
