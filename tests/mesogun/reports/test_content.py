"""What the reports say, decided once for HTML and PDF: values worded and formatted the way a reader needs."""

from __future__ import annotations

import dataclasses

import pytest

from mesogun.clinic.aftercare import DEFAULT_ADVICE, AftercareItem
from mesogun.errors import ParameterError
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
    assert sheet.reach[0] == Field("Clinic", content.BLANK)  # an unnamed clinic: its name too, not "Clinic: Clinic"
    many = content.aftercare_sheet(
        long, ["Rest."], clinic_name="Clinique du Lac", contact=[("Phone", "+41 21 555 01 02")]
    )
    assert many.reach[0] == Field("Clinic", "Clinique du Lac")
    assert "face, neck, décolleté and scalp" in many.intro  # regions, not 34 zone names
    assert many.contact == (Field("Phone", "+41 21 555 01 02"),)
    none = content.aftercare_sheet(dataclasses.replace(short, next_session=None), ["Rest."])
    assert "No further session is planned" in none.next_session


def test_the_advice_is_the_given_then_the_recorded_then_the_default(short) -> None:
    assert content.advice_lines(short, [AftercareItem("ice", "Ice.")]) == ("Ice.",)
    assert content.advice_lines(short, None) == short.aftercare
    nothing = dataclasses.replace(short, aftercare=())
    assert content.advice_lines(nothing, None) == tuple(item.text for item in DEFAULT_ADVICE)


def test_in_french_every_word_is_french_and_numbers_have_a_decimal_comma(long) -> None:
    report = content.session_report(long, language="fr")
    assert report.masthead.title == "Compte rendu de séance" and report.masthead.language == "fr"
    assert report.masthead.visit_label == "Visite 90210"
    assert Field("Signature", "NON SIGNÉ", alert=True) in report.masthead.fields
    zones = _section(report, "Zones traitées")
    assert zones.table is not None and zones.table.columns == ("Zone", "Tirs", "Volume (mL)", "Profondeur (mm)")
    assert zones.table.rows[0] == ("Front", "20", "0,300", "1,0–2,0")  # a catalog zone label, translated
    assert zones.table.rows[2][0] == "Left temple"  # a label the catalog does not hold: as the record has it
    assert Field("Volume (tirs en détail)", content.ml(long.volume_ml, "fr")) in zones.after
    assert content.ml(0.125, "fr") == "0,125 mL" and content.mm_range(1.5, 2.25, "fr") == "1,5–2,25 mm"
    parameters = _section(report, "Paramètres")
    assert Field("Mode", "rafale") in parameters.fields
    assert Field("Dose par tir", "0,005–0,050 mL") in parameters.fields
    checklist = _section(report, "Liste de contrôle avant traitement")
    assert checklist.table is not None and checklist.table.rows[0][:2] == ("Grossesse ou allaitement ?", "non")
    assert checklist.table.rows[5][1] == "OUI (présente)"
    events = _section(report, "Effets indésirables")
    assert events.table is not None and events.table.rows[0][2] == "léger"
    assert report.signature.title == "Signature" and report.signature.headline == "NON SIGNÉ"
    assert report.footnote == "Les heures sont en UTC. Les volumes sont ceux qu'indique l'appareil, en mL."


def test_the_french_signature_says_its_meaning_in_french(short) -> None:
    signature = content.session_report(short, language="fr").signature
    assert Field("Signification", "a réalisé et vérifié le traitement") in signature.fields
    assert signature.statement == "Signé électroniquement par Dr Ada Moreau."


def test_the_french_aftercare_sheet_speaks_to_the_patient(short, long) -> None:
    default = content.advice_lines(dataclasses.replace(short, aftercare=()), None)
    sheet = content.aftercare_sheet(short, default, language="fr")
    assert sheet.masthead.title == "Conseils après votre traitement"
    assert Field("Date du traitement", "mardi 4 mars 2025") in sheet.masthead.fields
    assert "(front et décolleté)" in sheet.intro
    assert sheet.next_session.startswith("Nous vous proposons votre prochaine séance le mardi 18 mars 2025.")
    assert sheet.advice[0] == "Gardez la zone traitée propre et hydratée."  # the default advice, in French
    assert (sheet.advice_title, sheet.worry_title) == ("Nos conseils", "En cas d'inquiétude")
    assert [f.label for f in sheet.reach] == ["Clinique", "Téléphone", "E-mail"]
    assert sheet.masthead.clinic == "Clinique"  # no clinic named: the default, in French
    assert "votre référence chez nous est P-7Q2K" in sheet.masthead.privacy_note
    assert sheet.masthead.furniture.pseudonymised == "pseudonymisé"
    many = content.aftercare_sheet(
        long, ["Rest."], clinic_name="Clinique du Lac", contact=[(content.PHONE, "+41 21 555 01 02")], language="fr"
    )
    assert many.contact == (Field("Téléphone", "+41 21 555 01 02"),)  # the label a catalog word: in French
    assert "(visage, cou, décolleté et cuir chevelu)" in many.intro
    assert many.advice == ("Rest.",)  # a clinic's own line: as written


def test_a_language_that_does_not_ship_is_refused_by_name(short) -> None:
    with pytest.raises(ParameterError) as refused:
        content.aftercare_sheet(short, ["Rest."], language="de")
    assert refused.value.field == "language" and "'de'" in str(refused.value)
    assert content.session_report(short, language="FR").masthead.language == "fr"
