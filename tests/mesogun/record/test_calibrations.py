"""Calibration runs in the record (issue 16): saved with their audit entry (passed, failed or aborted), a device's
history, the calibration in force and its due date, the certificate as issued; bad input refused naming the
field with nothing saved; a run changed, its certificate swapped, a row deleted or forged behind the program's back
found by ``record verify``; and every shot and connection carries the device calibration in force. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import mesogun
from mesogun.clinic.actors import Actor
from mesogun.clinic.errors import DuplicateEntry
from mesogun.errors import ParameterError
from mesogun.record import SessionRecorder, TreatmentRecord
from mesogun.record.audit_crosscheck import crosscheck
from mesogun.record.audit_verify import verify_chain
from mesogun.record.calibrations import CalibrationBook, DueState, NoSuchCalibration
from tests.mesogun.record.audit_tampering import run_sql

TECH = Actor.of("tom.tech", ["technician"])
PDF = b"%PDF-1.7\n% a certificate\n%%EOF\n"


def save(book: CalibrationBook, run: str, **changes: Any) -> Any:
    """A run saved as the wizard saves one: passed, on SN1, due a year on (``changes`` over those values)."""
    values: dict[str, Any] = {
        "run_id": run,
        "device_serial": "SN1",
        "kind": "volume",
        "syringe_brand": "BD",
        "outcome": "passed",
        "technician": "tom.tech",
        "started_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        "finished_at": datetime(2026, 3, 2, 9, 40, tzinfo=UTC),
        "calibration_id": 1,
        "certificate_id": f"C-{run}",
        "due_at": datetime(2027, 3, 2, tzinfo=UTC),
        "certificate_pdf": PDF,
        "actor": TECH,
        "reason": "annual calibration",
    } | changes
    run_json = values.pop("run_json", json.dumps({"run_id": run, "as_found": [], "as_left": []}))
    return book.save(run_json, **values)


def audit_actions(record: TreatmentRecord) -> list[tuple[str, str]]:
    return [(str(a), str(e)) for a, e in record.rows("SELECT action, entity_id FROM audit_log ORDER BY seq")]


def test_a_run_is_saved_with_its_audit_entry_and_read_back(where: Path | str) -> None:
    with TreatmentRecord(where) as record:
        book = CalibrationBook(record)
        stored = save(book, "R1")
        assert (stored.outcome, stored.kind, stored.calibration_id, stored.has_certificate) == ("passed", "volume", 1,
                                                                                              True)  # fmt: skip
        assert stored.started_at == "2026-03-02T09:00:00+00:00" and stored.due_at == "2027-03-02T00:00:00+00:00"
        assert json.loads(stored.run_json)["run_id"] == "R1"
        assert book.certificate("R1") == PDF
        assert audit_actions(record) == [("calibration.save", "R1")]
        (entry,) = record.rows("SELECT actor, reason, new_value FROM audit_log")
        assert entry[:2] == ("tom.tech", "annual calibration")
        assert json.loads(entry[2])["outcome"] == "passed" and len(json.loads(entry[2])["certificate_sha256"]) == 64
    with TreatmentRecord(where, create=False) as again:
        assert verify_chain(again).intact and crosscheck(again, page=1) is None


def test_history_in_force_and_due_dates(where: Path | str) -> None:
    """Failed and aborted runs are history, never in force; the latest passed run is; due on a day, overdue the day
    after; a device with no passed run was never calibrated."""
    with TreatmentRecord(where) as record:
        book = CalibrationBook(record)
        assert book.due("SN1", date(2026, 1, 1)).state is DueState.NEVER
        save(book, "R1", calibration_id=1)
        save(
            book,
            "R2",
            outcome="aborted",
            calibration_id=None,
            started_at=datetime(2026, 4, 1, 9, tzinfo=UTC),
            finished_at=None,
            due_at=None,
            certificate_pdf=None,
        )
        save(book, "R3", kind="depth", syringe_brand="", outcome="failed", started_at=datetime(2026, 5, 1, tzinfo=UTC))
        save(book, "OTHER", device_serial="SN2")
        assert [run.run_id for run in book.history("SN1")] == ["R1", "R2", "R3"]
        assert [run.run_id for run in book.history()] == ["R1", "R2", "R3", "OTHER"]  # every device's, by serial
        in_force = book.latest_in_force("SN1")
        assert in_force is not None and in_force.run_id == "R1"
        for kind in ("depth", "rate"):  # every kind in force: the gun is
            save(book, f"R-{kind}", kind=kind, syringe_brand="", due_at=datetime(2027, 6, 1, tzinfo=UTC))
        assert book.due("SN1", date(2027, 3, 2)).state is DueState.IN_FORCE
        assert book.due("SN1", date(2027, 3, 2)).warning() is None
        overdue = book.due("SN1", date(2027, 3, 3))
        assert overdue.overdue and overdue.state is DueState.OVERDUE
        assert (overdue.due_at, overdue.run_id) == ("2027-03-02T00:00:00+00:00", "R1")  # the kind due first
        assert overdue.warning() == (
            "gun SN1's calibration is overdue: volume (BD) was due on 2027-03-02 (run R1, calibration id 1)"
        )
        assert book.due("SN9", date(2026, 1, 1)).warning() == (
            "gun SN9 has never been calibrated: its doses and depths are uncorrected"
        )
        with pytest.raises(NoSuchCalibration, match="R2 has no certificate"):
            book.certificate("R2")
        with pytest.raises(NoSuchCalibration, match="no calibration run R9") as missing:
            book.certificate("R9")
        assert missing.value.field == "run_id"
    with TreatmentRecord(where, create=False) as again:
        assert crosscheck(again, page=2) is None


def test_each_kind_is_due_by_its_own_runs_and_the_warning_names_the_missing_or_overdue_ones(
    where: Path | str,
) -> None:
    """A depth calibration does not stand for a volume one never done; volume is due per syringe brand."""
    with TreatmentRecord(where) as record:
        book = CalibrationBook(record)
        save(book, "D1", kind="depth", syringe_brand="", started_at=datetime(2026, 5, 1, tzinfo=UTC),
             finished_at=datetime(2026, 5, 1, 1, tzinfo=UTC))  # fmt: skip
        depth_only = book.due("SN1", date(2026, 6, 1))
        assert depth_only.state is DueState.OVERDUE  # volume and rate never done: not in force
        assert depth_only.warning() == "gun SN1's calibration is overdue: volume and rate never calibrated"
        save(book, "V-BD", due_at=datetime(2026, 5, 31, tzinfo=UTC))
        save(book, "V-T", syringe_brand="Terumo", due_at=datetime(2027, 3, 2, tzinfo=UTC))
        save(book, "R1", kind="rate", syringe_brand="")
        due = book.due("SN1", date(2026, 6, 1))
        states = {(k.kind, k.syringe_brand): k.state for k in due.kinds}
        assert states == {("volume", "BD"): DueState.OVERDUE, ("volume", "Terumo"): DueState.IN_FORCE,
                          ("depth", ""): DueState.IN_FORCE, ("rate", ""): DueState.IN_FORCE}  # fmt: skip
        assert due.warning() == (
            "gun SN1's calibration is overdue: volume (BD) was due on 2026-05-31 (run V-BD, calibration id 1)"
        )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "speed"}, "kind"),
        ({"outcome": "ok"}, "outcome"),
        ({"run_id": "  "}, "run_id"),
        ({"technician": ""}, "technician"),
        ({"started_at": "2026-03-02"}, "started_at"),
        ({"calibration_id": -1}, "calibration_id"),
        ({"certificate_pdf": b"<html>"}, "certificate_pdf"),
        ({"run_json": "[1, 2]"}, "run_json"),
        ({"run_json": "{not json"}, "run_json"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_saved(
    tmp_path: Path, changes: dict[str, Any], field: str
) -> None:
    with TreatmentRecord(tmp_path / "r.sqlite") as record:
        book = CalibrationBook(record)
        with pytest.raises(ParameterError) as refused:
            save(book, "R1", **changes)
        assert refused.value.field == field and field in str(refused.value)
        assert record.rows("SELECT count(*) FROM calibrations") == [(0,)]
        assert record.rows("SELECT count(*) FROM audit_log") == [(0,)]


def test_a_run_id_is_saved_once(tmp_path: Path) -> None:
    with TreatmentRecord(tmp_path / "r.sqlite") as record:
        book = CalibrationBook(record)
        save(book, "R1")
        with pytest.raises(DuplicateEntry) as twice:
            save(book, "R1", outcome="failed")
        assert twice.value.field == "run_id"
        assert record.rows("SELECT outcome FROM calibrations") == [("passed",)] and len(audit_actions(record)) == 1


def test_a_device_write_is_audited_old_to_new(tmp_path: Path) -> None:
    with TreatmentRecord(tmp_path / "r.sqlite") as record:
        CalibrationBook(record).audit_device_write(
            "SN1", old={"depth_offset_um": 0}, new={"depth_offset_um": -80}, actor=TECH, reason="depth calibration"
        )
        (entry,) = record.rows("SELECT action, entity, entity_id, old_value, new_value FROM audit_log")
        assert entry == ("calibration.write_device", "device_calibration", "SN1", '{"depth_offset_um":0}',
                         '{"depth_offset_um":-80}')  # fmt: skip
        assert crosscheck(record) is None


@pytest.mark.parametrize(
    ("sql", "field", "held"),
    [
        ("UPDATE calibrations SET outcome = 'passed' WHERE run_id = 'R2'", "outcome", '"passed"'),
        ("UPDATE calibrations SET due_at = '2030-01-01T00:00:00+00:00' WHERE run_id = 'R1'", "due_at",
         '"2030-01-01T00:00:00+00:00"'),
        ("UPDATE calibrations SET run_json = '{\"run_id\": \"R1\", \"as_left\": [1]}' WHERE run_id = 'R1'",
         "run_sha256", None),
    ],
)  # fmt: skip
def test_a_calibration_changed_behind_the_programs_back_is_found(
    where: Path | str, sql: str, field: str, held: str | None
) -> None:
    with TreatmentRecord(where) as record:
        book = CalibrationBook(record)
        save(book, "R1")
        save(book, "R2", outcome="failed", started_at=datetime(2026, 4, 1, tzinfo=UTC))
    run_sql(where, sql, drop_guard=False)
    with TreatmentRecord(where, create=False) as record:
        assert verify_chain(record).intact  # the chain is whole: only the cross-check can tell
        found = crosscheck(record)
    assert found is not None and (found.table, found.field) == ("calibrations", field)
    if held is not None:
        assert found.held == held


def test_a_swapped_certificate_a_deleted_run_and_a_forged_one_are_found(where: Path | str) -> None:
    with TreatmentRecord(where) as record:
        save(CalibrationBook(record), "R1")
    forged_pdf = b"%PDF-1.7\n% forged\n%%EOF\n"
    run_sql(where, ("UPDATE calibrations SET certificate_pdf = ? WHERE run_id = 'R1'", (forged_pdf,)), drop_guard=False)
    with TreatmentRecord(where, create=False) as record:
        found = crosscheck(record)
        assert found is not None and (found.table, found.row, found.field) == ("calibrations", "R1",
                                                                               "certificate_sha256")  # fmt: skip
    run_sql(where, "DELETE FROM calibrations", drop_guard=False)
    with TreatmentRecord(where, create=False) as record:
        found = crosscheck(record)
        assert found is not None and found.table == "calibrations" and "is gone" in found.describe()
        save(CalibrationBook(record), "R1")  # the id is free again: saved through the book, with its own entry
    run_sql(
        where,
        (
            "INSERT INTO calibrations (run_id, device_serial, kind, syringe_brand, outcome, technician, started_at,"
            " certificate_id, run_json, saved) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("R0", "SN1", "volume", "BD", "passed", "mallory", "2026-01-01T00:00:00+00:00", "", "{}", "2026"),
        ),
        drop_guard=False,
    )
    with TreatmentRecord(where, create=False) as record:
        found = crosscheck(record)
        assert found is not None and (found.table, found.row, found.audited) == ("calibrations", "R0", None)


def test_every_shot_and_connection_carries_the_device_calibration_in_force(real: Any, where: Path | str) -> None:
    """The connection's ``sessions.calibration`` is the device's identity ``calibration_id``; each shot's
    ``calibration_id`` what the device fired it with (0: factory), shown in ``record show --session``'s shots."""

    async def fire_two() -> int:
        async with mesogun.connect("sim://?serial=SN1", recorder=SessionRecorder(where)) as gun:
            await gun.load_syringe(capacity_ml=2)
            await gun.prime(volume_ml=0.01)
            await gun.configure(dose_ml=0.01, rate_hz=10, mode="burst")
            await gun.arm()
            assert len(await gun.fire(count=2)) == 2
            return gun.info.calibration_id

    in_force = real(fire_two)
    with TreatmentRecord(where, create=False) as record:
        (session,) = record.sessions()
        assert record.rows(f"SELECT calibration FROM sessions WHERE id = {session.session}") == [(str(in_force),)]
        assert [s.calibration_id for s in record.shots(session.session)] == [in_force, in_force]
        assert "calibration_id" in record.export(session.session, "csv").splitlines()[0]
