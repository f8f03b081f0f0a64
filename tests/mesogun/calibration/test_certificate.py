"""The calibration certificate read back from its PDF: every section an auditor looks for, the verdict (PASSED,
FAILED, ABORTED and why), the constants old → new, the signature's meaning or NOT SIGNED, page x of y on every
page, the figures, a file written 0600, and the libraries loaded only when a certificate is made."""

from __future__ import annotations

import io
import re
import stat
import subprocess
import sys

from pypdf import PdfReader

from mesogun.calibration.certificate import certificate_pdf
from tests.mesogun.calibration import runs
from tests.mesogun.calibration.conftest import MISSING_GLYPHS
from tests.mesogun.reports.conftest import Pdf

SECTIONS = (
    "Device",
    "Reference instruments",
    "Environment",
    "Method",
    "Results",
    "Measurement uncertainty",
    "Constants written to the device",
    "Validity",
    "Signature",
)


def _text(pdf: Pdf) -> str:
    return pdf.text.replace("\u00a0", " ")


def _footers(pdf: Pdf, reference: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for page in pdf.pages for a, b in re.findall(rf"{reference} · page (\d+) of (\d+)", page)]


def _figures(pdf: Pdf) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(pdf.data)).pages)


def test_a_passed_volume_certificate_holds_what_an_auditor_checks(volume_passed_pdf) -> None:
    text = _text(volume_passed_pdf)
    for section in (*SECTIONS, "Raw readings, as found", "Raw readings, as left"):
        assert section in text, section
    for expected in (
        "Calibration certificate: delivered volume",
        "PASSED",
        "CAL-SIMOOO1-0007".replace("O", "0"),
        "SIM0001",
        "1.4.0",  # firmware
        "XPR226DRQ, serial B849301277",
        "2026-09-30",  # the balance's own calibration due
        "check weight CW-20g-0117",
        "21.4 °C",
        "1008 hPa",
        "47 %",
        "1.00314 µL/mg (ISO 8655-6)",
        "0.120 µg/s",
        "ISO 8655-6",
        "ISO 8655-2:2002, 20 µL piston pipette",
        "±1.00 % / 0.50 %",
        "U k=2",
        "Next calibration due",
        "2027-03-02",
        "Inès Lefèvre",
        "performed this calibration and verified its results",
        "21 CFR 11.50",
    ):
        assert expected in text, expected
    assert "NOT SIGNED" not in text
    assert "FAIL" in text  # the as-found points were +3 %: out of limits before the correction


def test_the_constants_changed_read_old_to_new(volume_passed_pdf) -> None:
    run = runs.volume_passed()
    assert run.constants_after is not None
    new = f"{run.constants_after.volume_gain('BD'):.6f}"
    assert re.search(rf"Volume gain, BD 1\.000000 {re.escape(new)} changed", _text(volume_passed_pdf))
    assert "Rate gain 1.000000 1.000000 unchanged" in _text(volume_passed_pdf)
    assert "0 (factory) → 7" in _text(volume_passed_pdf)


def test_raw_readings_and_statistics_are_printed(volume_passed_pdf) -> None:
    run = runs.volume_passed()
    text = _text(volume_passed_pdf)
    first = run.as_found[0]
    assert f"{first.readings[0]:.2f}" in text  # the balance's 0.01 mg: two decimals
    assert f"{first.mean:.3f}" in text
    assert f"{first.systematic_pct:+.2f}" in text
    assert f"{run.as_left[2].single_shot_spread_pct:.2f}" in text  # 10 shots per reading at 2 µL
    assert "10×10" in text


def test_every_page_says_page_x_of_y(volume_passed_pdf, depth_failed_pdf, rate_aborted_pdf) -> None:
    for pdf, reference in (
        (volume_passed_pdf, "CAL-SIM0001-0007"),
        (depth_failed_pdf, "CAL-SIM0001-0008"),
        (rate_aborted_pdf, "run-2026-03-02-1200-SIM0001"),  # no certificate id issued: the run's id
    ):
        count = len(pdf.pages)
        assert count >= 2
        assert _footers(pdf, reference) == [(n, count) for n in range(1, count + 1)]


