"""The treatment record: durable shots, no duplicates, reconciliation with the device's counter."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from firmware_protocol import AlarmCode, Message, make
from mesogun.errors import RecordError
from mesogun.record import BETWEEN_SESSIONS, MAX_PLAUSIBLE_UNRECEIVED, TreatmentRecord, store


def _shot(index: int, dose_nl: int = 50_000) -> Message:
    return make("shot", seq=index, shot_index=index, fire_seq=8, depth_um=2500, dose_nl=dose_nl, device_time_ms=index)


def test_a_partial_shot_is_stored_with_its_volume_and_the_summary_adds_delivered_volumes(where: Path | str) -> None:
    """A stroke cut by an alarm is a shot on record, marked partial with the volume the device estimates left;
    the session's volume is the sum of what each shot delivered, not of the set doses."""
    with TreatmentRecord(where) as record:
        session = record.start_session("SN1")
        record.reconcile(session, 0)
        record.log_message(session, "device", _shot(1))
        cut = make(
            "shot",
            seq=2,
            shot_index=2,
            fire_seq=8,
            depth_um=2500,
            dose_nl=50_000,
            device_time_ms=2,
            partial=True,
            delivered_nl=21_000,
        )
        record.log_message(session, "device", cut)
        rows = record.shots(session)
        assert [(r.shot_index, r.partial, r.delivered_nl) for r in rows] == [(1, False, 50_000), (2, True, 21_000)]
        assert record.session(session).volume_nl == 71_000
        header = next(csv.reader(io.StringIO(record.export(session, "csv"))))
        assert "partial" in header and "delivered_nl" in header


def test_shot_is_on_disk_before_log_returns(where: Path | str) -> None:
    """A shot logged by one connection is visible to another at once: committed, not buffered."""
    db = where
    record = TreatmentRecord(db)
    session = record.start_session("SN1")
    record.reconcile(session, 0)
    record.log_message(session, "device", _shot(1))
    with TreatmentRecord(db, create=False) as other:
        assert other.rows("SELECT shot_index, received FROM shots") == [(1, 1)]
    record.close()


def test_same_shot_twice_is_counted_once(where: Path | str) -> None:
    """A shot event seen twice (e.g. replayed after a reconnect) stays one shot."""
    with TreatmentRecord(where) as record:
        session = record.start_session("SN1")
        record.reconcile(session, 0)
        record.log_message(session, "device", _shot(1))
        record.log_message(session, "device", _shot(1))
        assert record.session(session).shots_recorded == 1


def test_first_sight_of_a_device_sets_the_baseline(where: Path | str) -> None:
    """Shots a device fired before this record existed are not 'unreceived'."""
    with TreatmentRecord(where) as record:
        session = record.start_session("SN1")
        assert record.reconcile(session, 1234) == 0
        assert record.session(session).shots_unreceived == 0


def test_shots_lost_in_a_crash_are_recorded_as_unreceived(where: Path | str) -> None:
    """Host crashed after shot 2 while the device fired 5: shots 3-5 are counted, details unknown, once."""
    db = where
    with TreatmentRecord(db) as record:
        first = record.start_session("SN1")
        record.reconcile(first, 0)
        record.log_message(first, "device", _shot(1))
        record.log_message(first, "device", _shot(2))
    with TreatmentRecord(db) as record:  # a new host process
        second = record.start_session("SN1")
        assert record.reconcile(second, 5, at_connect=True) == 3  # the crashed session's burst ran on
        assert record.reconcile(second, 5) == 0  # reconciling again adds nothing
        crashed = record.session(first)
        assert (crashed.shots_recorded, crashed.shots_unreceived) == (2, 3)
        rows = record.shots(first)
        assert [(r.shot_index, r.received) for r in rows] == [(1, True), (2, True), (3, False), (4, False), (5, False)]
        assert rows[2].dose_nl is None


