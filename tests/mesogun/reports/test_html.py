"""The HTML exports hold what a reader needs, every value escaped, the patient pseudonymised unless asked."""

from __future__ import annotations

import dataclasses
import re

from mesogun.reports import aftercare_html, session_report_html
from mesogun.reports.html import css_string
from tests.mesogun.reports.summaries import SCRIPT_NOTE


def _text(html: str) -> str:
    """The page's visible text, roughly: tags dropped, entities kept."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("</head>", 1)[1]))


def test_the_session_report_holds_what_a_reader_needs(short) -> None:
    html = session_report_html(short, clinic_name="Clinique du Lac")
    text = _text(html)
    for expected in (
        "Clinique du Lac",
        "Treatment session report",
        "Visit 17",
        "P-7Q2K",
        "Dr Ada Moreau",
        "Face rejuvenation",
        "2 of 4",
        "MG-0042",
        "2025-03-04 10:02:11 UTC",
        "face",
        "1.0–1.5 mm",
        "0.010–0.020 mL",
        "NCTF 135 HA",
        "L2409-17",
        "2026-01-31",
        "Terumo 1 mL",
        "32G × 4 mm",
        "Pregnant or breastfeeding?",
        "Décolleté",
        "0.525",
        "0.925",
        "No alarms.",
        "Dose ≤ 20 µL per point.",
        "performed and reviewed the treatment",
        "2025-03-04 10:33:05 UTC",
    ):
        assert expected in text, expected
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    assert "NOT SIGNED" not in text


def test_a_note_holding_markup_shows_as_text(long) -> None:
    html = session_report_html(long)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; tell the patient" in html
    assert SCRIPT_NOTE.startswith("<script>")


def test_the_clinic_name_cannot_break_out_of_the_page_or_its_style(short) -> None:
    html = session_report_html(short, clinic_name='Evil"; } </style><script>x</script>')
    assert "<script>" not in html and html.count("</style>") == 1
    assert css_string('a"b\\c') == '"a\\22 b\\5c c"'


def test_pseudonymised_unless_the_name_is_given(short) -> None:
    anonymous = session_report_html(short)
    assert "PSEUDONYMISED" in anonymous
    named = session_report_html(dataclasses.replace(short, patient_name="Zoë Ölander"))
    assert "Zoë Ölander (id P-7Q2K)" in named and "PSEUDONYMISED" not in named


def test_an_unsigned_session_says_not_signed(long) -> None:
    text = _text(session_report_html(long))
    assert "NOT SIGNED" in text and "Signed by" not in text


def test_the_long_session_lists_every_zone_alarm_and_override(long) -> None:
    html = session_report_html(long)
    assert html.count('<tr class="flag">') == 1  # the contraindication answered yes
    assert all(zone.label.replace("'", "&#39;") in html for zone in long.zones)
    assert html.count("alarm ") >= len(long.alarms)
    assert html.count("preset.face-nappage.max_depth_mm") == len(long.overrides)
    assert "Shots the device counted whose details never arrived" in html


def test_the_aftercare_sheet_gives_the_advice_and_the_next_session(short) -> None:
    text = _text(aftercare_html(dataclasses.replace(short, aftercare=()), clinic_name="Clinique du Lac"))
    assert "SPF 30 or higher, even on cloudy days" in text  # the default advice
    assert "Tuesday 18 March 2025" in text and "Clinique du Lac" in text
    assert "PSEUDONYMISED" in text and "P-7Q2K" in text
    unplanned = _text(aftercare_html(dataclasses.replace(short, next_session=None)))
    assert "No further session is planned" in unplanned


def test_the_french_aftercare_sheet_reads_french(short) -> None:
    html = aftercare_html(dataclasses.replace(short, aftercare=()), clinic_name="Clinique du Lac", language="fr")
    text = _text(html)
    assert '<html lang="fr">' in html
    for expected in (
        "Conseils après votre traitement",
        "Visite 17",
        "Date du traitement mardi 4 mars 2025",
        "(front et décolleté)",
        "Nos conseils",
        "Protégez la zone traitée avec une crème solaire d’indice SPF 30 ou plus",  # the default advice
        "le mardi 18 mars 2025",
        "En cas d&#39;inquiétude",
        "Clinique Clinique du Lac",
        "Téléphone",
        "PSEUDONYMISÉ",
    ):
        assert expected in text, expected
    for english in ("What to do", "If you are worried", "Phone", "Visit"):
        assert not re.search(rf"\b{english}\b", text), english


def test_the_french_report_reads_french_down_to_its_printed_page_numbers(long) -> None:
    html = session_report_html(long, clinic_name="Clinique du Lac", language="fr")
    text = _text(html)
    assert '<html lang="fr">' in html
    assert '"Visite 90210 \\b7  page " counter(page) " sur " counter(pages)' in html  # the printed page's margin
    for expected in (
        "Compte rendu de séance",
        "Zones traitées",
        "Profondeur (mm)",
        "Front 20 0,300 1,0–2,0",  # a catalog zone label translated, a decimal comma
        "14,515 mL",
        "Dépassements de limites conseillées",
        "Signature NON SIGNÉ",
    ):
        assert expected in text, expected
    assert "Treatment zones" not in text and "Signed" not in text