def test_a_failed_run_says_failed_why_and_not_signed(depth_failed_pdf) -> None:
    text = _text(depth_failed_pdf)
    assert "FAILED" in text
    assert "As-left depth at 1.0 mm and 4.0 mm outside ±0.05 mm." in text
    assert "NOT SIGNED" in text and "it is not a signed record" in text
    assert "none: the gun is out of tolerance as left" in text
    assert "Depth offset +0 µm".replace("+0", "0") in text or "Depth offset 0 µm" in text
    assert re.search(r"Depth offset 0 µm \+81 µm changed", text)
    assert "Depth fit" in text and "measured = 0.99962 × set +80.7 µm" in text
    assert "±50 µm" in text and "issue 16: ±0.05 mm" in text
    assert "ID-C112XB, serial G-55120" in text


def test_an_aborted_run_says_aborted_why_and_that_nothing_was_written(volume_aborted_pdf, rate_aborted_pdf) -> None:
    text = _text(volume_aborted_pdf)
    assert "ABORTED" in text
    assert "The balance disconnected during the as-left run. Nothing was written to the device." in text
    assert "Nothing was written: the device keeps its calibration (id 0)." in text
    assert "none issued: the run was aborted" in text
    assert "NOT SIGNED" in text
    assert "Raw readings, as found" in text and "Raw readings, as left" not in text
    rate = _text(rate_aborted_pdf)
    assert "ABORTED" in rate and "No measurements were completed." in rate
    assert "(none issued: the run aborted)" in rate


def test_the_figures_are_drawn_where_there_are_measurements(
    volume_passed_pdf, depth_failed_pdf, rate_aborted_pdf
) -> None:
    assert _figures(volume_passed_pdf) == 1  # readings against nominal
    assert _figures(depth_failed_pdf) == 2  # and the depth fit
    assert _figures(rate_aborted_pdf) == 0
    assert "Readings against nominal, as found and as left" in _text(volume_passed_pdf)
    assert "Depth: gauge reading against set depth" in _text(depth_failed_pdf)


def test_a_rate_certificate_lists_the_shot_arrivals(rate_passed_pdf) -> None:
    text = _text(rate_passed_pdf)
    assert "Shot arrivals, as found, 2 shots/s (s after the first)" in text
    assert "the host's clock (shot arrival times), not the device's" in text
    assert "Rate gain 1.000000 0.98" in text
    assert "PASSED" in text


def test_no_glyph_is_missing_from_the_font(volume_passed_pdf, depth_failed_pdf, rate_passed_pdf) -> None:
    assert "µL" in _text(volume_passed_pdf) and "→" in _text(volume_passed_pdf)
    assert MISSING_GLYPHS == []


def test_a_certificate_written_to_a_path_is_private(tmp_path) -> None:
    path = tmp_path / "cert.pdf"
    data = certificate_pdf(runs.rate_aborted(), path)
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    metadata = PdfReader(io.BytesIO(data)).metadata
    assert metadata is not None
    assert metadata.title == "Calibration certificate: firing rate · run-2026-03-02-1200-SIM0001"


def test_fpdf_and_matplotlib_load_only_when_a_certificate_is_made() -> None:
    code = (
        "import sys, mesogun.calibration.certificate, mesogun.calibration.metrology, mesogun.calibration.results\n"
        "print(sorted(m for m in ('fpdf', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_limits_name_their_test_points_in_the_tables_order(volume_passed_pdf) -> None:
    text = _text(volume_passed_pdf)
    at_20, at_10, at_2 = (text.find(f"Limits at {v} µL from") for v in (20, 10, 2))
    assert -1 < at_20 < at_10 < at_2  # 20, 10, 2 µL: as the results table lists them
    assert "ISO 8655-2:2002, 20 µL piston pipette" in text[at_20:at_10]
