"""Courses, products and lots, and the clinic's own presets in the record, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest

from firmware_protocol import Mode
from mesogun.clinic.errors import ClinicError, DuplicateEntry, LotExpired, NoSuchCourse, UnknownPreset
from mesogun.clinic.presets import define
from mesogun.record import TreatmentRecord
from mesogun.record.courses import CourseBook
from mesogun.record.lots import LotBook
from mesogun.record.presets import PresetBook
from tests.mesogun.record.clinic_support import DR, TODAY, audit, clinic, everything, last_audit


def test_a_course_is_opened_holds_its_sessions_and_is_closed(shared_record: TreatmentRecord) -> None:
    record = shared_record
    c = clinic(record)
    first = c.start()
    c.treatment.sign_off(first, actor=DR)
    second = c.start()
    book = CourseBook(record)
    course = book.get(c.course)
    assert (course.indication, course.planned_sessions, course.interval_days, course.preset) == (
        "skin rejuvenation",
        4,
        14,
        "face",
    )
    assert course.sessions == (first, second) and course.closed is None
    assert [x.id for x in book.of_patient(c.patient)] == [c.course]
    closed = book.close(c.course, actor=DR, reason="course completed")
    assert closed.closed is not None and last_audit(record)[:3] == ("course.close", "course", str(c.course))
    with pytest.raises(NoSuchCourse, match="was closed"):
        book.close(c.course, actor=DR)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"indication": " ", "planned_sessions": 4, "interval_days": 14}, "indication"),
        ({"indication": "hair loss", "planned_sessions": 0, "interval_days": 14}, "planned_sessions"),
        ({"indication": "hair loss", "planned_sessions": 6, "interval_days": 400}, "interval_days"),
        ({"indication": "hair loss", "planned_sessions": 6, "interval_days": 21, "preset": "hair"}, "preset"),
    ],
)
def test_a_course_with_bad_values_is_refused_naming_the_field(
    shared_record: TreatmentRecord, values: dict[str, object], field: str
) -> None:
    record = shared_record
    c = clinic(record)
    before = everything(record)
    with pytest.raises(ClinicError) as refused:
        CourseBook(record).open(c.patient, actor=DR, **values)  # type: ignore[arg-type]
    assert refused.value.field == field and everything(record) == before


def test_lots_of_a_product(shared_record: TreatmentRecord) -> None:
    record = shared_record
    book = LotBook(record)
    entries = len(audit(record))
    a = book.add("HA cocktail", "A1", date(2026, 6, 30), actor=DR, description="hyaluronic acid 1.5%")
    b = book.add("HA cocktail", "A2", "2026-03-01", actor=DR)
    assert [(x.product, x.lot_number, x.expiry) for x in book.all() if x.product == "HA cocktail"] == [
        ("HA cocktail", "A2", "2026-03-01"),
        ("HA cocktail", "A1", "2026-06-30"),
    ]
    assert book.usable(a.id, TODAY) == (a, None)
    with pytest.raises(LotExpired, match="lot A2 of HA cocktail expired on 2026-03-01"):
        book.usable(b.id, TODAY)
    with pytest.raises(DuplicateEntry) as twice:
        book.add("HA cocktail", "A1", "2027-01-01", actor=DR)
    assert twice.value.field == "lot_number"
    assert [a[0] for a in audit(record)[entries:]] == ["product.add", "lot.add", "lot.add"]
    assert json.loads(last_audit(record)[4] or "")["expiry"] == "2026-03-01"


def test_a_clinic_preset_is_stored_and_used_with_its_soft_limits(shared_record: TreatmentRecord) -> None:
    record = shared_record
    c = clinic(record)
    book = PresetBook(record)
    lips = define(
        "lips", depth_mm=1.0, dose_ml=0.01, rate_hz=2.5, mode="single", max_depth_mm=1.5, max_volume_per_zone_ml=0.5
    )
    stored = book.define(lips, actor=DR)
    assert stored == lips and lips in book.all() and book.find("face").builtin
    with pytest.raises(DuplicateEntry):
        book.define(lips, actor=DR)
    visit = c.start(preset="lips", zone="face.perioral")
    (breach,) = c.treatment.check_limits(visit, mode=Mode.SINGLE, depth_mm=1.8)
    assert breach.limit == "preset.lips.max_depth_mm" and breach.maximum == 1.5
    assert c.treatment.summary(visit).mode == "single"  # no mode set on the gun yet: the preset's
    with pytest.raises(UnknownPreset):
        book.find("cheeks")
