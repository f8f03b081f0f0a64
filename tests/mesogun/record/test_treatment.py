"""A treatment session's clinical side in the record, on SQLite and PostgreSQL: started with its checklist, lot,
preset and zone; each shot carrying the zone and lot in force; zone, lot and needle changes, notes, adverse events,
aftercare, overrides; signed off by a practitioner; summarised from the record (``mesogun record show``)."""

from __future__ import annotations

import json

import pytest

from firmware_protocol import Mode
from mesogun.clinic.checklist import DEFAULT_ITEMS
from mesogun.clinic.errors import RoleRequired, SoftLimitExceeded, VisitNotTreatment
from mesogun.clinic.needles import Needle
from mesogun.record import TreatmentRecord
from mesogun.record.courses import CourseBook
from mesogun.record.lots import LotBook
from mesogun.record.patients import PatientBook
from mesogun.record.treatment import SIGN_OFF_MEANING
from mesogun.record.visits import VisitAlreadyOpen, VisitBook
from tests.mesogun.record.clinic_support import (
    ALL_CLEAR,
    ASSISTANT,
    DR,
    TODAY,
    audit,
    chain_verifies,
    clinic,
    connect,
    fire,
)


def test_a_session_starts_with_its_checklist_lot_preset_and_zone(shared_record: TreatmentRecord) -> None:
    record = shared_record
    c = clinic(record)
    started = c.treatment.start(
        c.serial,
        actor=DR,
        patient_id=c.patient,
        course_id=c.course,
        lot_id=c.lot,
        zone="face.forehead",
        checklist={**ALL_CLEAR, "allergy": (False, "none known")},
        consent="signed form v3",
        syringe_brand="BD Plastipak",
        syringe_ml=5,
        needle=Needle(32, 4),
        today=TODAY,
    )
    session = started.treatment
    assert started.warnings == ()
    assert (session.patient_id, session.course_id, session.lot_id, session.zone) == (
        c.patient,
        c.course,
        c.lot,
        "face.forehead",
    )
    assert session.preset == "face" and session.practitioner == "dr.lee"  # the course's preset
    assert session.needle == Needle(32, 4.0) and session.syringe_ml == 5.0 and session.is_open
    assert VisitBook(record).open_on(c.serial) is not None  # it is the gun's open visit
    assert audit(record)[-1] == ("session.start", "visit", str(session.visit_id))
    summary = c.treatment.summary(session.visit_id)
    assert [a.item for a in summary.checklist] == [i.id for i in DEFAULT_ITEMS]
    assert summary.checklist[4].note == "none known" and not any(a.present for a in summary.checklist)
    assert summary.syringe == "BD Plastipak 5 mL" and summary.needle == "32G 4 mm"
    assert summary.consent == "signed form v3"
    with pytest.raises(VisitAlreadyOpen):
        c.start(c.serial)


def test_a_lot_near_expiry_warns_and_a_contraindication_needs_an_override_kept_with_its_reason(
    shared_record: TreatmentRecord,
) -> None:
    record = shared_record
    c = clinic(record)
    near = LotBook(record).add("NCTF 135 HA", f"{c.lot_number}-near", "2026-03-20", actor=DR)
    started = c.treatment.start(
        c.serial,
        actor=DR,
        patient_id=c.patient,
        lot_id=near.id,
        zone="face.chin",
        checklist={**ALL_CLEAR, "clotting": (True, "aspirin 75 mg")},
        consent="signed form v3",
        override_reason="GP confirmed low dose; superficial only",
        today=TODAY,
    )
    assert started.warnings == (f"lot {near.lot_number} of NCTF 135 HA expires in 10 days (2026-03-20)",)
    (override,) = c.treatment.summary(started.treatment.visit_id).overrides
    assert override.limit == "checklist.clotting" and override.by == "dr.lee"
    assert override.reason == "GP confirmed low dose; superficial only" and "aspirin 75 mg" in override.detail
    assert json.loads(record.rows("SELECT new_value FROM audit_log ORDER BY seq DESC")[0][0])[
        "contraindications_overridden"
    ] == ["clotting"]


