"""Bad input to the clinical workflow (issue 14 item 8), on SQLite and PostgreSQL: an unknown patient or course, an
expired lot, an unanswered checklist item, a zone that does not exist, an override without a reason, a sign-off
without the role - each refused naming the field, with the record and its audit log exactly as they were."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from firmware_protocol import Mode
from mesogun.errors import MesogunError
from mesogun.record import TreatmentRecord
from mesogun.record.courses import CourseBook
from mesogun.record.lots import LotBook
from tests.mesogun.record.clinic_support import ALL_CLEAR, ASSISTANT, DR, TODAY, Clinic, clinic, everything

Attempt = Callable[[Clinic, int, Any], Any]
"""Something bad tried on a clinic with one open session (its visit id) and what the case's set-up made."""
Setup = Callable[[Clinic], Any]
"""What a case enters first (before the record is compared): an expired lot, a closed course, another patient."""


def _nothing(c: Clinic) -> Any:
    return None


def _expired_lot(c: Clinic) -> Any:
    return LotBook(c.record).add("NCTF 135 HA", f"{c.lot_number}-old", "2026-03-09", actor=DR).id  # on the shelf


def _close_course(c: Clinic) -> Any:
    return CourseBook(c.record).close(c.course, actor=DR)


def _another_patient(c: Clinic) -> Any:
    from mesogun.record.patients import PatientBook

    return PatientBook(c.record).add(actor=DR).id


def _override_without_reason(c: Clinic, visit: int, _: Any) -> Any:
    found = c.treatment.check_limits(visit, mode=Mode.NAPPAGE, depth_mm=2.5)
    return c.treatment.override(visit, found, "   ", actor=DR)


REFUSALS: list[tuple[str, Setup, Attempt, str, str]] = [
    ("unknown patient", _nothing, lambda c, v, _: c.start(c.serial2, patient_id=99_999), "patient", "no patient 99999"),
    ("unknown course", _nothing, lambda c, v, _: c.start(c.serial2, course_id=99_999), "course", "no course 99999"),
    (
        "another patient's course",
        _another_patient,
        lambda c, v, other: c.start(c.serial2, patient_id=other),
        "course",
        "is not patient",
    ),
    ("closed course", _close_course, lambda c, v, _: c.start(c.serial2), "course", "was closed"),
    ("unknown lot", _nothing, lambda c, v, _: c.start(c.serial2, lot_id=99_999), "lot", "no lot 99999"),
    (
        "expired lot",
        _expired_lot,
        lambda c, v, lot: c.start(c.serial2, lot_id=lot),
        "lot",
        "of NCTF 135 HA expired on 2026-03-09: an expired lot is never used",
    ),
    (
        "expired lot mid-session",
        _expired_lot,
        lambda c, v, lot: c.treatment.change_lot(v, lot, actor=DR, today=TODAY),
        "lot",
        "expired on 2026-03-09",
    ),
    (
        "unanswered checklist item",
        _nothing,
        lambda c, v, _: c.start(c.serial2, checklist={k: a for k, a in ALL_CLEAR.items() if k != "pregnancy"}),
        "checklist.pregnancy",
        "checklist item pregnancy",
    ),
    (
        "contraindication not overridden",
        _nothing,
        lambda c, v, _: c.start(c.serial2, checklist={**ALL_CLEAR, "skin_infection": True}),
        "checklist.skin_infection",
        "contraindication present: skin_infection",
    ),
    (
        "contraindication overridden without a reason",
        _nothing,
        lambda c, v, _: c.start(c.serial2, checklist={**ALL_CLEAR, "skin_infection": True}, override_reason=""),
        "override_reason",
        "needs a reason",
    ),
    (
        "unknown zone at start",
        _nothing,
        lambda c, v, _: c.start(c.serial2, zone="face.nose"),
        "zone",
        "'face.nose' is not a treatment zone",
    ),
    (
        "unknown zone",
        _nothing,
        lambda c, v, _: c.treatment.change_zone(v, "body.knee", actor=DR),
        "zone",
        "the body zones",
    ),
    ("no consent", _nothing, lambda c, v, _: c.start(c.serial2, consent=" "), "consent", "consent must be non-blank"),
    (
        "unknown preset",
        _nothing,
        lambda c, v, _: c.start(c.serial2, preset="lips"),
        "preset",
        "preset 'lips' is not known",
    ),
    ("soft-limit override without a reason", _nothing, _override_without_reason, "reason", "needs a reason"),
    (
        "sign-off without the role",
        _nothing,
        lambda c, v, _: c.treatment.sign_off(v, actor=ASSISTANT),
        "actor.roles",
        "practitioner role",
    ),
    (
        "start without the role",
        _nothing,
        lambda c, v, _: c.start(c.serial2, actor=ASSISTANT),
        "actor.roles",
        "practitioner role",
    ),
    (
        "unknown severity",
        _nothing,
        lambda c, v, _: c.treatment.adverse_event(v, kind="pain", severity="awful", actor=DR),
        "severity",
        "not one of: mild",
    ),
]


@pytest.mark.parametrize(("setup", "attempt", "field", "says"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_bad_input_is_refused_naming_the_field_and_nothing_changes(
    shared_record: TreatmentRecord, setup: Setup, attempt: Attempt, field: str, says: str
) -> None:
    record = shared_record
    c = clinic(record)
    visit = c.start()
    made = setup(c)
    before = everything(record)  # the audit log included
    with pytest.raises(MesogunError) as refused:
        attempt(c, visit, made)
    assert getattr(refused.value, "field", None) == field
    assert says in str(refused.value) and refused.value.exit_code in (2, 3)
    assert everything(record) == before
