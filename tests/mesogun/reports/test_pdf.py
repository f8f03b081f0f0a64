"""The PDF exports, read back: every page numbered "page x of y" with the visit id, long tables broken across
pages with their headings repeated, the text in a Unicode font, pseudonymised unless asked, "NOT SIGNED" when
unsigned, a file written 0600."""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import stat

import pytest

from mesogun.reports import aftercare_pdf, session_report_pdf
from mesogun.reports import pdf as pdf_module
from tests.mesogun.reports.conftest import Pdf


def _footers(pdf: Pdf, visit: int) -> list[tuple[int, int]]:
    return [
        (int(m[0]), int(m[1])) for page in pdf.pages for m in re.findall(rf"Visit {visit} · page (\d+) of (\d+)", page)
    ]


def test_every_page_says_page_x_of_y_and_the_visit(short_report_pdf, long_report_pdf) -> None:
    for pdf, visit in ((short_report_pdf, 17), (long_report_pdf, 90210)):
        count = len(pdf.pages)
        assert _footers(pdf, visit) == [(n, count) for n in range(1, count + 1)]
    assert len(short_report_pdf.pages) <= 2
    assert len(long_report_pdf.pages) >= 4


def test_the_short_report_holds_its_texts_in_their_own_characters(short_report_pdf) -> None:
    text = short_report_pdf.text
    for expected in (
        "Clinique du Lac",
        "Treatment session report",
        "P-7Q2K",
        "Décolleté",
        "Dose ≤ 20 µL per point.",
        "32G × 4 mm",
        "0.925",
        "L2409-17",
        "2026-01-31",
        "performed and reviewed the treatment",
    ):
        assert expected in text, expected
    assert "NOT SIGNED" not in text
    assert short_report_pdf.language == "en"


def test_no_glyph_is_missing_from_the_font(short, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="fpdf"):
        session_report_pdf(dataclasses.replace(short, notes=("≤ ≥ ≈ µL décolleté Zoë – — × •",)))
    assert not [r for r in caplog.records if "missing" in r.getMessage()]


def test_long_tables_break_across_pages_with_their_headings_repeated(long, long_report_pdf) -> None:
    pages_with_alarms = [page for page in long_report_pdf.pages if "line pressure" in page]
    pages_with_overrides = [page for page in long_report_pdf.pages if "Thicker skin" in page]
    assert len(pages_with_alarms) >= 2 and len(pages_with_overrides) >= 2
    assert all("Priority" in page and "Detail" in page for page in pages_with_alarms)
    assert all("Reason given" in page for page in pages_with_overrides)
    for alarm in long.alarms:  # every row made it, none lost at a break
        assert alarm.detail.split(":")[0] + ":" in long_report_pdf.text


def test_pseudonymised_unless_the_name_is_given(short, short_report_pdf, long_report_pdf) -> None:
    assert all("pseudonymised" in page for page in short_report_pdf.pages)
    assert "PSEUDONYMISED" in short_report_pdf.pages[0]
    assert "Zoë Ölander-Brontë (id P-LONG-0001)" in long_report_pdf.text
    assert "pseudonymised" not in long_report_pdf.text.lower()
    for value in long_report_pdf.metadata.values():  # the name is never in the file's metadata
        assert "Zoë" not in value


def test_an_unsigned_session_says_not_signed(long_report_pdf) -> None:
    assert "NOT SIGNED" in long_report_pdf.pages[0]  # in the head
    assert "NOT SIGNED" in long_report_pdf.pages[-1]  # and in the signature block
    assert "Signed by" not in long_report_pdf.text


def test_the_aftercare_sheet_is_one_page_for_the_patient(short, tmp_path) -> None:
    path = tmp_path / "aftercare.pdf"
    data = aftercare_pdf(short, path, clinic_name="Clinique du Lac", contact=[("Phone", "+41 21 555 01 02")])
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # a health record
    sheet = Pdf.read(data)
    assert len(sheet.pages) == 1
    text = sheet.text
    for expected in (
        "Aftercare after your treatment",
        "forehead and décolleté",
        "Tuesday 18 March 2025",
        "+41 21 555 01 02",
        "Keep the treated area clean and moisturised.",
        "Visit 17 · page 1 of 1",
    ):
        assert expected in text, expected


def test_a_file_object_receives_the_pdf(short) -> None:
    sink = io.BytesIO()
    data = aftercare_pdf(dataclasses.replace(short, next_session=None), sink)
    assert sink.getvalue() == data and data.startswith(b"%PDF-")
    assert "No further session is planned" in Pdf.read(data).text


def test_without_a_unicode_font_the_text_is_spelled_in_latin1(short, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_module, "FONT_DIRS", ())
    text = Pdf.read(session_report_pdf(short)).text
    assert "Dose <= 20 µL per point." in text and "Décolleté" in text
    assert pdf_module.latin1("≤ Ω ő") == "<= ? o"


def test_a_long_clinic_name_is_shortened_in_the_footer_not_overprinted(short, monkeypatch) -> None:
    monkeypatch.setattr(pdf_module, "FONT_DIRS", ())  # the core font: fast, and the same layout rules
    name = "A clinic with a rather long name, Lausanne and Geneva, Switzerland, Rooms 1 to 4, and more words"
    pages = Pdf.read(session_report_pdf(short, clinic_name=name)).pages
    assert name in pages[0]  # the masthead wraps it whole
    for number, page in enumerate(pages, start=1):
        assert "... pseudonymised" in page.replace("\n", " ") or "...pseudonymised" in page
        assert f"Visit 17 · page {number} of {len(pages)}" in page


def test_the_french_report_reads_french_on_every_page(short) -> None:
    pdf = Pdf.read(session_report_pdf(short, clinic_name="Clinique du Lac", language="fr"))
    assert pdf.language == "fr" and pdf.metadata["/Title"] == "Compte rendu de séance · Visite 17"
    count = len(pdf.pages)
    for number, page in enumerate(pdf.pages, start=1):
        assert f"Visite 17 · page {number} sur {count}" in page and "pseudonymisé" in page
    text = pdf.text
    for expected in (
        "Compte rendu de séance",
        "Signature signée par Dr Ada Moreau",
        "Profondeur utilisée 1,0–1,5 mm",
        "Zones traitées",
        "Front 40 0,400 1,0",  # a catalog zone label translated, a decimal comma
        "Total 75 0,925 1,0–1,5",
        "Grossesse ou allaitement ? non",
        "Conseils post-traitement remis",
        "Gardez la zone traitée propre et hydratée.",
        "Signification a réalisé et vérifié le traitement",
    ):
        assert expected in text, expected
    assert "Treatment zones" not in text and "page 1 of" not in text


def test_the_french_aftercare_sheet_is_one_page_in_french(short) -> None:
    summary = dataclasses.replace(short, aftercare=())
    sheet = Pdf.read(aftercare_pdf(summary, clinic_name="Clinique du Lac", language="fr"))
    assert len(sheet.pages) == 1 and sheet.language == "fr"
    text = sheet.text.replace("\n", " ")
    for expected in (
        "Conseils après votre traitement",
        "Date du traitement mardi 4 mars 2025",
        "(front et décolleté)",
        "Nos conseils",
        "1. Gardez la zone traitée propre et hydratée.",
        "mardi 18 mars 2025",
        "En cas d'inquiétude",
        "Clinique Clinique du Lac",
        "Visite 17 · page 1 sur 1",
    ):
        assert expected in text, expected
    assert "What to do" not in text and "If you are worried" not in text