def test_shots_fired_after_a_closed_session_go_to_a_between_sessions_entry(where: Path | str) -> None:
    """The host closed session 1 after shot 2; at the next connect the device counts 5: shots 3-5 were fired
    while no host was connected, so a between-sessions entry of that device holds them, listed between the
    two sessions and spanning the end of one to the start of the other; session 1 keeps its own 2 shots."""
    with TreatmentRecord(where) as record:
        first = record.start_session("SN1")
        record.reconcile(first, 0, at_connect=True)
        record.log_message(first, "device", _shot(1))
        record.log_message(first, "device", _shot(2))
        record.end_session(first)
        second = record.start_session("SN1")
        assert record.reconcile(second, 5, at_connect=True) == 3
        listed = record.sessions()
        assert [(s.session, s.kind) for s in listed] == [
            (first, "treatment"),
            (3, BETWEEN_SESSIONS),
            (second, "treatment"),
        ]
        assert (listed[0].shots_recorded, listed[0].shots_unreceived) == (2, 0)
        assert (listed[1].device_serial, listed[1].shots_unreceived) == ("SN1", 3)
        assert (listed[1].started, listed[1].ended) == (listed[0].ended, listed[2].started)
        assert listed[2].shots_unreceived == 0


def test_a_gap_during_a_session_is_that_sessions_even_before_its_first_shot(where: Path | str) -> None:
    """The first shot event of a session is lost: the next status charges it to this session, not to the
    session that recorded the shot before (which had ended)."""
    with TreatmentRecord(where) as record:
        first = record.start_session("SN1")
        record.reconcile(first, 0, at_connect=True)
        record.log_message(first, "device", _shot(1))
        record.end_session(first)
        second = record.start_session("SN1")
        record.reconcile(second, 1, at_connect=True)
        assert record.reconcile(second, 2) == 1
        assert [s.shots_unreceived for s in record.sessions()] == [0, 1]


def test_alarms_latched_at_a_connect_that_the_record_never_saw_are_entered_once(where: Path | str) -> None:
    """communication_lost raised after the host closed: entered at the next connect, with its priority and a
    note, in a between-sessions entry; an alarm the record saw raised (and not cleared) is not entered again."""
    with TreatmentRecord(where) as record:
        first = record.start_session("SN1")
        record.reconcile(first, 0, at_connect=True)
        raised = make("alarm", seq=1, code="occlusion", priority="high", raised=True, device_time_ms=1500)
        record.log_message(first, "device", raised)
        record.end_session(first)
        second = record.start_session("SN1")
        active = (AlarmCode.OCCLUSION, AlarmCode.COMMUNICATION_LOST)
        assert record.enter_active_alarms(second, active) == [AlarmCode.COMMUNICATION_LOST]
        assert record.enter_active_alarms(second, active) == []
        between = next(s for s in record.sessions() if s.kind == BETWEEN_SESSIONS)
        (found,) = record.alarms(between.session)
        assert (found.code, found.priority, found.raised, found.device_time_ms) == (
            "communication_lost",
            "high",
            True,
            None,
        )
        assert "no host was connected" in found.note
        (seen,) = record.alarms(first)
        assert (seen.code, seen.priority, seen.device_time_ms) == ("occlusion", "high", 1500)
        assert record.session(between.session).alarms == 1


def test_late_shot_event_replaces_its_unreceived_placeholder(where: Path | str) -> None:
    """A gap filled in later counts the shot as received, not twice."""
    with TreatmentRecord(where) as record:
        session = record.start_session("SN1")
        record.reconcile(session, 0)
        record.log_message(session, "device", _shot(1))
        record.reconcile(session, 2)
        record.log_message(session, "device", _shot(2))
        summary = record.session(session)
        assert (summary.shots_recorded, summary.shots_unreceived) == (2, 0)


