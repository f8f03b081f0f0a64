"""The record's migrations: a record written before SQLAlchemy and Alembic opens with nothing lost and reads exactly
as it did; every migrated database, old or new, SQLite or PostgreSQL, has the schema the code declares."""

from __future__ import annotations

import json
import sqlite3
import stat
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from firmware_protocol import make
from mesogun.errors import RecordError
from mesogun.record import TreatmentRecord, migrations
from mesogun.record.calibrations import CalibrationBook
from mesogun.record.schema import metadata
from mesogun.record.visits import VisitBook

DATA = Path(__file__).with_name("data")
BEFORE_ALEMBIC = DATA / "record_before_alembic.sql"
"""A record made by the sqlite3 code (main at f009a89), dumped as SQL: see its header."""
READ_THEN = DATA / "record_before_alembic.expected.json"
"""What that code read from it (:func:`read_out`, run with that code)."""


def read_out(record: TreatmentRecord) -> dict[str, Any]:
    """Everything a user can read from a record: summaries, shots, alarms, notes, anomalies, events, visits,
    unreceived ranges (the same function made the expected file with the code before the change)."""
    sessions = record.sessions()
    per_session = {
        str(s.session): {
            "shots": [asdict(shot) for shot in record.shots(s.session)],
            "alarms": [asdict(alarm) for alarm in record.alarms(s.session)],
            "notes": record.notes(s.session),
            "anomalies": record.anomalies(s.session),
            "events": record.events(s.session),
            "unreceived_ranges": record.unreceived_ranges(s.session),
            "export_csv": record.export(s.session, "csv"),
        }
        for s in sessions
    }
    visits = [asdict(visit) for visit in VisitBook(record).all()]
    return json.loads(
        json.dumps({"sessions": [asdict(s) for s in sessions], "per_session": per_session, "visits": visits})
    )


def as_read_then(read: dict[str, Any]) -> dict[str, Any]:
    """What the code before issue 16 read: the same without the shots' ``calibration_id`` (added by revision 0007),
    which every shot of the old file has as ``None`` (the CSV's last column, empty)."""
    for per_session in read["per_session"].values():
        for shot in per_session["shots"]:
            assert shot.pop("calibration_id") is None
        lines = per_session["export_csv"].split("\r\n")
        assert lines[0].endswith(",calibration_id") and all(line.endswith(",") for line in lines[1:] if line)
        per_session["export_csv"] = "\r\n".join(line.rsplit(",", 1)[0] if line else line for line in lines)
    return read


def legacy_record(tmp_path: Path) -> Path:
    """The record made before the change, as a file again."""
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as con:
        con.executescript(BEFORE_ALEMBIC.read_text())
    con.close()
    return db


def test_a_record_made_before_alembic_opens_with_nothing_lost(tmp_path: Path) -> None:
    """Sessions, shots (a partial one, a late one that split an unreceived range), unreceived ranges, an alarm, a
    note, an anomaly, a between-sessions entry with an alarm found at a connect, and a visit: all read exactly as
    the sqlite3 code read them (their shots' device calibration unknown); the file is then at the newest revision
    and takes new shots, each with the device calibration it was fired with, and calibration runs."""
    db = legacy_record(tmp_path)
    with TreatmentRecord(db, create=False) as record:
        assert as_read_then(read_out(record)) == json.loads(READ_THEN.read_text())
        with record.reading() as connection:  # a read transaction of its own: else the writes below join one
            assert migrations.current(connection) == migrations.head()  # that is never committed
        assert record.rows("SELECT count(*) FROM calibrations") == [(0,)]
        assert {row[0] for row in record.rows("SELECT calibration FROM sessions")} == {None}
        session = record.start_session("SN1", hardware_id="ab12", counter_epoch=7)
        assert record.reconcile(session, 6_000_004, at_connect=True) == 1
        record.log_message(
            session,
            "device",
            make("shot", seq=1, shot_index=6_000_005, fire_seq=1, dose_nl=10, depth_um=500, device_time_ms=1),
        )
        assert [(s.shot_index, s.received, s.calibration_id) for s in record.shots(session)] == [(6_000_005, True, 0)]
        CalibrationBook(record).save(
            "{}",
            run_id="R1",
            device_serial="SN1",
            kind="depth",
            outcome="passed",
            technician="tom",
            started_at=datetime(2026, 3, 1, tzinfo=UTC),
            actor="tom",
        )
    with TreatmentRecord(db, create=False) as again:  # opened again: nothing to migrate, nothing changed
        assert again.session(1).shots_recorded == 3 and again.unreceived_ranges(1)[:2] == [(3, 3), (5, 6)]
        assert [s.calibration_id for s in again.shots(session)] == [0]
        assert [run.run_id for run in CalibrationBook(again).history("SN1")] == ["R1"]


