"""What the reports say, decided once for HTML and PDF: values worded and formatted the way a reader needs."""

from __future__ import annotations

import dataclasses

from mesogun.clinic.aftercare import DEFAULT_ADVICE, AftercareItem
from mesogun.reports import content
from mesogun.reports.content import Field


def _section(report: content.SessionReport, title: str) -> content.Section:
    return next(section for section in report.sections if section.title == title)


def test_volumes_have_three_decimals_and_depths_their_range() -> None:
    assert content.ml(0.4) == "0.400 mL"
    assert content.mm_range(1.0, 2.5) == "1.0–2.5 mm"
    assert content.mm_range(2.0, 2.0) == "2.0 mm"
    assert content.mm_range(1.25, 1.5) == "1.25–1.5 mm"
    assert content.ml_range(0.01, 0.05) == "0.010–0.050 mL"
    assert content.when("2025-03-04T10:02:11.250+00:00") == "2025-03-04 10:02:11 UTC"
    assert content.when("not a time") == "not a time"
    assert content.long_date("2025-03-18") == "Tuesday 18 March 2025"


def test_the_patient_is_a_pseudonym_unless_the_name_was_asked_for(short) -> None:
    head = content.session_report(short).masthead
    assert head.patient == Field("Patient", "P-7Q2K") and head.pseudonymised
    assert content.PSEUDONYMISED in head.privacy_note
    named = content.session_report(dataclasses.replace(short, patient_name="Zoë Ölander")).masthead
    assert named.patient == Field("Patient", "Zoë Ölander (id P-7Q2K)") and not named.pseudonymised
    assert named.privacy_note == ""


def test_the_zone_totals_count_the_shots_whose_details_never_arrived(long) -> None:
    zones = _section(content.session_report(long), "Treatment zones")
    assert zones.table is not None and len(zones.table.rows) == len(long.zones)
    assert zones.table.rows[0] == ("Forehead", "20", "0.300", "1.0–2.0")
    assert zones.table.total == ("Total", str(long.shots), f"{long.volume_ml:.3f}", "1.0–4.0")
    after = {f.label: f.value for f in zones.after}
    assert after["Shots the device counted whose details never arrived"] == "7"
    assert after["Shots the device counted in all"] == str(long.shots + 7)
    assert "unknown" in after["Note"]


def test_an_unsigned_session_says_not_signed_in_its_head_and_signature(long, short) -> None:
    unsigned = content.session_report(long)
    assert not unsigned.signature.signed and unsigned.signature.headline == content.NOT_SIGNED
    assert Field("Sign-off", content.NOT_SIGNED, alert=True) in unsigned.masthead.fields  # shown in red
    signed = content.session_report(short).signature
    assert signed.signed and Field("Meaning", "performed and reviewed the treatment") in signed.fields


def test_a_contraindication_answered_yes_is_flagged(long) -> None:
    checklist = _section(content.session_report(long), "Pre-treatment checklist")
    assert checklist.table is not None and checklist.table.flagged == frozenset({5})
    assert checklist.table.rows[5][1] == "YES (present)"


def test_empty_parts_say_so(short) -> None:
    report = content.session_report(short)
    assert _section(report, "Alarms").is_empty and _section(report, "Alarms").empty == "No alarms."
    bare = content.session_report(dataclasses.replace(short, course_id=None, depth_mm=None, dose_ml=None, lots=()))
    assert Field("Course", "none: a single session") in _section(bare, "Course").fields
    assert Field("Depth used", "no shot") in _section(bare, "Parameters").fields
    assert Field("Product lot", "none recorded") in _section(bare, "Product and consumables").after


def test_the_aftercare_sheet_speaks_plainly_and_suggests_the_next_session(short, long) -> None:
    sheet = content.aftercare_sheet(short, ["Rest."])
    assert "forehead and décolleté" in sheet.intro
    assert "Tuesday 18 March 2025" in sheet.next_session
    assert [f.label for f in sheet.contact] == ["Phone", "Email"]  # blanks to fill in by hand
    many = content.aftercare_sheet(long, ["Rest."], contact=[("Phone", "+41 21 555 01 02")])
    assert "face, neck, décolleté and scalp" in many.intro  # regions, not 34 zone names
    assert many.contact == (Field("Phone", "+41 21 555 01 02"),)
    none = content.aftercare_sheet(dataclasses.replace(short, next_session=None), ["Rest."])
    assert "No further session is planned" in none.next_session


def test_the_advice_is_the_given_then_the_recorded_then_the_default(short) -> None:
    assert content.advice_lines(short, [AftercareItem("ice", "Ice.")]) == ("Ice.",)
    assert content.advice_lines(short, None) == short.aftercare
    nothing = dataclasses.replace(short, aftercare=())
    assert content.advice_lines(nothing, None) == tuple(item.text for item in DEFAULT_ADVICE)
