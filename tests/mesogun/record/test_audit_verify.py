"""The audit log's verification: an intact log verifies; an entry altered, inserted or deleted behind the program's
back (with the sqlite3 module or psycopg, the append-only triggers dropped first) is named, the first one, with
its action and time; what a chain cannot show alone shows against a head noted earlier. On SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import update

from mesogun.errors import ParameterError, RecordError
from mesogun.record import TreatmentRecord
from mesogun.record import schema as t
from mesogun.record.audit import GENESIS, AuditEntry
from mesogun.record.audit_verify import BreakKind, ChainReport, Head, verify_chain
from tests.mesogun.record.audit_tampering import (
    ENTRIES,
    forged,
    make_log,
    rehash_from,
    renumber,
    run_sql,
)


def verify(where: Path | str, *, expect_head: Head | None = None, page: int = 4) -> ChainReport:
    """Verify in pages of 4 entries, so breaks fall inside pages and on their edges."""
    with TreatmentRecord(where, create=False) as record:
        return verify_chain(record, expect_head=expect_head, page=page)


def broken_at(report: ChainReport) -> tuple[BreakKind, int]:
    assert report.broken is not None, report
    return report.broken.kind, report.broken.seq


def test_an_intact_log_verifies_and_gives_its_head(where: Path | str) -> None:
    entries = make_log(where)
    report = verify(where)
    assert report.intact and report.guarded
    assert (report.entries, report.head) == (ENTRIES, Head(ENTRIES, entries[-1].hash))
    assert verify(where, expect_head=report.head).intact
    assert verify(where, expect_head=Head(4, entries[3].hash[:16])).intact  # an older head, noted by hand


def test_an_empty_log_verifies(where: Path | str) -> None:
    TreatmentRecord(where).close()
    report = verify(where)
    assert report.intact and (report.entries, report.head) == (0, Head(0, GENESIS))


@pytest.mark.parametrize("seq", [1, 5, ENTRIES])
def test_an_altered_field_names_that_entry(where: Path | str, seq: int) -> None:
    entries = make_log(where)
    run_sql(where, ("UPDATE audit_log SET new_value = ? WHERE seq = ?", ('{"lot":"L-OTHER"}', seq)))
    report = verify(where)
    assert broken_at(report) == (BreakKind.ALTERED, seq)
    assert report.broken is not None and report.broken.entry is not None
    assert (report.broken.entry.action, report.broken.entry.ts) == (entries[seq - 1].action, entries[seq - 1].ts)
    assert report.entries == seq - 1 and report.head.seq == seq - 1
    assert not report.guarded  # the tamperer dropped the triggers


def test_an_altered_entry_with_its_hash_recomputed_is_named_by_the_next_entry(where: Path | str) -> None:
    entries = make_log(where)
    rehash_from(where, entries[:5], 5, reason="nobody will notice")  # entry 5 only: 6 still chains to the old 5
    assert broken_at(verify(where)) == (BreakKind.ALTERED, 5)


@pytest.mark.parametrize(("deleted", "first"), [("seq = 5", 5), ("seq IN (4, 5, 6)", 4), ("seq <= 2", 1)])
def test_a_deleted_entry_is_named(where: Path | str, deleted: str, first: int) -> None:
    entries = make_log(where)
    run_sql(where, f"DELETE FROM audit_log WHERE {deleted}")
    report = verify(where)
    assert broken_at(report) == (BreakKind.DELETED, first)
    assert report.broken is not None and report.broken.entry is not None
    after = report.broken.entry
    assert after.seq > first and after.action == entries[after.seq - 1].action  # the next entry still there
    assert f"broken at entry {first}" in report.broken.describe()


def test_a_deleted_entry_with_the_rest_renumbered_is_named(where: Path | str) -> None:
    make_log(where)
    run_sql(where, "DELETE FROM audit_log WHERE seq = 5", *renumber("seq > 5", -1))
    assert broken_at(verify(where)) == (BreakKind.DELETED, 5)


@pytest.mark.parametrize("linked", [True, False], ids=["chained-to-its-predecessor", "chained-to-nothing"])
def test_an_inserted_forged_entry_is_named(where: Path | str, linked: bool) -> None:
    """The forger moves entries 6… up and puts a well-formed entry in 6 (its own hash right)."""
    entries = make_log(where)
    prev = entries[4].hash if linked else "f" * 64
    run_sql(where, *renumber("seq >= 6", 1), forged(6, prev, action="lot.add"))
    report = verify(where)
    assert broken_at(report) == (BreakKind.INSERTED, 6)
    assert report.broken is not None and report.broken.entry is not None
    assert (report.broken.entry.actor, report.broken.entry.action) == ("intruder", "lot.add")


def test_removed_newest_entries_show_against_the_noted_head(where: Path | str) -> None:
    """A chain with its newest entries cut off is a shorter intact chain: only the head noted earlier shows it."""
    make_log(where)
    noted = verify(where).head
    run_sql(where, "DELETE FROM audit_log WHERE seq > 7")
    assert verify(where).intact
    report = verify(where, expect_head=noted)
    assert broken_at(report) == (BreakKind.TRUNCATED, 8)
    assert report.broken is not None and f"entries 8-{ENTRIES}" in report.broken.detail


def test_a_log_rewritten_with_its_hashes_recomputed_shows_against_the_noted_head(where: Path | str) -> None:
    entries = make_log(where)
    noted = verify(where).head
    rehash_from(where, entries, 7, reason="rewritten")
    assert verify(where).intact  # what a hash chain cannot show by itself
    report = verify(where, expect_head=noted)
    assert broken_at(report) == (BreakKind.REWRITTEN, ENTRIES)
    assert verify(where, expect_head=Head(6, entries[5].hash)).intact  # the log up to 6 is the one noted then


def test_the_first_of_several_breaks_is_named(where: Path | str) -> None:
    make_log(where)
    run_sql(where, "DELETE FROM audit_log WHERE seq = 8", "UPDATE audit_log SET actor = 'x' WHERE seq = 3")
    assert broken_at(verify(where, page=1000)) == (BreakKind.ALTERED, 3)


def test_an_entry_cannot_be_changed_or_removed_through_sql(where: Path | str) -> None:
    """The append-only triggers refuse an UPDATE or DELETE, through the program's connection or another one."""
    make_log(where)
    with TreatmentRecord(where) as record:
        with pytest.raises(RecordError, match="append-only"), record.transaction() as db:
            db.execute(update(t.audit_log).where(t.audit_log.c.seq == 5).values(actor="someone else"))
        assert record.rows("SELECT actor FROM audit_log WHERE seq = 5") == [("dr.jones",)]
    driver_error: type[Exception] = sqlite3.IntegrityError
    if not isinstance(where, Path):
        from psycopg.errors import RestrictViolation

        driver_error = RestrictViolation
    for statement in ("UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log WHERE seq = 5"):
        with pytest.raises(driver_error, match="append-only"):
            run_sql(where, statement, drop_guard=False)
    if isinstance(where, Path):
        with pytest.raises(driver_error, match="append-only"):
            run_sql(where, "INSERT OR REPLACE INTO audit_log SELECT * FROM audit_log WHERE seq = 5", drop_guard=False)
    else:
        with pytest.raises(driver_error, match="append-only"):
            run_sql(where, "TRUNCATE audit_log", drop_guard=False)
    report = verify(where)
    assert report.intact and report.guarded and report.entries == ENTRIES


def test_a_noted_head_must_be_seq_and_hash() -> None:
    assert Head.parse(" 12:ABCDEF0123456789 ") == Head(12, "abcdef0123456789")
    for bad in ("12", "x:abcdef0123456789", "12:abc", "12:" + "g" * 16, "12:" + "a" * 65):
        with pytest.raises(ParameterError, match="--expect-head") as raised:
            Head.parse(bad)
        assert raised.value.field == "expect_head"


def test_an_entry_as_stored_is_what_append_audit_returned(where: Path | str) -> None:
    entries = make_log(where, 3)
    with TreatmentRecord(where) as record:
        stored = [AuditEntry(*row) for row in record.rows("SELECT * FROM audit_log ORDER BY seq")]
    assert stored == entries