def test_sessions_list_and_exports(where: Path | str) -> None:
    """record list/show/export see commands, shots and alarms of each session."""
    with TreatmentRecord(where) as record:
        session = record.start_session("SN9", model="MG-1", firmware_version="1.0.0", url="sim://")
        record.reconcile(session, 0)
        record.log_message(session, "host", make("fire", seq=8, count=2))
        record.log_message(session, "device", make("ack", seq=8, command="fire", count=2))
        record.log_message(session, "device", _shot(1, 40_000))
        record.log_message(session, "device", _shot(2, 60_000))
        record.log_message(
            session, "device", make("alarm", code="occlusion", priority="high", raised=True, device_time_ms=5)
        )
        record.end_session(session)
        (summary,) = record.sessions()
        assert (summary.device_serial, summary.shots_recorded, summary.volume_nl, summary.alarms) == (
            "SN9",
            2,
            100_000,
            1,
        )
        exported = json.loads(record.export(session, "json"))
        assert [e["type"] for e in exported["events"]] == ["fire", "ack", "shot", "shot", "alarm"]
        rows = list(csv.DictReader(io.StringIO(record.export(session, "csv"))))
        assert [r["shot_index"] for r in rows] == ["1", "2"]
        with pytest.raises(RecordError, match="format 'xml'"):
            record.export(session, "xml")
        with pytest.raises(RecordError, match="no session 99"):
            record.session(99)


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    """A record path that cannot be created names the path instead of a traceback from sqlite."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RecordError, match=r"treatment record \S*sub/r\.sqlite"):
        TreatmentRecord(blocker / "sub" / "r.sqlite")


def test_a_device_counter_that_goes_back_changes_nothing_recorded(where: Path | str) -> None:
    """A device reporting fewer lifetime shots than already on record (e.g. NVM restored) removes nothing."""
    with TreatmentRecord(where) as record:
        session = record.start_session("SN1")
        record.reconcile(session, 0)
        record.log_message(session, "device", _shot(1))
        assert record.reconcile(session, 3) == 2
        assert record.reconcile(session, 1) == 0
        summary = record.session(session)
        assert (summary.shots_recorded, summary.shots_unreceived) == (1, 2)


def test_a_counter_that_starts_again_records_its_shots_in_a_new_epoch(where: Path | str) -> None:
    """Two fresh simulators with the same serial (both counting from 0): the second one's shots 1-2 are on
    record beside the first one's, not dropped as duplicates."""
    with TreatmentRecord(where) as record:
        first = record.start_session("SIM0001")
        record.reconcile(first, 0)
        for index in (1, 2, 3):
            record.log_message(first, "device", _shot(index))
        record.reconcile(first, 3)
        second = record.start_session("SIM0001")
        assert record.reconcile(second, 0) == 0
        for index in (1, 2):
            record.log_message(second, "device", _shot(index))
        assert record.reconcile(second, 2) == 0
        assert [(s.epoch, s.shot_index) for s in record.shots(second)] == [(1, 1), (1, 2)]
        assert record.session(first).shots_recorded == 3 and record.session(second).shots_recorded == 2


def test_a_reset_counter_that_passed_its_old_value_is_a_new_epoch_by_its_epoch_id(where: Path | str) -> None:
    """The counter was reset between two connections and counted past its old value (3 → reset → 5): the
    device's new counter epoch id says so, so nothing is charged as unreceived and no index collides."""
    with TreatmentRecord(where) as record:
        first = record.start_session("SN1", hardware_id="ab12", counter_epoch=7)
        record.reconcile(first, 0)
        for index in (1, 2, 3):
            record.log_message(first, "device", _shot(index))
        record.reconcile(first, 3)
        record.end_session(first)
        second = record.start_session("SN1", hardware_id="ab12", counter_epoch=8)
        assert record.reconcile(second, 5, at_connect=True) == 0
        record.log_message(second, "device", _shot(6))
        assert [(s.epoch, s.shot_index, s.received) for s in record.shots(second)] == [(1, 6, True)]
        assert [s.session for s in record.sessions()] == [first, second]  # no between-sessions entry
        assert record.session(first).shots_recorded == 3


def test_another_board_with_the_same_serial_is_a_new_epoch(where: Path | str) -> None:
    with TreatmentRecord(where) as record:
        first = record.start_session("SN1", hardware_id="ab12", counter_epoch=7)
        record.reconcile(first, 10)
        second = record.start_session("SN1", hardware_id="cd34", counter_epoch=7)
        assert record.reconcile(second, 40, at_connect=True) == 0
        record.log_message(second, "device", _shot(41))
        assert [(s.epoch, s.shot_index) for s in record.shots(second)] == [(1, 41)]


def test_the_same_epoch_id_charges_shots_fired_while_away_as_before(where: Path | str) -> None:
    with TreatmentRecord(where) as record:
        first = record.start_session("SN1", hardware_id="ab12", counter_epoch=7)
        record.reconcile(first, 3)
        record.end_session(first)
        second = record.start_session("SN1", hardware_id="ab12", counter_epoch=7)
        assert record.reconcile(second, 5, at_connect=True) == 2


