"""Reading a patient's identifying details straight from the record (``mesogun record show|report|aftercare …
--identified``, no service) is an audit entry: who (the OS user), through what, why; it changes nothing the
cross-check sees, an edit of it breaks the chain there, and a name whose entry cannot be written is not shown.
On SQLite and PostgreSQL."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from mesogun.cli import main
from mesogun.record import TreatmentRecord
from mesogun.record.audit_crosscheck import crosscheck
from mesogun.record.audit_verify import verify_chain
from mesogun.record.patients import READ_IDENTIFIED, PatientBook
from tests.mesogun.record.audit_tampering import run_sql
from tests.mesogun.record.clinic_support import DR, clinic

REFUSE_ENTRIES = {
    "sqlite": (
        "CREATE TRIGGER audit_log_full BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk is full'); END",
    ),
    "postgresql": (
        "CREATE FUNCTION audit_log_full() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'disk is full'; END $$",
        "CREATE TRIGGER audit_log_full BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_full()",
    ),
}
"""An audit log that no longer takes entries (as a full disk would refuse them)."""


def treated(where: Path | str) -> tuple[int, int]:
    """A treatment session of a patient with a name: (visit, patient)."""
    with TreatmentRecord(where) as record:
        c = clinic(record)
        return c.start(), c.patient


def reads(where: Path | str) -> list[tuple[int, str, str, str, str]]:
    with TreatmentRecord(where, create=False) as record:
        rows = record.rows(
            f"SELECT seq, actor, entity_id, reason, new_value FROM audit_log WHERE action = '{READ_IDENTIFIED}'"
            " ORDER BY seq"
        )
    return [(int(seq), actor, entity_id, reason, json.loads(new)["via"]) for seq, actor, entity_id, reason, new in rows]


def test_an_identified_show_is_an_entry_naming_the_os_user_and_the_reason(
    where: Path | str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    visit, patient = treated(where)
    db = str(where)
    assert main(["--db", db, "record", "show", str(visit)]) == 0  # pseudonymous: no entry
    assert reads(where) == []
    assert main(["--db", db, "record", "show", str(visit), "--identified", "--reason", "patient on the phone"]) == 0
    assert "(Ada Byron)" in capsys.readouterr().out
    report = tmp_path / "report.html"
    assert main(["--db", db, "record", "report", str(visit), "--identified", "-o", str(report)]) == 0
    me = f"cli:{getpass.getuser()}"
    assert [entry[1:] for entry in reads(where)] == [
        (me, str(patient), "patient on the phone", f"mesogun record show {visit}"),
        (me, str(patient), "", f"mesogun record report {visit}"),
    ]
    with TreatmentRecord(where, create=False) as record:
        assert verify_chain(record).intact and crosscheck(record) is None


def test_an_erased_patient_shows_no_name_and_enters_no_read(where: Path | str) -> None:
    visit, patient = treated(where)
    with TreatmentRecord(where) as record:
        PatientBook(record).erase(patient, actor=DR, reason="right to erasure")
    assert main(["--db", str(where), "record", "show", str(visit), "--identified"]) == 0
    assert reads(where) == []


def test_an_edited_read_entry_is_named_by_record_verify(where: Path | str, capsys: pytest.CaptureFixture[str]) -> None:
    visit, _ = treated(where)
    assert main(["--db", str(where), "record", "show", str(visit), "--identified", "--reason", "audit"]) == 0
    ((seq, *_),) = reads(where)
    run_sql(where, f"UPDATE audit_log SET actor = 'someone.else' WHERE seq = {seq}")
    capsys.readouterr()
    assert main(["--db", str(where), "record", "verify"]) == 6
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"broken at entry {seq} ({READ_IDENTIFIED} at" in errors[0]


def test_a_name_whose_read_cannot_be_entered_is_not_shown(
    where: Path | str, capsys: pytest.CaptureFixture[str]
) -> None:
    visit, _ = treated(where)
    run_sql(where, *REFUSE_ENTRIES["sqlite" if isinstance(where, Path) else "postgresql"], drop_guard=False)
    assert main(["--db", str(where), "record", "show", str(visit), "--identified"]) == 6
    out = capsys.readouterr()
    assert "Ada Byron" not in out.out + out.err and out.err.count("\n") == 1, out
    assert main(["--db", str(where), "record", "show", str(visit)]) == 0  # pseudonymous: nothing to enter
    assert "Ada Byron" not in capsys.readouterr().out