def test_the_legacy_record_is_migrated_to_the_declared_schema(tmp_path: Path) -> None:
    """After the migrations an old file has every table, column, index and key the code declares (Alembic's own
    comparison finds no difference), so later revisions can rely on it."""
    db = legacy_record(tmp_path)
    with TreatmentRecord(db, create=False) as record:
        assert schema_differences(record) == []


def test_a_new_record_has_the_declared_schema(where: Path | str) -> None:
    """A record created by the migrations, on each backend, is what :mod:`mesogun.record.schema` declares."""
    with TreatmentRecord(where) as record:
        assert schema_differences(record) == []
        assert migrations.current(record._db) == migrations.head()


def schema_differences(record: TreatmentRecord) -> list[Any]:
    """What Alembic's autogenerate would change to make the record's database match the declared schema."""
    db = record._db
    with db.begin():
        context = MigrationContext.configure(db, opts={"compare_type": True})
        return [diff for diff in compare_metadata(context, metadata) if not _comment_only(diff)]


def _comment_only(diff: Any) -> bool:
    """Not a difference in what the record stores: column and table comments (documentation; SQLite has none), and
    the nullability SQLite reflects for a primary key the sqlite3 code did not declare NOT NULL (an INTEGER one is
    the rowid, never NULL; the record never writes a NULL device serial)."""
    steps = diff if isinstance(diff, list) else [diff]
    primary_keys = {(table.name, column.name) for table in metadata.tables.values() for column in table.primary_key}
    return all(
        step[0] in ("modify_comment", "add_table_comment")
        or (step[0] == "modify_nullable" and (step[2], step[3]) in primary_keys)
        for step in steps
    )


def test_a_new_record_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """A treatment record holds patients' treatments: a new file is 0600 whatever the umask lets through."""
    db = tmp_path / "r.sqlite"
    with TreatmentRecord(db) as record:
        record.start_session("SN1")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_a_reader_of_an_empty_postgresql_database_finds_no_record(postgres_url: str) -> None:
    """``create=False`` (``mesogun record list``) on a database that holds no record says so and creates none."""
    with pytest.raises(RecordError, match="no treatment record in postgresql://"):
        TreatmentRecord(postgres_url, create=False)
    with TreatmentRecord(postgres_url) as record:  # a writer creates it
        assert record.sessions() == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://db.clinic/record", "mysql is not supported"),
        ("sqlite://", "names no file"),
        ("postgresql://nobody@/record?host=/nonexistent-folder", "cannot open the treatment record postgresql://"),
    ],
)
def test_a_url_the_record_cannot_use_is_one_line_naming_it(url: str, says: str) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(RecordError, match=says) as refused:
        TreatmentRecord(url)
    assert "\n" not in str(refused.value)


def test_a_password_in_the_url_is_never_shown(postgres_cluster: str) -> None:
    """Messages and ``repr`` name a PostgreSQL record by its URL without the password."""
    url = postgres_cluster.format(database="no_such_database").replace("postgres@", "postgres:s3cret@")
    with pytest.raises(RecordError) as refused:
        TreatmentRecord(url)
    assert "s3cret" not in str(refused.value) and "***" in str(refused.value)


def test_the_head_known_without_alembic_is_the_scripts_head() -> None:
    assert migrations.head() == migrations.HEAD
