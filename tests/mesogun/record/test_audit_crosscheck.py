"""The clinical tables checked against the audit log: a clinic written through its books verifies (erasure too);
a clinical row changed, deleted or inserted behind the program's back (the chain left whole) is named, with its
table, row, field, both values and the entry; ``mesogun record verify`` exits 6 with one line (MG781). On SQLite
and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from firmware_protocol import Mode
from mesogun.cli import main
from mesogun.clinic.checklist import DEFAULT_ITEMS
from mesogun.clinic.presets import define
from mesogun.record import TreatmentRecord
from mesogun.record.audit_crosscheck import Mismatch, crosscheck
from mesogun.record.audit_verify import verify_chain
from mesogun.record.courses import CourseBook
from mesogun.record.patients import PatientBook
from mesogun.record.presets import PresetBook
from tests.mesogun.record.audit_tampering import run_sql
from tests.mesogun.record.clinic_support import ALL_CLEAR, DR, clinic

CONTRAINDICATION = DEFAULT_ITEMS[0].id


def make_clinic(where: Path | str) -> dict[str, int]:
    """Everything the books write, through them: a patient with an identity, a course (closed), a lot, a preset,
    and a treatment session with a contraindication overridden, a soft limit overridden, a zone change, a note,
    an adverse event, aftercare and the sign-off; then a second, open session. Its ids."""
    with TreatmentRecord(where) as record:
        c = clinic(record)
        PresetBook(record).define(
            define("lips", depth_mm=1.0, dose_ml=0.01, rate_hz=2.5, mode="single", max_depth_mm=1.5), actor=DR
        )
        visit = c.start(checklist={**ALL_CLEAR, CONTRAINDICATION: True}, override_reason="cleared by the GP")
        c.treatment.change_zone(visit, "face.glabella", actor=DR)
        breaches = c.treatment.check_limits(visit, mode=Mode.BURST, depth_mm=2.6, dose_ml=0.01)
        c.treatment.override(visit, breaches, "thick dermis", actor=DR)
        c.treatment.note(visit, "patient tolerated well", actor=DR)
        c.treatment.adverse_event(visit, kind="bruising", severity="mild", detail="glabella, 5 mm", actor=DR)
        c.treatment.give_aftercare(visit, actor=DR)
        c.treatment.sign_off(visit, actor=DR)
        second = c.start(c.serial2)
        PatientBook(record).correct(c.patient, actor=DR, reason="typo", changes={"name": "Ada King"})
        CourseBook(record).close(c.course, actor=DR)
        return {"patient": c.patient, "visit": visit, "second": second}


def check(where: Path | str, *, page: int = 2) -> Mismatch | None:
    """The chain verified, then the cross-check, in pages of 2 rows (so rows fall on page edges)."""
    with TreatmentRecord(where, create=False) as record:
        assert verify_chain(record).intact
        return crosscheck(record, page=page)


def test_a_clinic_written_through_its_books_verifies(where: Path | str) -> None:
    make_clinic(where)
    assert check(where) is None
    assert check(where, page=10_000) is None


def test_erasure_still_verifies(where: Path | str) -> None:
    ids = make_clinic(where)
    with TreatmentRecord(where) as record:
        PatientBook(record).erase(ids["patient"], actor=DR, reason="patient's request (GDPR art. 17)")
    assert check(where) is None
    run_sql(where, f"UPDATE patient_identities SET erased = 0 WHERE patient_id = {ids['patient']}", drop_guard=False)
    found = check(where)
    assert found is not None and (found.table, found.field, found.held, found.audited) == (
        "patient_identities",
        "erased",
        "0",
        "1",
    )


@pytest.mark.parametrize(
    ("sql", "table", "field", "held", "audited"),
    [
        ("UPDATE overrides SET reason = 'patient insisted' WHERE limit_name = 'preset.face.max_depth_mm'", "overrides",
         "reason", '"patient insisted"', '"thick dermis"'),
        ("UPDATE visits SET zone = 'face.cheeks' WHERE id = {visit}", "visits", "zone", '"face.cheeks"',
         '"face.glabella"'),
        ("UPDATE checklist_answers SET present = 0 WHERE visit_id = {visit} AND item = '" + CONTRAINDICATION + "'",
         "checklist_answers", "present", "0", "1"),
    ],
)  # fmt: skip
def test_a_changed_clinical_field_is_named_with_both_values_and_its_entry(
    where: Path | str, sql: str, table: str, field: str, held: str, audited: str
) -> None:
    ids = make_clinic(where)
    run_sql(where, sql.format(**ids), drop_guard=False)
    found = check(where)
    assert found is not None and (found.table, found.field, found.held, found.audited) == (table, field, held, audited)
    assert found.seq is not None and f"(entry {found.seq})" in found.describe()
    with TreatmentRecord(where, create=False) as record:
        rows = record.rows(f"SELECT action FROM audit_log WHERE seq = {found.seq}")
    assert rows[0][0] in {"session.override", "session.zone", "session.start"}


def test_a_changed_identity_is_named_by_digest_never_its_value(where: Path | str) -> None:
    ids = make_clinic(where)
    run_sql(where, f"UPDATE patient_identities SET name = 'Mallory' WHERE patient_id = {ids['patient']}")
    found = check(where)
    assert found is not None and (found.table, found.row, found.field) == ("patient_identities", str(ids["patient"]),
                                                                            "name")  # fmt: skip
    assert found.held is not None and "hmac-sha256:" in found.held and "Mallory" not in found.describe()
    assert found.audited is not None and "hmac-sha256:" in found.audited and "Ada" not in found.describe()


def test_a_deleted_adverse_event_is_named(where: Path | str) -> None:
    ids = make_clinic(where)
    run_sql(where, "DELETE FROM adverse_events", drop_guard=False)
    found = check(where)
    assert found is not None and (found.table, found.field, found.held) == ("adverse_events", None, None)
    assert "is gone" in found.describe() and "bruising" in found.describe() and str(ids["visit"]) in found.row


def test_a_forged_aftercare_row_is_named_as_not_on_the_audit_log(where: Path | str) -> None:
    ids = make_clinic(where)
    run_sql(
        where,
        (
            "INSERT INTO aftercare (visit_id, ts, advice, given_by) VALUES (?, ?, ?, ?)",
            (ids["second"], "2026-03-10T10:00:00.000+00:00", "no aftercare needed", "dr.lee"),
        ),
        drop_guard=False,
    )
    found = check(where)
    assert found is not None and (found.table, found.audited) == ("aftercare", None)
    assert found.describe().endswith("is not on the audit log (inserted behind the program's back)")


def test_record_verify_exits_6_with_one_line_naming_the_row(
    where: Path | str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_clinic(where)
    assert main(["record", "verify", "--db", str(where)]) == 0
    assert "the clinical tables match it" in capsys.readouterr().out
    run_sql(where, "UPDATE overrides SET reason = 'patient insisted'", drop_guard=False)
    assert main(["record", "verify", "--db", str(where)]) == 6
    out = capsys.readouterr()
    errors = [line for line in out.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "MG781" not in out.out
    assert "overrides row" in errors[0] and 'reason: the row holds "patient insisted"' in errors[0]
    assert main(["record", "verify", "--db", str(where), "--json"]) == 6
    report: dict[str, Any] = __import__("json").loads(capsys.readouterr().out)
    assert not report["intact"] and report["broken"] is None and report["mismatch"]["table"] == "overrides"