def test_every_shot_carries_the_zone_and_lot_in_force_when_it_was_written(shared_record: TreatmentRecord) -> None:
    record = shared_record
    c = clinic(record)
    visit = c.start()
    session = connect(record, c.serial, visit)
    fire(record, session, 1, 3)
    c.treatment.change_zone(visit, "face.cheek_left", actor=DR)
    second = LotBook(record).add("NCTF 135 HA", f"{c.lot_number}-2", "2027-01-31", actor=DR)
    c.treatment.change_lot(visit, second.id, actor=DR, today=TODAY)
    fire(record, session, 4, 2, depth_um=2000)
    rows = record.rows(f"SELECT shot_index, zone, lot_id FROM shots WHERE session_id = {session} ORDER BY shot_index")
    assert rows == [
        (1, "face.forehead", c.lot),
        (2, "face.forehead", c.lot),
        (3, "face.forehead", c.lot),
        (4, "face.cheek_left", second.id),
        (5, "face.cheek_left", second.id),
    ]
    # a shot links to its session, patient, practitioner, device, course and lot through its visit
    ((pseudonym, practitioner, serial, course, lot_number),) = record.rows(
        "SELECT p.pseudonym, v.practitioner, s.device_serial, v.course_id, l.lot_number FROM shots sh "
        "JOIN sessions s ON s.id = sh.session_id JOIN visits v ON v.id = s.visit_id "
        "JOIN patients p ON p.id = v.patient_id JOIN lots l ON l.id = sh.lot_id "
        f"WHERE sh.shot_index = 5 AND sh.session_id = {session}"
    )
    assert (pseudonym, practitioner, serial, course, lot_number) == (
        c.pseudonym,
        "dr.lee",
        c.serial,
        c.course,
        second.lot_number,
    )
    old, new = record.rows(
        f"SELECT old_value, new_value FROM audit_log WHERE action = 'session.zone' AND entity_id = '{visit}'"
    )[0]
    assert json.loads(old) == {"zone": "face.forehead"} and json.loads(new) == {"zone": "face.cheek_left"}


def test_the_summary_holds_zones_volumes_depths_lots_alarms_overrides_and_the_next_session(
    shared_record: TreatmentRecord,
) -> None:
    record = shared_record
    c = clinic(record)
    visit = c.start()
    session = connect(record, c.serial, visit)
    fire(record, session, 1, 10)  # 10 x 0.02 mL at 1.5 mm in the forehead
    c.treatment.change_zone(visit, "face.glabella", actor=DR)
    fire(record, session, 11, 5, depth_um=2000, dose_nl=10_000)
    record.add_note(session, "soft_limit_override", "confirmed: depth 2.6 mm", "thick dermis")  # as mesogun set does
    breaches = c.treatment.check_limits(visit, mode=Mode.BURST, depth_mm=2.6, dose_ml=0.01)
    assert [b.limit for b in breaches] == ["preset.face.max_depth_mm"]
    with pytest.raises(SoftLimitExceeded):
        c.treatment.override(visit, breaches, None, actor=DR)
    assert c.treatment.override(visit, breaches, " scar tissue ", actor=DR) == "scar tissue"
    c.treatment.note(visit, "patient tolerated well", actor=DR)
    c.treatment.adverse_event(visit, kind="bruising", severity="mild", detail="glabella, 5 mm", actor=DR)
    advice = c.treatment.give_aftercare(visit, actor=DR)
    c.treatment.sign_off(visit, actor=DR)
    s = c.treatment.summary(visit)
    assert (s.patient, s.practitioner, s.indication, s.session_number, s.planned_sessions) == (
        c.pseudonym,
        "dr.lee",
        "skin rejuvenation",
        1,
        4,
    )
    assert [(z.zone, z.label, z.shots, z.volume_ml, z.depth_mm_min, z.depth_mm_max) for z in s.zones] == [
        ("face.forehead", "Forehead", 10, 0.2, 1.5, 1.5),
        ("face.glabella", "Glabella", 5, 0.05, 2.0, 2.0),
    ]
    assert (s.shots, s.shots_unreceived, round(s.volume_ml, 6), s.depth_mm, s.dose_ml) == (
        15,
        0,
        0.25,
        (1.5, 2.0),
        (0.01, 0.02),
    )
    assert s.devices == (c.serial,) and s.preset == "face" and s.mode == "burst"
    assert [(lot.product, lot.lot, lot.expiry) for lot in s.lots] == [("NCTF 135 HA", c.lot_number, "2026-12-31")]
    assert [(o.limit, o.reason) for o in s.overrides] == [
        ("soft_limit_override", "thick dermis"),
        ("preset.face.max_depth_mm", "scar tissue"),
    ]
    assert [(e.kind, e.severity, e.by) for e in s.adverse_events] == [("bruising", "mild", "dr.lee")]
    assert s.aftercare == advice and s.notes == ("patient tolerated well",)
    assert s.signoff is not None and (s.signoff.by, s.signoff.meaning) == ("dr.lee", SIGN_OFF_MEANING)
    assert s.closed == s.signoff.at
    opened_day = s.opened[:10]
    assert s.next_session is not None and s.next_session > opened_day  # 14 days after this session
    assert chain_verifies(record)


