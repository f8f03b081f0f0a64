"""Support for the clinical workflow's API tests: a patient, a course, a lot and a clinic preset entered through the
service; a treatment session started on its gun; what the record's clinical tables and audit log hold (to show a
refusal changed nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesogun.clinic.checklist import DEFAULT_ITEMS
from mesogun.record import TreatmentRecord
from mesogun.record import schema as t
from tests.mesogun_service.conftest import Running

ALL_CLEAR = {item.id: False for item in DEFAULT_ITEMS}
"""Every checklist item answered: not present."""

CLINICAL = (
    t.patients,
    t.patient_identities,
    t.courses,
    t.products,
    t.lots,
    t.visits,
    t.checklist_answers,
    t.adverse_events,
    t.aftercare,
    t.visit_notes,
    t.overrides,
    t.clinic_presets,
    t.notes,
    t.audit_log,
)
"""What the workflow writes (not the guns' own sessions and events, which the gun's recorder commits on its own
schedule)."""

TINY = {
    "name": "tiny",
    "depth_mm": 1.5,
    "dose_ml": 0.02,
    "rate_hz": 10.0,
    "mode": "continuous",
    "description": "test: five shots fill a zone",
    "max_depth_mm": 2.0,
    "max_volume_per_zone_ml": 0.1,
}
"""A clinic preset whose zone limit five shots of 0.02 mL reach."""


@dataclass(frozen=True)
class Prepared:
    patient: int
    course: int
    lot: int
    expired_lot: int


async def prepare(svc: Running) -> Prepared:
    """A patient with a course (preset tiny), a usable lot and an expired one, entered through the API."""
    await svc.ok("POST", "/presets", json=TINY)
    patient = await svc.ok("POST", "/patients", json={"pseudonym": "P-0001", "name": "Ada Byron"})
    course = await svc.ok(
        "POST",
        f"/patients/{patient['id']}/courses",
        json={"indication": "skin rejuvenation", "planned_sessions": 4, "interval_days": 14, "preset": "tiny"},
    )
    lot = await svc.ok("POST", "/lots", json={"product": "NCTF 135 HA", "lot_number": "L2403", "expiry": "2099-12-31"})
    old = await svc.ok("POST", "/lots", json={"product": "NCTF 135 HA", "lot_number": "L1901", "expiry": "2019-01-31"})
    assert old["expired"] and not lot["expired"]
    return Prepared(patient["id"], course["id"], lot["id"], old["id"])


def start_body(prepared: Prepared, **changes: Any) -> dict[str, Any]:
    """A treatment session's start: the course's preset (tiny), the forehead, the checklist all clear."""
    return {
        "patient_id": prepared.patient,
        "course_id": prepared.course,
        "lot_id": prepared.lot,
        "zone": "face.forehead",
        "checklist": ALL_CLEAR,
        "consent": "signed form v3",
        "syringe_brand": "BD",
        "syringe_ml": 5.0,
        "needle_gauge": 32,
        "needle_length_mm": 4.0,
        **changes,
    }


async def start(svc: Running, prepared: Prepared, **changes: Any) -> int:
    """A treatment session started on the service's gun; its visit id."""
    started = await svc.ok("POST", svc.gun("/treatments"), json=start_body(prepared, **changes))
    assert started["open"] and started["device_serial"] == svc.serial
    return int(started["visit_id"])


def clinical_rows(record: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the clinical tables and the audit log, sorted."""
    with TreatmentRecord(record, create=False) as opened:
        return {table.name: sorted((tuple(row) for row in opened.rows(table.select())), key=repr) for table in CLINICAL}


async def refused(svc: Running, method: str, path: str, status: int, **kwargs: Any) -> dict[str, Any]:
    """The error body of a request that must be refused with ``status``."""
    reply = await svc.client.request(method, path, **kwargs)
    assert reply.status_code == status, reply.text
    error: dict[str, Any] = reply.json()["error"]
    return error
