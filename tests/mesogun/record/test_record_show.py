"""``mesogun record show VISIT``: a treatment session's summary from the record (pseudonymous unless
--identified), on SQLite and PostgreSQL, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesogun.cli import main
from mesogun.record import TreatmentRecord
from tests.mesogun.record.clinic_support import DR, Clinic, clinic, connect, fire


def _treated(record: TreatmentRecord) -> tuple[Clinic, int]:
    """A signed-off session of a new clinic in ``record``: 4 shots in the forehead, 2 in the right cheek."""
    c = clinic(record)
    visit = c.start()
    session = connect(record, c.serial, visit)
    fire(record, session, 1, 4)
    c.treatment.change_zone(visit, "face.cheek_right", actor=DR)
    fire(record, session, 5, 2, depth_um=2000)
    c.treatment.adverse_event(visit, kind="bruising", severity="mild", actor=DR)
    c.treatment.give_aftercare(visit, ["SPF 30+"], actor=DR)
    c.treatment.sign_off(visit, actor=DR)
    return c, visit


def db_of(record: TreatmentRecord) -> str:
    """The record as ``--db`` names it (the same file or database, opened again by the command)."""
    return str(record.location.given)


def test_show_prints_the_sessions_summary(shared_record: TreatmentRecord, capsys: pytest.CaptureFixture[str]) -> None:
    c, visit = _treated(shared_record)
    db = db_of(shared_record)
    assert main(["--db", db, "record", "show", str(visit)]) == 0
    out = capsys.readouterr().out
    fields = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines()[:17] if line.split()}
    assert fields["patient"] == c.pseudonym and "Ada" not in out
    assert fields["course"] == f"{c.course}: skin rejuvenation, session 1 of 4, every 14 days"
    assert fields["lots"] == f"NCTF 135 HA lot {c.lot_number} (expires 2026-12-31)"
    assert fields["shots"] == "6 (0 unreceived), 0.12 mL" and fields["depth_mm"] == "1.5-2"
    assert fields["signed_off"].startswith("dr.lee at ") and fields["signed_off"].endswith(
        "performed and reviewed the treatment"
    )
    zones = [line.split() for line in out.splitlines() if line.startswith("face.")]
    assert zones == [
        ["face.forehead", "Forehead", "4", "0.08", "1.5"],
        ["face.cheek_right", "Cheek", "(right)", "2", "0.04", "2"],
    ]
    assert "checklist:\n  pregnancy: no" in out and "adverse events:\n  " in out and "bruising (mild, by dr.lee)" in out
    assert "aftercare:\n  SPF 30+" in out and "overrides: none" in out and "alarms: none" in out


def test_show_json_and_identified(shared_record: TreatmentRecord, capsys: pytest.CaptureFixture[str]) -> None:
    c, visit = _treated(shared_record)
    db = db_of(shared_record)
    assert main(["--db", db, "record", "show", str(visit), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["patient"] == c.pseudonym and shown["patient_name"] is None
    assert [(z["zone"], z["shots"]) for z in shown["zones"]] == [("face.forehead", 4), ("face.cheek_right", 2)]
    assert main(["--db", db, "record", "show", str(visit), "--json", "--identified"]) == 0
    assert json.loads(capsys.readouterr().out)["patient_name"] == "Ada Byron"
    assert main(["--db", db, "record", "show", str(visit), "--identified"]) == 0
    assert f"{c.pseudonym} (Ada Byron)" in capsys.readouterr().out


def test_show_of_no_such_visit_or_two_things_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "r.sqlite")
    TreatmentRecord(db).close()
    assert main(["--db", db, "record", "show", "42"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no visit 42 in the treatment record" in err and db in err
    assert main(["--db", db, "record", "show", "1", "--session", "1"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["--db", db, "record", "show"]) == 2