def test_the_zone_volume_limit_counts_the_zones_shots_so_far(shared_record: TreatmentRecord) -> None:
    record = shared_record
    c = clinic(record)
    visit = c.start()
    session = connect(record, c.serial, visit)
    fire(record, session, 1, 49)  # 0.98 mL in the forehead; face allows 1 mL per zone
    assert c.treatment.check_limits(visit, mode=Mode.BURST, depth_mm=1.5, dose_ml=0.02) == ()
    (over,) = c.treatment.check_limits(visit, mode=Mode.BURST, depth_mm=1.5, dose_ml=0.02, planned_ml=0.1)
    assert over.field == "volume_ml" and "zone face.forehead would receive 1.08 mL" in over.message
    c.treatment.change_zone(visit, "face.chin", actor=DR)
    assert c.treatment.check_limits(visit, mode=Mode.BURST, depth_mm=1.5, dose_ml=0.02, planned_ml=0.1) == ()


def test_the_needle_reminder_counts_shots_since_the_needle_was_fitted(shared_record: TreatmentRecord) -> None:
    record = shared_record
    c = clinic(record)
    visit = c.start(needle=Needle(32, 4))
    session = connect(record, c.serial, visit)
    fire(record, session, 1, 6)
    assert c.treatment.needle_reminder(visit, every=5) == (
        "change the needle: 6 shots since it was changed (reminded every 5)"
    )
    c.treatment.change_needle(visit, Needle(30, 4), actor=DR)
    assert c.treatment.needle_reminder(visit, every=5) is None
    assert c.treatment.get(visit).needle == Needle(30, 4.0)


def test_sign_off_needs_the_practitioner_role_and_happens_once(shared_record: TreatmentRecord) -> None:
    record = shared_record
    c = clinic(record)
    visit = c.start()
    entries = audit(record)
    with pytest.raises(RoleRequired) as refused:
        c.treatment.sign_off(visit, actor=ASSISTANT)
    assert refused.value.field == "actor.roles" and "needs the practitioner role; sam has: assistant" in str(
        refused.value
    )
    assert refused.value.exit_code == 3 and c.treatment.get(visit).signoff is None and audit(record) == entries
    signed = c.treatment.sign_off(visit, actor=DR)
    assert signed.signoff is not None and not signed.is_open
    with pytest.raises(VisitNotTreatment, match=r"signed off by dr\.lee"):
        c.treatment.sign_off(visit, actor=DR)
    with pytest.raises(VisitNotTreatment, match="closed"):
        c.treatment.change_zone(visit, "face.chin", actor=DR)
    c.treatment.adverse_event(visit, kind="swelling", severity="moderate", actor=DR)  # noted after the session


def test_a_patients_history_is_their_sessions_oldest_first(shared_record: TreatmentRecord) -> None:
    record = shared_record
    c = clinic(record)
    first = c.start()
    c.treatment.sign_off(first, actor=DR)
    other = PatientBook(record).add(actor=DR)
    course = CourseBook(record).open(other.id, actor=DR, indication="hair loss", planned_sessions=6, interval_days=21)
    c.start(c.serial2, patient_id=other.id, course_id=course.id, preset="scalp", zone="scalp.crown")
    second = c.start()
    history = c.treatment.history(c.patient)
    assert [(s.visit_id, s.session_number) for s in history] == [(first, 1), (second, 2)]
    assert [s.visit_id for s in c.treatment.history(other.id)] != [first]


def test_a_visit_without_a_patient_is_summarised_but_is_no_treatment_session(shared_record: TreatmentRecord) -> None:
    record = shared_record
    c = clinic(record)
    plain = VisitBook(record).open(c.serial2, opened_by="local:nurse")
    session = connect(record, c.serial2, plain.id)
    fire(record, session, 1, 2)
    s = c.treatment.summary(plain.id)
    assert (s.patient, s.practitioner, s.shots, s.checklist) == ("", "local:nurse", 2, ())
    assert [z.zone for z in s.zones] == [""]
    with pytest.raises(VisitNotTreatment) as refused:
        c.treatment.note(plain.id, "x", actor=DR)
    assert refused.value.field == "visit"
