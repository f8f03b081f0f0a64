"""``mesogun record report|aftercare VISIT -o FILE``: the session report and the aftercare sheet written from the
record, PDF or HTML, pseudonymised unless --identified, the file private; bad input named, nothing written."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pypdf import PdfReader

from mesogun.cli import main
from mesogun.record import TreatmentRecord
from tests.mesogun.record.clinic_support import DR, clinic, connect, fire


@pytest.fixture
def treated(tmp_path: Path) -> tuple[str, int]:
    """A record with one signed-off treatment session (6 shots in two zones); (its path, the visit)."""
    path = tmp_path / "record.sqlite"
    with TreatmentRecord(path) as record:
        c = clinic(record)
        visit = c.start()
        session = connect(record, c.serial, visit)
        fire(record, session, 1, 4)
        c.treatment.change_zone(visit, "face.cheek_right", actor=DR)
        fire(record, session, 5, 2, depth_um=2000)
        c.treatment.give_aftercare(visit, actor=DR)
        c.treatment.sign_off(visit, actor=DR)
    return str(path), visit


def _text(pdf: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(pdf).pages)


def test_the_report_pdf_holds_the_session_pseudonymised_and_is_private(
    treated: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, visit = treated
    out = tmp_path / "report.pdf"
    out.write_bytes(b"an older export, readable by everyone")
    out.chmod(0o644)
    assert main(["--db", db, "record", "report", str(visit), "-o", str(out), "--clinic", "Clinique du Lac"]) == 0
    assert "pseudonymised" in capsys.readouterr().out
    text = _text(out)
    assert "Clinique du Lac" in text and "Forehead" in text and "Cheek" in text and "0.120" in text
    assert "Ada" not in text and "PSEUDONYMISED" in text and "dr.lee" in text
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_the_aftercare_sheet_in_html_names_the_patient_only_when_asked(
    treated: tuple[str, int], tmp_path: Path
) -> None:
    db, visit = treated
    plain, named = tmp_path / "aftercare.html", tmp_path / "named.html"
    assert main(["--db", db, "record", "aftercare", str(visit), "-o", str(plain)]) == 0
    assert main(["--db", db, "record", "aftercare", str(visit), "-o", str(named), "--identified"]) == 0
    assert "SPF 30" in plain.read_text() and "Ada" not in plain.read_text()
    assert "Ada" in named.read_text()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-o", "{tmp}/report.txt"], "cannot tell the format from the suffix '.txt'"),
        (["-o", "{tmp}/no/such/folder/report.pdf"], "--output {tmp}/no/such/folder/report.pdf: cannot write it there"),
    ],
)
def test_bad_output_is_refused_naming_it_and_nothing_is_written(
    treated: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    db, visit = treated
    given = [a.format(tmp=tmp_path) for a in args]
    assert main(["--db", db, "record", "report", str(visit), *given]) == 2
    assert words.format(tmp=tmp_path) in capsys.readouterr().err
    assert not (tmp_path / "report.txt").exists()


def test_an_unknown_visit_is_refused(
    treated: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = treated
    assert main(["--db", db, "record", "report", "999", "-o", str(tmp_path / "r.pdf")]) == 2
    assert "999" in capsys.readouterr().err and not (tmp_path / "r.pdf").exists()


def test_language_fr_writes_the_aftercare_sheet_in_french(
    treated: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, visit = treated
    out = tmp_path / "aftercare.pdf"
    assert main(["--db", db, "record", "aftercare", str(visit), "-o", str(out), "--language", "fr"]) == 0
    assert "pseudonymised" in capsys.readouterr().out  # the command speaks English; the document, French
    text = _text(out).replace("\n", " ")
    assert "Conseils après votre traitement" in text and "Nos conseils" in text
    assert "(front et joue (droite))" in text  # the zones' catalog labels, in French
    assert "Gardez la zone traitée propre et hydratée." in text  # the default advice given, in French
    assert "Aftercare after your treatment" not in text


def test_a_language_that_does_not_ship_is_refused_naming_it_and_nothing_is_written(
    treated: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, visit = treated
    out = tmp_path / "report.pdf"
    assert main(["--db", db, "record", "report", str(visit), "-o", str(out), "--language", "de"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--language='de'" in error and "en, fr" in error
    assert not out.exists()