def test_unreceived_shots_are_one_range_row_and_a_late_shot_splits_it(where: Path | str) -> None:
    """1,000 shots lost take one row; the late event of shot 500 leaves two ranges and 999 unreceived."""
    db = where
    with TreatmentRecord(db) as record:
        session = record.start_session("SN1")
        record.reconcile(session, 0)
        assert record.reconcile(session, 1000) == 1000
        ranges = "SELECT first, last FROM unreceived ORDER BY first"
        assert record.rows(ranges) == [(1, 1000)]
        record.log_message(session, "device", _shot(500))
        assert record.rows(ranges) == [(1, 499), (501, 1000)]
        summary = record.session(session)
        assert (summary.shots_recorded, summary.shots_unreceived) == (1, 999)
        rows = list(csv.DictReader(io.StringIO(record.export(session, "csv"))))
        assert len(rows) == 1000 and rows[499] == {**rows[499], "shot_index": "500", "received": "1"}


def test_an_implausible_counter_jump_is_flagged_not_expanded(where: Path | str) -> None:
    """2,000,000 added to the device's counter: no placeholder rows, nothing charged to the patient, an
    anomaly says what happened; the record goes on from the new counter."""
    db = where
    with TreatmentRecord(db) as record:
        session = record.start_session("SN1")
        record.reconcile(session, 10)
        record.log_message(session, "device", _shot(11))
        assert record.reconcile(session, 11) == 0
        assert record.reconcile(session, 2_000_011) == 0
        summary = record.session(session)
        assert (summary.shots_recorded, summary.shots_unreceived, summary.anomalies) == (1, 0, 1)
        (anomaly,) = record.anomalies(session)
        assert anomaly["kind"] == "counter_jump" and "+2000000" in anomaly["detail"]
        assert record.rows("SELECT COUNT(*) FROM unreceived") == [(0,)]
        assert len(record.shots(session)) == 1
        assert json.loads(record.export(session, "json"))["anomalies"][0]["kind"] == "counter_jump"
        assert record.reconcile(session, 2_000_013) == 2  # later gaps are counted as usual
    if isinstance(db, Path):  # an empty record's schema is about 0.2 MB; 2,000,000 placeholder rows would be ~100 MB
        assert db.stat().st_size < 400_000


def test_a_jump_up_to_the_plausible_limit_is_counted(where: Path | str) -> None:
    """The limit is inclusive: exactly MAX_PLAUSIBLE_UNRECEIVED unseen shots are entered as unreceived."""
    with TreatmentRecord(where) as record:
        session = record.start_session("SN1")
        record.reconcile(session, 0)
        assert record.reconcile(session, MAX_PLAUSIBLE_UNRECEIVED) == MAX_PLAUSIBLE_UNRECEIVED
        assert record.session(session).anomalies == 0


_SCHEMA_BEFORE_RANGES = """
CREATE TABLE devices (serial TEXT PRIMARY KEY, first_seen TEXT NOT NULL, baseline_lifetime INTEGER NOT NULL,
    reconciled_to INTEGER NOT NULL, epoch INTEGER NOT NULL DEFAULT 0);
CREATE TABLE sessions (id INTEGER PRIMARY KEY, device_serial TEXT NOT NULL, model TEXT NOT NULL DEFAULT '',
    firmware_version TEXT NOT NULL DEFAULT '', url TEXT NOT NULL DEFAULT '', started TEXT NOT NULL, ended TEXT);
CREATE TABLE events (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id), ts TEXT NOT NULL,
    direction TEXT NOT NULL, type TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE shots (device_serial TEXT NOT NULL, epoch INTEGER NOT NULL, shot_index INTEGER NOT NULL,
    session_id INTEGER NOT NULL REFERENCES sessions(id), received INTEGER NOT NULL, ts TEXT NOT NULL,
    fire_seq INTEGER, depth_um INTEGER, dose_nl INTEGER, device_time_ms INTEGER,
    PRIMARY KEY (device_serial, epoch, shot_index));
CREATE INDEX shots_by_session ON shots(session_id);
CREATE INDEX events_by_session ON events(session_id);
INSERT INTO devices VALUES ('SN1', '2026-01-01T00:00:00.000+00:00', 0, 4, 0);
INSERT INTO sessions VALUES (1, 'SN1', 'MG-1', '1.0.0', 'sim://', '2026-01-01T00:00:00.000+00:00',
    '2026-01-01T00:01:00.000+00:00');
INSERT INTO events VALUES (1, 1, '2026-01-01T00:00:01.000+00:00', 'device', 'shot', 1, '{"type": "shot"}');
INSERT INTO shots VALUES ('SN1', 0, 1, 1, 1, '2026-01-01T00:00:01.000+00:00', 8, 2500, 50000, 1);
INSERT INTO shots VALUES ('SN1', 0, 2, 1, 0, '2026-01-01T00:00:02.000+00:00', NULL, NULL, NULL, NULL);
INSERT INTO shots VALUES ('SN1', 0, 3, 1, 0, '2026-01-01T00:00:02.000+00:00', NULL, NULL, NULL, NULL);
INSERT INTO shots VALUES ('SN1', 0, 4, 1, 1, '2026-01-01T00:00:04.000+00:00', 8, 2500, 50000, 4);
"""


