"""Plain visits (opened and closed without a patient: ``mesogun visit open|close``, the service's visit routes) are
on the audit log: each open and close is an entry; an entry edited behind the program's back breaks the chain
there, and a visit row changed, deleted or inserted is named by the cross-check; the plain visits of a record
made before they were audited still verify. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesogun.cli import main
from mesogun.record import TreatmentRecord
from mesogun.record.audit_crosscheck import Mismatch, crosscheck
from mesogun.record.audit_verify import verify_chain
from mesogun.record.visits import VisitBook
from tests.mesogun.record.audit_tampering import run_sql
from tests.mesogun.record.clinic_support import clinic

INSERT_PLAIN = (
    "INSERT INTO visits (device_serial, opened, opened_by, note)"
    " VALUES ('SIM0009', '2025-01-01T09:00:00.000+00:00', 'dr.jones', '')"
)
"""A plain visit written without its entry (by an older version, or behind the program's back)."""


def make_visits(where: Path | str) -> dict[str, int]:
    """A treatment session, then a plain visit opened and closed, and one left open. Their ids."""
    with TreatmentRecord(where) as record:
        c = clinic(record)
        treated = c.start()
        book = VisitBook(record)
        closed = book.open("SIM0007", opened_by="dr.jones", note="walk-in").id
        book.close(closed, closed_by="nurse.kim")
        still_open = book.open("SIM0008", opened_by="dr.jones").id
        return {"treated": treated, "closed": closed, "open": still_open}


def entries(where: Path | str, action: str) -> list[tuple[int, str, str, str | None]]:
    with TreatmentRecord(where, create=False) as record:
        rows = record.rows(
            f"SELECT seq, actor, entity_id, new_value FROM audit_log WHERE action = '{action}' ORDER BY seq"
        )
    return [(int(seq), actor, entity_id, new) for seq, actor, entity_id, new in rows]


def mismatch(where: Path | str) -> Mismatch | None:
    with TreatmentRecord(where, create=False) as record:
        assert verify_chain(record).intact
        return crosscheck(record, page=2)


def test_opening_and_closing_a_visit_are_entries_and_verify(where: Path | str) -> None:
    ids = make_visits(where)
    opened = entries(where, "visit.open")
    assert [(actor, int(entity_id)) for _, actor, entity_id, _ in opened] == [
        ("dr.jones", ids["closed"]),
        ("dr.jones", ids["open"]),
    ]
    assert json.loads(opened[0][3] or "")["note"] == "walk-in"
    ((_, closer, closed_id, new),) = entries(where, "visit.close")
    assert (closer, int(closed_id), json.loads(new or "")["closed_by"]) == ("nurse.kim", ids["closed"], "nurse.kim")
    assert mismatch(where) is None


@pytest.mark.parametrize("action", ["visit.open", "visit.close"])
def test_an_edited_visit_entry_is_named_by_record_verify(
    where: Path | str, action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_visits(where)
    seq = entries(where, action)[0][0]
    run_sql(where, f"UPDATE audit_log SET actor = 'someone.else' WHERE seq = {seq}")
    assert main(["record", "verify", "--db", str(where)]) == 6
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"broken at entry {seq} ({action} at" in errors[0] and "altered" in errors[0]


@pytest.mark.parametrize(
    ("statement", "field", "held", "audited"),
    [
        ("UPDATE visits SET opened_by = 'eve' WHERE id = {closed}", "opened_by", '"eve"', '"dr.jones"'),
        ("UPDATE visits SET closed_by = 'eve' WHERE id = {closed}", "closed_by", '"eve"', '"nurse.kim"'),
        ("UPDATE visits SET closed = NULL, closed_by = NULL WHERE id = {closed}", "closed", "null", None),
        ("UPDATE visits SET note = '' WHERE id = {closed}", "note", '""', '"walk-in"'),
        ("UPDATE visits SET device_serial = 'SIM0001' WHERE id = {open}", "device_serial", '"SIM0001"', '"SIM0008"'),
    ],
)
def test_a_changed_visit_row_is_named(
    where: Path | str, statement: str, field: str, held: str, audited: str | None
) -> None:
    ids = make_visits(where)
    run_sql(where, statement.format(**ids), drop_guard=False)
    found = mismatch(where)
    assert found is not None and (found.table, found.field, found.held) == ("visits", field, held), found
    assert audited is None or found.audited == audited


def test_a_deleted_or_inserted_plain_visit_is_named(where: Path | str) -> None:
    ids = make_visits(where)
    run_sql(where, INSERT_PLAIN, drop_guard=False)
    found = mismatch(where)
    assert found is not None and found.table == "visits" and found.audited is None  # no entry accounts for it
    assert "not on the audit log" in found.describe()
    run_sql(where, "DELETE FROM visits WHERE device_serial = 'SIM0009'", f"DELETE FROM visits WHERE id = {ids['open']}")
    found = mismatch(where)
    assert found is not None and (found.table, found.row, found.held) == ("visits", str(ids["open"]), None)
    assert "deleted" in found.describe()


def test_plain_visits_of_an_older_record_without_entries_still_verify(where: Path | str) -> None:
    with TreatmentRecord(where) as record:  # as the version before visits were audited wrote them
        record.rows("SELECT 1")
    run_sql(where, INSERT_PLAIN, INSERT_PLAIN.replace("SIM0009", "SIM0010"), drop_guard=False)
    assert mismatch(where) is None
    with TreatmentRecord(where) as record:
        VisitBook(record).open("SIM0011", opened_by="dr.jones")
    assert mismatch(where) is None  # the older ones stay unaudited
    run_sql(where, INSERT_PLAIN.replace("SIM0009", "SIM0012"), drop_guard=False)
    found = mismatch(where)
    assert found is not None and found.table == "visits" and found.audited is None  # newer than the first entry