def test_a_record_written_before_ranges_existed_opens_and_reads_the_same(tmp_path: Path) -> None:
    """A file of the previous schema (unreceived shots as received=0 rows): summaries, shots and exports are
    as before, a late shot event still replaces its placeholder, and new gaps go in as ranges beside them."""
    db = tmp_path / "old.sqlite"
    old = sqlite3.connect(db)
    old.executescript(_SCHEMA_BEFORE_RANGES)
    old.close()
    with TreatmentRecord(db, create=False) as record:
        summary = record.session(1)
        assert (summary.shots_recorded, summary.shots_unreceived, summary.volume_nl) == (2, 2, 100_000)
        assert [(s.shot_index, s.received) for s in record.shots(1)] == [(1, True), (2, False), (3, False), (4, True)]
        assert [r["received"] for r in csv.DictReader(io.StringIO(record.export(1, "csv")))] == ["1", "0", "0", "1"]
        session = record.start_session("SN1")
        record.log_message(session, "device", _shot(3))  # the lost event of shot 3 turns up
        # shots 5-7 at this connect: one range, fired after session 1 ended, so in a between-sessions entry
        assert record.reconcile(session, 7, at_connect=True) == 3
        assert (record.session(1).shots_recorded, record.session(1).shots_unreceived) == (3, 1)
        assert [(s.shot_index, s.received) for s in record.shots(1)][2:] == [(3, True), (4, True)]
        between = next(s for s in record.sessions() if s.kind == BETWEEN_SESSIONS)
        assert [(s.shot_index, s.received) for s in record.shots(between.session)] == [(i, False) for i in (5, 6, 7)]


def test_the_all_shots_view_lists_every_shot_once(where: Path | str) -> None:
    """Audits read ``all_shots``: received shots and every index of every unreceived range, one row each."""
    with TreatmentRecord(where) as record:
        session = record.start_session("SN1")
        record.reconcile(session, 0)
        record.log_message(session, "device", _shot(2))
        record.reconcile(session, 5)
        rows = record.rows("SELECT shot_index, received FROM all_shots ORDER BY shot_index")
        assert rows == [(1, 0), (2, 1), (3, 0), (4, 0), (5, 0)]


def test_an_explicit_path_in_a_missing_folder_creates_nothing(tmp_path: Path) -> None:
    """A mistyped folder is a RecordError naming it; neither the folder nor a record appears."""
    path = tmp_path / "typo" / "deeper" / "r.sqlite"
    with pytest.raises(RecordError, match="no folder"):
        TreatmentRecord(path)
    assert not (tmp_path / "typo").exists()


def test_the_default_location_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no path the record goes to the user's data directory, whose folders are created."""
    default = tmp_path / "data" / "mesogun" / "treatment-record.sqlite"
    monkeypatch.setattr(store, "default_path", lambda: default)
    with TreatmentRecord() as record:
        assert record.path == default
    assert default.exists()


def damage_inner_page(db: Path) -> bytes:
    """Write garbage over one page in the middle of ``db`` (its header and first pages intact, as a bad sector or
    a half-written copy leaves it); return the damaged file's bytes."""
    page_size = int.from_bytes(db.read_bytes()[16:18], "big")
    pages = db.stat().st_size // page_size
    assert pages > 20, "the record is too small to damage an inner page"
    with db.open("r+b") as file:
        file.seek(pages // 2 * page_size)
        file.write(bytes([0xA5, 0x5A, 0xFF, 0x00]) * (page_size // 4))
    return db.read_bytes()


def record_with_shots(db: Path, shots: int = 600) -> Path:
    """A closed record of one session with ``shots`` shots and their fire commands, written by the record itself."""
    with TreatmentRecord(db) as record:
        session = record.start_session("SN1")
        record.reconcile(session, 0)
        with record.transaction():
            for index in range(1, shots + 1):
                record.log_message(session, "host", make("fire", seq=index, count=1))
                record.log_message(session, "device", _shot(index))
        record.end_session(session)
    return db


def test_a_record_with_a_damaged_inner_page_is_refused_at_open_and_left_untouched(tmp_path: Path) -> None:
    """Garbage over a page in the middle of a real record: opening it (to read or to write) is a RecordError that
    says the file is damaged and names it, before any query fails; the file is byte for byte as it was."""
    db = record_with_shots(tmp_path / "r.sqlite")
    damaged = damage_inner_page(db)
    for create in (False, True):
        with pytest.raises(RecordError, match="is damaged") as refused:
            TreatmentRecord(db, create=create)
        assert str(db) in str(refused.value) and "left untouched" in str(refused.value)
        assert "\n" not in str(refused.value)
    assert db.read_bytes() == damaged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.sqlite"]


def test_repr_names_the_file_and_its_sessions_and_survives_close(tmp_path: Path) -> None:
    """What a user sees in a REPL or a log line: the path, open with its session count, or closed (never an error)."""
    path = tmp_path / "r.sqlite"
    record = TreatmentRecord(path)
    assert repr(record) == f"<TreatmentRecord {str(path)!r} open, 0 sessions>"
    record.start_session("SN1")
    assert repr(record) == f"<TreatmentRecord {str(path)!r} open, 1 session>"
    record.start_session("SN1")
    assert repr(record) == f"<TreatmentRecord {str(path)!r} open, 2 sessions>"
    record.close()
    assert repr(record) == f"<TreatmentRecord {str(path)!r} closed>"
    record.close()  # closing again does nothing
    assert repr(record) == f"<TreatmentRecord {str(path)!r} closed>"


def test_a_counter_that_wrapped_at_2_32_while_away_is_counted_on_not_a_new_epoch(where: Path | str) -> None:
    """The device's u32 counter passed 2**32 - 1 between two connections (it reads 3 now): the 6 shots fired
    meanwhile are unreceived in the same epoch, and the next shot (wire index 4) follows them."""
    near = 2**32 - 3
    with TreatmentRecord(where) as record:
        first = record.start_session("SN1", hardware_id="ab12", counter_epoch=7)
        record.reconcile(first, near)
        record.end_session(first)
        second = record.start_session("SN1", hardware_id="ab12", counter_epoch=7)
        assert record.reconcile(second, 3, at_connect=True) == 6
        record.log_message(second, "device", _shot(4))
        rows = [row for s in record.sessions() for row in record.shots(s.session)]
        assert [(r.epoch, r.shot_index, r.received) for r in rows] == [
            *((0, index, False) for index in range(near + 1, near + 7)),
            (0, 2**32 + 4, True),
        ]
        assert all(not record.anomalies(s.session) for s in record.sessions())


def test_a_postgresql_record_another_writer_holds_fails_within_the_busy_timeout(postgres_url: str) -> None:
    """Another process holds the record's write lock: a write waits at most BUSY_TIMEOUT_S, then fails in one line
    naming the record and the cause (as SQLite's "database is locked" does); reads go on meanwhile."""
    import time

    import psycopg

    from mesogun.record.dialects import WRITE_LOCK_KEY

    with TreatmentRecord(postgres_url) as record:
        session = record.start_session("SN1")
        with psycopg.connect(postgres_url, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK_KEY,))
            started = time.monotonic()
            with pytest.raises(RecordError, match="locked by another writer") as refused:
                record.log_message(session, "device", _shot(1))
            assert time.monotonic() - started < store.BUSY_TIMEOUT_S + 1.0
            assert "postgresql://" in str(refused.value) and "\n" not in str(refused.value)
            assert record.session(session).shots_recorded == 0  # reading is not held up
        record.log_message(session, "device", _shot(1))  # the lock released: writes go on
        assert record.session(session).shots_recorded == 1
