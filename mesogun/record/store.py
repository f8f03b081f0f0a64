"""The treatment record: every command, reply, shot and alarm, appended to SQLite as it happens.

Durability: the database runs in WAL mode with ``synchronous=FULL`` and every shot is committed before
:meth:`TreatmentRecord.log_message` returns, so a shot the host has reported is on disk even if the host
is killed right after. Shots are unique per (device serial, lifetime shot index): a shot is never counted
twice. :meth:`TreatmentRecord.reconcile` compares the device's lifetime counter with the record and enters
the shots the device counted but the host never received as *ranges* in ``unreceived`` (first, last; details
unknown), one row per gap however long. A counter that jumps by more than :data:`MAX_PLAUSIBLE_UNRECEIVED`
is not believed: it is entered in ``anomalies`` and the record continues from the new counter, charging no
shot to anyone. Records written before ranges existed hold unreceived shots as ``shots`` rows with
``received = 0``; they are read (and replaced by a late shot event) exactly as before.

Shots and alarms of a time no host was connected (the device fired on, or its watchdog tripped, after its
host closed the session) are found at the next connect - shots by the lifetime counter, alarms by the
device's latched ``active_alarms`` - and entered against a *between sessions* entry of that device (a
``sessions`` row of kind ``between_sessions``), never against an already-ended session; a session its host
never closed (a crash) keeps them, since its burst was still running.

Shots read back from the device's shot log (a ``shot_log`` reply) replace their "unreceived" placeholders
as detailed rows marked ``recovered`` (``received`` = 1: the details are on record); a range older than the
device's log window when it was asked for is marked ``beyond_log``: those shots stay details-unknown for
good (:meth:`TreatmentRecord.unreceived_ranges` lists the ones a host may still read back).

Every shot carries the host id the device stamped on it (the ``hello`` of the session open when it was
fired); one stamped with another host's id than the session's own is on record as ``other_host``: fired by
another workstation on the same gun, shown as such, never counted as this host's shot nor as unreceived.

Keep-alives (``heartbeat`` and its ``ack``) are never recorded: they say nothing about the treatment.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from firmware_protocol import AlarmCode, Message, to_json, views
from firmware_protocol.rules import ALARM_PRIORITIES
from firmware_protocol.views import view_as
from mesogun.errors import NoSuchSession, RecordError
from mesogun.models import fired_by_other_host
from mesogun.shot_counter import unwrap, unwrap_page

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    serial TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL,
    baseline_lifetime INTEGER NOT NULL, -- the device's lifetime counter when this epoch began
    reconciled_to INTEGER NOT NULL,     -- every index up to this one is on record (received or not)
    epoch INTEGER NOT NULL DEFAULT 0,   -- bumped when the device's counter was reset (a new counter epoch)
    hardware_id TEXT,                   -- the board this epoch was counted on (identity.hardware_id)
    counter_epoch INTEGER               -- the device's own id of this epoch (identity.counter_epoch)
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    device_serial TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    firmware_version TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    started TEXT NOT NULL,
    ended TEXT,
    kind TEXT NOT NULL DEFAULT 'treatment', -- 'treatment' (a host connected) or 'between_sessions' (none was)
    hardware_id TEXT,                 -- the board connected (identity.hardware_id; NULL: not reported)
    counter_epoch INTEGER,            -- its lifetime counter's epoch id then (identity.counter_epoch)
    host_id INTEGER                   -- the host id this host said hello with (NULL: not known)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    ts TEXT NOT NULL,
    direction TEXT NOT NULL,          -- 'host' (command) or 'device' (reply or event)
    type TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL                -- the message's JSON form
);
CREATE TABLE IF NOT EXISTS shots (
    device_serial TEXT NOT NULL,
    epoch INTEGER NOT NULL,           -- the device's counter epoch: (serial, epoch, index) names one shot
    shot_index INTEGER NOT NULL,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    received INTEGER NOT NULL,        -- 1: the shot event reached the host; 0: counted by the device only
    ts TEXT NOT NULL,
    fire_seq INTEGER,
    depth_um INTEGER,
    dose_nl INTEGER,
    device_time_ms INTEGER,
    recovered INTEGER NOT NULL DEFAULT 0, -- 1: the details were read back from the device's shot log
    source TEXT,                      -- what fired it: trigger, pedal or remote (NULL: unreceived, or an old record)
    partial INTEGER,                  -- 1: a stroke cut short by an alarm (a partial shot), 0 a whole one
    delivered_nl INTEGER,             -- the device's estimate of what left: dose_nl for a whole shot
    host_id INTEGER,                  -- the host id the device stamped on it (0: no session; NULL: not known)
    other_host INTEGER NOT NULL DEFAULT 0, -- 1: fired by another host's session (not this record's host)
    PRIMARY KEY (device_serial, epoch, shot_index)
);
CREATE INDEX IF NOT EXISTS shots_by_session ON shots(session_id);
CREATE INDEX IF NOT EXISTS events_by_session ON events(session_id);
CREATE TABLE IF NOT EXISTS unreceived (  -- shots first..last the device counted, whose events never arrived
    device_serial TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    ts TEXT NOT NULL,
    beyond_log INTEGER NOT NULL DEFAULT 0, -- 1: older than the device's shot log window: details lost for good
    PRIMARY KEY (device_serial, epoch, first)
);
CREATE INDEX IF NOT EXISTS unreceived_by_session ON unreceived(session_id);
CREATE VIEW IF NOT EXISTS all_shots AS  -- every shot, received or not, one row each (ranges expanded)
WITH RECURSIVE expanded(device_serial, epoch, shot_index, last, session_id, ts) AS (
    SELECT device_serial, epoch, first, last, session_id, ts FROM unreceived
    UNION ALL
    SELECT device_serial, epoch, shot_index + 1, last, session_id, ts FROM expanded WHERE shot_index < last
)
SELECT device_serial, epoch, shot_index, session_id, received, ts, fire_seq, depth_um, dose_nl, device_time_ms
FROM shots
UNION ALL
SELECT device_serial, epoch, shot_index, session_id, 0, ts, NULL, NULL, NULL, NULL FROM expanded;
CREATE TABLE IF NOT EXISTS alarms_found (  -- alarms latched on the device at a connect, never seen raised
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    ts TEXT NOT NULL,                 -- host wall time (UTC) of the connect that found it
    code TEXT NOT NULL,
    priority TEXT NOT NULL,
    device_time_ms INTEGER,           -- when the device raised it, if the device reports that (else NULL)
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (  -- what the operator said: a soft-limit override and its reason
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,               -- e.g. 'soft_limit_override'
    detail TEXT NOT NULL,             -- what was done, naming the value and the limit
    reason TEXT NOT NULL              -- why, in the operator's words
);
CREATE TABLE IF NOT EXISTS visits (  -- a treatment session as a clinic means it: opened and closed explicitly
    id INTEGER PRIMARY KEY,
    device_serial TEXT NOT NULL,
    opened TEXT NOT NULL,
    closed TEXT,
    opened_by TEXT NOT NULL DEFAULT '',
    closed_by TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS anomalies (  -- what the record refused to believe (e.g. a counter jump)
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""

MAX_PLAUSIBLE_UNRECEIVED = 20_000
"""The most shots a device can plausibly fire unseen between two reconciliations: twice a full 10 mL
syringe at the smallest dose (0.001 mL). A larger jump of the counter is flagged, not expanded."""

BUSY_TIMEOUT_S = 1.0
"""How long SQLite waits for another process's write lock before failing the write with "database is
locked" (below the recorder's write timeout, so a locked record is reported by its cause)."""

TREATMENT = "treatment"
"""The ``sessions.kind`` of a session a host held open."""

BETWEEN_SESSIONS = "between_sessions"
"""The ``sessions.kind`` of what a device did while no host was connected (found at the next connect)."""

FOUND_AT_CONNECT = (
    "raised while no host was connected: active on the device at the connect, which does not say when it was raised"
)
"""The note of an alarm entered at a connect (see :meth:`TreatmentRecord.enter_active_alarms`)."""

_ADDED_COLUMNS = (
    ("sessions", "kind", f"TEXT NOT NULL DEFAULT '{TREATMENT}'"),
    ("shots", "recovered", "INTEGER NOT NULL DEFAULT 0"),
    ("shots", "source", "TEXT"),
    ("shots", "partial", "INTEGER"),
    ("shots", "delivered_nl", "INTEGER"),
    ("unreceived", "beyond_log", "INTEGER NOT NULL DEFAULT 0"),
    ("sessions", "hardware_id", "TEXT"),
    ("sessions", "counter_epoch", "INTEGER"),
    ("devices", "hardware_id", "TEXT"),
    ("devices", "counter_epoch", "INTEGER"),
    ("sessions", "host_id", "INTEGER"),
    ("shots", "host_id", "INTEGER"),
    ("shots", "other_host", "INTEGER NOT NULL DEFAULT 0"),
    ("sessions", "visit_id", "INTEGER REFERENCES visits(id)"),  # the visit this connection belongs to (NULL: none)
)
"""Columns added after the first schema: a record written before them gains them at open (with defaults)."""

COUNTER_JUMP = "counter_jump"
"""The ``anomalies.kind`` of a device counter that moved by more than :data:`MAX_PLAUSIBLE_UNRECEIVED`."""


def is_keepalive(message: Message) -> bool:
    """Whether ``message`` is a heartbeat or the device's ack of one (never recorded)."""
    return message.name == "heartbeat" or (message.name == "ack" and view_as(message, views.Ack).command == "heartbeat")


def default_path() -> Path:
    """Where the record lives unless told otherwise: the user's data directory."""
    return Path(platformdirs.user_data_dir("mesogun")) / "treatment-record.sqlite"


def _new_counter_epoch(connected: tuple[Any, ...], recorded: tuple[Any, ...]) -> bool:
    """Whether the (hardware id, counter epoch) a device reported differs from the one its record epoch was
    counted under; ``None`` on either side (a record or a device from before these ids) proves nothing."""
    return all(value is not None for value in (*connected, *recorded)) and tuple(connected) != tuple(recorded)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class SessionSummary:
    """One treatment session as ``record list`` shows it."""

    session: int
    device_serial: str
    started: str
    ended: str | None
    shots_recorded: int
    """Shots on record in detail: their event reached the host, or they were read back from the device's log."""
    shots_unreceived: int
    """Shots the device counted but whose event never reached the host."""
    volume_nl: int
    """Volume delivered by the recorded shots, each its ``delivered_nl`` (a partial shot less than its dose;
    unreceived shots' volumes are unknown)."""
    alarms: int
    anomalies: int = 0
    """Entries the record refused to believe (e.g. a device counter that jumped): :meth:`TreatmentRecord.anomalies`."""
    kind: str = TREATMENT
    """``treatment`` (a host was connected) or ``between_sessions`` (what the device did while none was)."""
    shots_other_host: int = 0
    """Shots fired by another host's session (another workstation on the gun): not in ``shots_recorded``."""


@dataclass(frozen=True)
class AlarmRow:
    """One alarm raised or cleared, as ``record show`` lists it."""

    host_time_utc: str
    """When the host recorded it (host wall clock, UTC); for an alarm found at a connect, that connect."""
    device_time_ms: int | None
    """When the device raised or cleared it (device clock: ms since its last power-on); ``None``: unknown."""
    code: str
    priority: str
    raised: bool
    note: str = ""


@dataclass(frozen=True)
class ShotRow:
    """One shot of the record; the detail fields are ``None`` for an unreceived shot."""

    shot_index: int
    received: bool
    ts: str
    fire_seq: int | None
    depth_um: int | None
    dose_nl: int | None
    device_time_ms: int | None
    epoch: int = 0
    """The device's counter epoch (it starts again after the device's counter went back)."""
    recovered: bool = False
    """The shot event never arrived: the details were read back from the device's shot log."""
    beyond_log: bool = False
    """An unreceived shot older than the device's shot log window: its details are lost for good."""
    source: str | None = None
    """What fired it: ``trigger``, ``pedal`` or ``remote`` (a host's fire); ``None`` for an unreceived shot."""
    partial: bool = False
    """A stroke cut short by an alarm after the plunger started moving."""
    delivered_nl: int | None = None
    """The device's estimate of what left (``dose_nl`` for a whole shot); ``None`` for an unreceived shot."""
    other_host: bool = False
    """Fired by another host's session (the device stamped another host id on it): not this host's shot."""


class TreatmentRecord:
    """An append-only SQLite treatment record. Open one per process; it is not shared across threads.

    The Python API keeps no record unless it is given one; this is how (the CLI does the same)::

        with TreatmentRecord("treatment.sqlite") as record:          # or TreatmentRecord() for the default path
            async with mesogun.connect(url, recorder=SessionRecorder(record)) as gun:
                await gun.fire(count=10)                              # each shot is on disk before it is returned
            last = record.sessions()[-1]                              # SessionSummary: shots, volume, alarms
            rows, csv_text = record.shots(last.session), record.export(last.session, "csv")  # or "json"

    :class:`~mesogun.record.SessionRecorder` writes through its own connection on its own thread, so this
    object can be read meanwhile. ``create=False`` opens an existing record only (for readers). Queries:
    :meth:`sessions`, :meth:`session`, :meth:`shots`, :meth:`events`, :meth:`anomalies`; :meth:`export`. Close
    it with :meth:`close` or by leaving the ``with`` block.
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = True) -> None:
        """Open the record at ``path`` (default: :func:`default_path`); ``create=False`` for readers, so a
        mistyped path is an error instead of a new empty record. Only the default location's folders are
        created: a ``path`` in a folder that does not exist is a :class:`RecordError` (a mistyped path)."""
        self.path = Path(path) if path is not None else default_path()
        if not create and not self.path.exists():
            raise RecordError(f"no treatment record at {self.path} (check --db)")
        _check_folder(path)
        try:
            if path is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
            self._closed = False
        except (OSError, sqlite3.Error) as exc:
            raise RecordError(f"cannot open the treatment record {self.path}: {exc}") from exc
        self._check_integrity()  # before anything could write to it: a damaged record is left as it is
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._durable = True
            self._db.executescript(_SCHEMA)
            self._add_columns()
        except (OSError, sqlite3.Error) as exc:
            self._db.close()
            raise RecordError(f"cannot open the treatment record {self.path}: {exc}") from exc

    def _check_integrity(self) -> None:
        """Refuse a damaged file (:class:`RecordError` naming it) before anything is written to it.

        ``PRAGMA quick_check`` reads every page and checks the b-trees' structure (not that each index matches
        its table, which ``integrity_check`` adds at about three times the cost): about 7 ms on a record of
        10,000 shots (3.9 MB). A file that is not a database at all fails the same way.
        """
        try:
            problems = [one_line(row[0]) for row in self._db.execute("PRAGMA quick_check(1)").fetchall()]
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "malformed" not in str(exc):
                self._db.close()  # locked, unreadable: not known to be damaged
                raise RecordError(f"cannot open the treatment record {self.path}: {one_line(exc)}") from exc
            problems = [one_line(exc)]
        if problems == ["ok"]:
            return
        self._db.close()
        raise RecordError(
            f"the treatment record {self.path} is damaged ({problems[0]}); it was left untouched: keep it, "
            "and record to another file (move this one aside or give another path)"
        )

    @classmethod
    def check(cls, path: str | Path | None = None) -> None:
        """Refuse, as opening would, a record that cannot be used - a damaged or unreadable file, a path in
        a folder that does not exist - but create nothing: a record that does not exist yet stays absent
        (it is created when a session starts, so a failed connection leaves no file behind)."""
        if Path(path if path is not None else default_path()).exists():
            cls(path).close()
        else:
            _check_folder(path)

    def _add_columns(self) -> None:
        """Bring a record written before :data:`_ADDED_COLUMNS` up to date (only writes when one is missing)."""
        for table, column, declaration in _ADDED_COLUMNS:
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    def close(self) -> None:
        """Close the database (everything is already committed); closing again does nothing."""
        self._closed = True
        self._db.close()

    def __repr__(self) -> str:
        """Path, and the number of sessions if open (one count; never raises, e.g. once closed)."""
        where = repr(str(getattr(self, "path", "?")))
        if getattr(self, "_closed", True):
            return f"<TreatmentRecord {where} closed>"
        try:
            (count,) = self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()
        except sqlite3.ProgrammingError:  # its connection was closed (a refused, damaged file)
            return f"<TreatmentRecord {where} closed>"
        except sqlite3.Error:  # e.g. locked: still open, the count is not worth waiting for
            return f"<TreatmentRecord {where} open>"
        return f"<TreatmentRecord {where} open, {count} session{'' if count == 1 else 's'}>"

    def __enter__(self) -> TreatmentRecord:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One atomic commit around several writes (each write method alone is one already), fsynced unless
        ``durable=False``: then it survives a crash of the process but not a power cut until the next
        durable commit fsyncs the log (SQLite WAL with ``synchronous=NORMAL``).

        Nested inside another transaction it joins it, so a writer can batch calls into one commit.
        """
        if self._db.in_transaction:
            yield self._db
            return
        try:
            self._set_synchronous(durable)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise RecordError(f"treatment record {self.path}: {one_line(exc)}") from exc

    def rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read-only query (for the record's companions, e.g. :mod:`mesogun.record.visits`)."""
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise RecordError(f"treatment record {self.path}: {one_line(exc)}") from exc

    def _set_synchronous(self, durable: bool) -> None:
        """FULL (fsync at commit) for durable commits, NORMAL otherwise; the pragma is set only on a change."""
        if durable != self._durable:
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._durable = durable

    # -- writing ------------------------------------------------------------------------------------

    def start_session(
        self,
        device_serial: str,
        *,
        model: str = "",
        firmware_version: str = "",
        url: str = "",
        hardware_id: str | None = None,
        counter_epoch: int | None = None,
        host_id: int | None = None,
        visit_id: int | None = None,
    ) -> int:
        """Open a new session for a device and return its id. ``hardware_id`` and ``counter_epoch`` (from its
        identity) let :meth:`reconcile` tell a reset counter or another board for certain; ``host_id`` (the one
        this host said hello with) tells its shots from another host's; ``visit_id`` is the visit (see
        :mod:`mesogun.record.visits`) this connection belongs to."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO sessions (device_serial, model, firmware_version, url, started, hardware_id,"
                " counter_epoch, host_id, visit_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (device_serial, model, firmware_version, url, _now(), hardware_id, counter_epoch, host_id, visit_id),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def end_session(self, session_id: int) -> None:
        """Mark a session ended (a crashed host leaves it open; that is visible in ``record list``)."""
        with self.transaction() as db:
            db.execute("UPDATE sessions SET ended = ? WHERE id = ?", (_now(), session_id))

    def add_note(self, session_id: int, kind: str, detail: str, reason: str) -> None:
        """Enter an operator's note in the session (e.g. ``soft_limit_override``: what, and why); fsynced."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO notes (session_id, ts, kind, detail, reason) VALUES (?, ?, ?, ?, ?)",
                (session_id, _now(), kind, detail, reason),
            )

    def log_message(self, session_id: int, direction: str, message: Message) -> None:
        """Append one command (direction ``host``) or reply/event (``device``); shots also go in ``shots``.

        Committed (fsynced) before returning. Keep-alives (heartbeat and its ack) are not recorded.
        """
        if is_keepalive(message):
            return
        body = to_json(message)
        ts = _now()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO events (session_id, ts, direction, type, seq, body) VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, ts, direction, message.name, message.seq, json.dumps(body)),
            )
            if message.name == "shot" and direction == "device":
                shot = view_as(message, views.Shot)
                serial, epoch = self._device_of(db, session_id)
                index = unwrap(shot.shot_index, self._reconciled_to(db, serial))  # counted on past the 2**32 wrap
                # A received shot replaces an "unreceived" placeholder for the same index; the same shot event
                # seen twice (a replay after a reconnect) stays one shot.
                db.execute(
                    "INSERT INTO shots (device_serial, epoch, shot_index, session_id, received, ts, fire_seq, depth_um,"
                    " dose_nl, device_time_ms, source, partial, delivered_nl, host_id, other_host)"
                    " VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (device_serial, epoch, shot_index) DO UPDATE SET received = 1, ts = excluded.ts,"
                    " fire_seq = excluded.fire_seq, depth_um = excluded.depth_um, dose_nl = excluded.dose_nl,"
                    " device_time_ms = excluded.device_time_ms, source = excluded.source,"
                    " partial = excluded.partial, delivered_nl = excluded.delivered_nl, host_id = excluded.host_id,"
                    " other_host = excluded.other_host WHERE received = 0",
                    (
                        serial,
                        epoch,
                        index,
                        session_id,
                        ts,
                        shot.fire_seq,
                        shot.depth_um,
                        shot.dose_nl,
                        shot.device_time_ms,
                        shot.source.json_name,
                        int(shot.partial),
                        shot.delivered_nl if shot.partial else shot.dose_nl,
                        shot.host_id,
                        int(self._other_host(db, session_id, shot.host_id)),
                    ),
                )
                self._take_from_ranges(db, serial, epoch, index)
            elif message.name == "shot_log" and direction == "device":
                serial, _ = self._device_of(db, session_id)
                page = unwrap_page(view_as(message, views.ShotLog), self._reconciled_to(db, serial) or 0)
                self._recover(db, session_id, page)

    def _recover(self, db: sqlite3.Connection, session_id: int, page: views.ShotLog) -> None:
        """A page of the device's shot log: its shots replace their "unreceived" placeholders (in the session
        that owned them), and unreceived shots older than the log window are marked ``beyond_log``."""
        serial, epoch = self._device_of(db, session_id)
        row = db.execute("SELECT baseline_lifetime FROM devices WHERE serial = ?", (serial,)).fetchone()
        baseline = int(row[0]) if row is not None else 0
        ts = _now()
        for entry in page.entries:
            if entry.shot_index <= baseline:  # fired before this record existed: not this record's shot
                continue
            owner = self._take_from_ranges(db, serial, epoch, entry.shot_index)
            db.execute(
                "INSERT INTO shots (device_serial, epoch, shot_index, session_id, received, ts, fire_seq, depth_um,"
                " dose_nl, device_time_ms, recovered, source, partial, delivered_nl, host_id, other_host)"
                " VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)"
                " ON CONFLICT (device_serial, epoch, shot_index) DO UPDATE SET received = 1, recovered = 1,"
                " ts = excluded.ts, fire_seq = excluded.fire_seq, depth_um = excluded.depth_um,"
                " dose_nl = excluded.dose_nl, device_time_ms = excluded.device_time_ms, source = excluded.source,"
                " partial = excluded.partial, delivered_nl = excluded.delivered_nl, host_id = excluded.host_id,"
                " other_host = excluded.other_host WHERE received = 0",
                (
                    serial,
                    epoch,
                    entry.shot_index,
                    owner if owner is not None else session_id,
                    ts,
                    entry.fire_seq,
                    entry.depth_um,
                    entry.dose_nl,
                    entry.device_time_ms,
                    entry.source.json_name,
                    int(entry.partial),
                    entry.delivered_nl if entry.partial else entry.dose_nl,
                    entry.host_id,
                    int(self._other_host(db, session_id, entry.host_id)),
                ),
            )
        if page.oldest_index > 0:
            self._mark_beyond_log(db, serial, epoch, page.oldest_index)

    @staticmethod
    def _reconciled_to(db: sqlite3.Connection, serial: str) -> int | None:
        """The device's lifetime counter as last reconciled (unwrapped past 2**32; ``None``: a new device)."""
        row = db.execute("SELECT reconciled_to FROM devices WHERE serial = ?", (serial,)).fetchone()
        return int(row[0]) if row is not None else None

    @staticmethod
    def _other_host(db: sqlite3.Connection, session_id: int, stamp: int) -> bool:
        """Whether a shot stamped ``stamp`` was fired by another host than the one holding ``session_id``."""
        row = db.execute("SELECT host_id FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row is not None and row[0] is not None and fired_by_other_host(stamp, int(row[0]))

    @staticmethod
    def _mark_beyond_log(db: sqlite3.Connection, serial: str, epoch: int, oldest: int) -> None:
        """Unreceived shots below ``oldest`` (the oldest the device's log still holds) are lost for good."""
        rows = db.execute(
            "SELECT first, last, session_id, ts FROM unreceived WHERE device_serial = ? AND epoch = ?"
            " AND first < ? AND beyond_log = 0",
            (serial, epoch, oldest),
        ).fetchall()
        for first, last, owner, ts in rows:
            db.execute(
                "DELETE FROM unreceived WHERE device_serial = ? AND epoch = ? AND first = ?", (serial, epoch, first)
            )
            pieces = [(first, min(last, oldest - 1), 1), (oldest, last, 0)]
            db.executemany(
                "INSERT INTO unreceived (device_serial, epoch, first, last, session_id, ts, beyond_log)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(serial, epoch, lo, hi, owner, ts, beyond) for lo, hi, beyond in pieces if lo <= hi],
            )

    @staticmethod
    def _take_from_ranges(db: sqlite3.Connection, serial: str, epoch: int, index: int) -> int | None:
        """A shot arrived (its event, or from the device's log) for an index on record as unreceived: split its
        range around it; return the session that owned it (``None`` if it was not on record as unreceived)."""
        row = db.execute(
            "SELECT first, last, session_id, ts, beyond_log FROM unreceived WHERE device_serial = ? AND epoch = ?"
            " AND first <= ? AND last >= ?",
            (serial, epoch, index, index),
        ).fetchone()
        if row is None:
            return None
        first, last, owner, ts, beyond = int(row[0]), int(row[1]), int(row[2]), str(row[3]), int(row[4])
        db.execute("DELETE FROM unreceived WHERE device_serial = ? AND epoch = ? AND first = ?", (serial, epoch, first))
        pieces = [(first, index - 1), (index + 1, last)]
        db.executemany(
            "INSERT INTO unreceived (device_serial, epoch, first, last, session_id, ts, beyond_log)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(serial, epoch, lo, hi, owner, ts, beyond) for lo, hi in pieces if lo <= hi],
        )
        return owner

    @staticmethod
    def _serial_of(db: sqlite3.Connection, session_id: int) -> str:
        row = db.execute("SELECT device_serial FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise RecordError(f"no session {session_id} in the treatment record")
        return str(row[0])

    @classmethod
    def _device_of(cls, db: sqlite3.Connection, session_id: int) -> tuple[str, int]:
        """The session's device serial and that device's current counter epoch."""
        serial = cls._serial_of(db, session_id)
        row = db.execute("SELECT epoch FROM devices WHERE serial = ?", (serial,)).fetchone()
        return serial, int(row[0]) if row is not None else 0

    def reconcile(self, session_id: int, device_lifetime: int, *, at_connect: bool = False) -> int:
        """Bring the record in line with the device's lifetime shot counter; return the shots added.

        The first time a device is seen its counter is the baseline (earlier shots predate this record). A
        counter lower than already reconciled starts a new epoch, so repeated indices never collide.
        Afterwards every index above the last reconciled one up to ``device_lifetime`` that the record lacks
        is entered as unreceived: during a session (``at_connect=False``), in that session; at a connect,
        in the session that recorded the shot before them if its host never closed it (a crash: its burst
        ran on until the device's watchdog), else in a *between sessions* entry of the device (fired while
        no host was connected). Only the new range is read, so reconciling on every status stays cheap.
        """
        with self.transaction() as db:
            serial = self._serial_of(db, session_id)
            board = db.execute("SELECT hardware_id, counter_epoch FROM sessions WHERE id = ?", (session_id,)).fetchone()
            row = db.execute(
                "SELECT reconciled_to, epoch, hardware_id, counter_epoch FROM devices WHERE serial = ?", (serial,)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO devices (serial, first_seen, baseline_lifetime, reconciled_to, hardware_id,"
                    " counter_epoch) VALUES (?, ?, ?, ?, ?, ?)",
                    (serial, _now(), device_lifetime, device_lifetime, board[0], board[1]),
                )
                return 0
            complete_to, epoch = int(row[0]), int(row[1])
            counted = unwrap(device_lifetime, complete_to)  # the device's u32 counter wraps at 2**32: count on
            if _new_counter_epoch(tuple(board), (row[2], row[3])) or counted < complete_to:
                # The counter was reset (the device reports a new counter epoch, or another board with this
                # serial, or - from a device that reports neither - the counter went back): its indices will
                # repeat, so its shots go in a new epoch rather than collide with recorded ones.
                db.execute(
                    "UPDATE devices SET epoch = ?, baseline_lifetime = ?, reconciled_to = ?, hardware_id = ?,"
                    " counter_epoch = ? WHERE serial = ?",
                    (epoch + 1, device_lifetime, device_lifetime, board[0], board[1], serial),
                )
                return 0
            device_lifetime = counted
            if row[3] is None and board[1] is not None:  # a record from before these ids: adopt the device's
                adopt = "UPDATE devices SET hardware_id = ?, counter_epoch = ? WHERE serial = ?"
                db.execute(adopt, (board[0], board[1], serial))
            if device_lifetime == complete_to:
                return 0
            if device_lifetime - complete_to > MAX_PLAUSIBLE_UNRECEIVED:
                self._flag_counter_jump(db, session_id, serial, complete_to, device_lifetime)
                return 0
            known = [
                int(r[0])
                for r in db.execute(
                    "SELECT shot_index FROM shots WHERE device_serial = ? AND epoch = ? AND shot_index > ?"
                    " AND shot_index <= ? ORDER BY shot_index",
                    (serial, epoch, complete_to, device_lifetime),
                )
            ]
            db.execute("UPDATE devices SET reconciled_to = ? WHERE serial = ?", (device_lifetime, serial))
            gaps = _gaps(complete_to + 1, device_lifetime, known)
            if not gaps:
                return 0
            owner = session_id
            if at_connect:
                before = self._owner_session(db, serial, epoch, session_id, gaps[0][0])
                crashed = before != session_id and self._left_open(db, before)
                owner = before if crashed else self._between(db, session_id)
            ts = _now()
            db.executemany(
                "INSERT INTO unreceived (device_serial, epoch, first, last, session_id, ts) VALUES (?, ?, ?, ?, ?, ?)",
                [(serial, epoch, first, last, owner, ts) for first, last in gaps],
            )
            return sum(last - first + 1 for first, last in gaps)

    @staticmethod
    def _flag_counter_jump(db: sqlite3.Connection, session_id: int, serial: str, before: int, after: int) -> None:
        """Enter an implausible counter jump as an anomaly and continue from the new counter (nothing charged)."""
        detail = (
            f"device {serial} counter went from {before} to {after} (+{after - before}), more than "
            f"{MAX_PLAUSIBLE_UNRECEIVED} shots unseen is implausible: not entered as unreceived shots"
        )
        db.execute(
            "INSERT INTO anomalies (session_id, ts, kind, detail) VALUES (?, ?, ?, ?)",
            (session_id, _now(), COUNTER_JUMP, detail),
        )
        db.execute("UPDATE devices SET reconciled_to = ? WHERE serial = ?", (after, serial))

    @staticmethod
    def _owner_session(db: sqlite3.Connection, serial: str, epoch: int, session_id: int, first_missing: int) -> int:
        """The session a run of unreceived shots belongs to: the one that recorded the shot before it."""
        row = db.execute(
            "SELECT session_id, shot_index FROM shots WHERE device_serial = ? AND epoch = ? AND shot_index < ?"
            " UNION ALL SELECT session_id, last FROM unreceived WHERE device_serial = ? AND epoch = ? AND last < ?"
            " ORDER BY 2 DESC LIMIT 1",
            (serial, epoch, first_missing, serial, epoch, first_missing),
        ).fetchone()
        return int(row[0]) if row is not None else session_id

    @staticmethod
    def _left_open(db: sqlite3.Connection, session_id: int) -> bool:
        """Whether a treatment session was never closed by its host (it crashed or lost power)."""
        row = db.execute("SELECT ended, kind FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row is not None and row[0] is None and row[1] == TREATMENT

    def _between(self, db: sqlite3.Connection, session_id: int) -> int:
        """The *between sessions* entry for what the device did before the connect of ``session_id`` while
        no host was connected: created at the first need, spanning the end of the device's previous
        session to this connect (one per connect)."""
        serial = self._serial_of(db, session_id)
        row = db.execute(
            "SELECT id FROM sessions WHERE device_serial = ? AND kind = ? AND id > ? ORDER BY id LIMIT 1",
            (serial, BETWEEN_SESSIONS, session_id),
        ).fetchone()
        if row is not None:
            return int(row[0])
        started = db.execute("SELECT started FROM sessions WHERE id = ?", (session_id,)).fetchone()[0]
        previous = db.execute(
            "SELECT COALESCE(ended, started) FROM sessions WHERE device_serial = ? AND id < ? AND kind = ?"
            " ORDER BY id DESC LIMIT 1",
            (serial, session_id, TREATMENT),
        ).fetchone()
        cur = db.execute(
            "INSERT INTO sessions (device_serial, url, started, ended, kind) VALUES (?, '', ?, ?, ?)",
            (serial, previous[0] if previous is not None else started, started, BETWEEN_SESSIONS),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def enter_active_alarms(self, session_id: int, active: Iterable[AlarmCode]) -> list[AlarmCode]:
        """At a connect: enter the alarms latched on the device (``status.active_alarms``) that the record
        never saw raised - raised while no host was connected, e.g. ``communication_lost`` after a host died
        with the gun armed. Each goes where shots fired then would (see :meth:`reconcile`), with a note and
        the reference priority; returns the codes entered."""
        with self.transaction() as db:
            serial = self._serial_of(db, session_id)
            missing = [code for code in dict.fromkeys(active) if code.json_name not in self._open_alarms(db, serial)]
            if not missing:
                return []
            previous = db.execute(
                "SELECT id FROM sessions WHERE device_serial = ? AND id < ? AND kind = ? ORDER BY id DESC LIMIT 1",
                (serial, session_id, TREATMENT),
            ).fetchone()
            owner = int(previous[0]) if previous is not None and self._left_open(db, int(previous[0])) else None
            owner = owner if owner is not None else self._between(db, session_id)
            ts = _now()
            db.executemany(
                "INSERT INTO alarms_found (session_id, ts, code, priority, device_time_ms, note)"
                " VALUES (?, ?, ?, ?, NULL, ?)",
                [(owner, ts, code.json_name, ALARM_PRIORITIES[code].json_name, FOUND_AT_CONNECT) for code in missing],
            )
            return missing

    @staticmethod
    def _open_alarms(db: sqlite3.Connection, serial: str) -> set[str]:
        """The alarm codes the record last saw raised (and not cleared since) on this device."""
        rows = db.execute(
            "SELECT e.ts, json_extract(e.body, '$.code'), json_extract(e.body, '$.raised') FROM events e"
            " JOIN sessions s ON s.id = e.session_id WHERE s.device_serial = ? AND e.type = 'alarm'"
            " AND e.direction = 'device'"
            " UNION ALL SELECT a.ts, a.code, 1 FROM alarms_found a JOIN sessions s ON s.id = a.session_id"
            " WHERE s.device_serial = ? ORDER BY 1",
            (serial, serial),
        ).fetchall()
        latest = {str(code): bool(raised) for _, code, raised in rows}
        return {code for code, raised in latest.items() if raised}

    # -- reading ------------------------------------------------------------------------------------

    def sessions(self) -> list[SessionSummary]:
        """Every session, oldest first (a between-sessions entry just before the session that found it), with
        its shot and alarm counts."""
        rows = self._db.execute(
            "SELECT s.id, s.device_serial, s.started, s.ended,"
            " (SELECT COUNT(*) FROM shots WHERE session_id = s.id AND received = 1 AND other_host = 0),"
            " (SELECT COUNT(*) FROM shots WHERE session_id = s.id AND received = 0)"
            "  + (SELECT COALESCE(SUM(last - first + 1), 0) FROM unreceived WHERE session_id = s.id),"
            " (SELECT COALESCE(SUM(COALESCE(delivered_nl, dose_nl)), 0) FROM shots"
            "  WHERE session_id = s.id AND received = 1 AND other_host = 0),"
            " (SELECT COUNT(*) FROM events WHERE session_id = s.id AND type = 'alarm'"
            "  AND json_extract(body, '$.raised') = 1)"
            "  + (SELECT COUNT(*) FROM alarms_found WHERE session_id = s.id),"
            " (SELECT COUNT(*) FROM anomalies WHERE session_id = s.id),"
            " s.kind,"
            " (SELECT COUNT(*) FROM shots WHERE session_id = s.id AND other_host = 1)"
            " FROM sessions s ORDER BY"  # a between-sessions entry just before the session whose connect found it
            " CASE WHEN s.kind = 'treatment' THEN s.id"
            "  ELSE (SELECT MAX(t.id) FROM sessions t WHERE t.kind = 'treatment' AND t.id < s.id) END,"
            " s.kind = 'treatment', s.id"
        ).fetchall()
        return [SessionSummary(*row) for row in rows]

    def session(self, session_id: int) -> SessionSummary:
        """One session's summary; :class:`~mesogun.errors.NoSuchSession` (a :class:`RecordError`) if there is none."""
        for summary in self.sessions():
            if summary.session == session_id:
                return summary
        raise NoSuchSession(f"no session {session_id} in the treatment record {self.path} (see 'mesogun record list')")

    def shots(self, session_id: int) -> list[ShotRow]:
        """The session's shots in (epoch, index) order, received or not (unreceived ranges one row per shot;
        each range is at most :data:`MAX_PLAUSIBLE_UNRECEIVED` long)."""
        self.session(session_id)
        rows = self._db.execute(
            "SELECT shot_index, received, ts, fire_seq, depth_um, dose_nl, device_time_ms, epoch, recovered, source,"
            " partial, COALESCE(delivered_nl, dose_nl), other_host FROM shots WHERE session_id = ?",
            (session_id,),
        ).fetchall()
        shots = [
            ShotRow(
                r[0],
                bool(r[1]),
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                recovered=bool(r[8]),
                source=r[9],
                partial=bool(r[10]),
                delivered_nl=r[11],
                other_host=bool(r[12]),
            )
            for r in rows
        ]
        for first, last, ts, epoch, beyond in self._db.execute(
            "SELECT first, last, ts, epoch, beyond_log FROM unreceived WHERE session_id = ?", (session_id,)
        ):
            shots.extend(
                ShotRow(i, False, ts, None, None, None, None, epoch, beyond_log=bool(beyond))
                for i in range(first, last + 1)
            )
        shots.sort(key=lambda shot: (shot.epoch, shot.shot_index))
        return shots

    def alarms(self, session_id: int) -> list[AlarmRow]:
        """The session's alarms raised and cleared, in the order the host recorded them, with both clocks:
        the host's wall time (UTC) and the device's (ms since power-on), and their priority."""
        self.session(session_id)
        rows: list[tuple[int, int, AlarmRow]] = [
            (0, event_id, AlarmRow(ts, device_ms, str(code), str(priority), bool(raised)))
            for event_id, ts, code, priority, raised, device_ms in self._db.execute(
                "SELECT id, ts, json_extract(body, '$.code'), json_extract(body, '$.priority'),"
                " json_extract(body, '$.raised'), json_extract(body, '$.device_time_ms') FROM events"
                " WHERE session_id = ? AND type = 'alarm' AND direction = 'device'",
                (session_id,),
            )
        ]
        rows += [
            (1, found_id, AlarmRow(ts, device_ms, code, priority, True, note))
            for found_id, ts, code, priority, device_ms, note in self._db.execute(
                "SELECT id, ts, code, priority, device_time_ms, note FROM alarms_found WHERE session_id = ?",
                (session_id,),
            )
        ]
        rows.sort(key=lambda r: (r[2].host_time_utc, r[0], r[1]))
        return [row for _, _, row in rows]

    def unreceived_ranges(self, session_id: int) -> list[tuple[int, int]]:
        """The session's device's unreceived shots a host may still read back from the device's log: (first,
        last) ranges of the device's current counter epoch not marked ``beyond_log``, lowest first."""
        serial, epoch = self._device_of(self._db, session_id)
        rows = self._db.execute(
            "SELECT first, last FROM unreceived WHERE device_serial = ? AND epoch = ? AND beyond_log = 0"
            " ORDER BY first",
            (serial, epoch),
        ).fetchall()
        return [(int(first), int(last)) for first, last in rows]

    def anomalies(self, session_id: int) -> list[dict[str, Any]]:
        """What the record refused to believe in this session (``kind``, ``detail``, ``ts``), oldest first."""
        self.session(session_id)
        rows = self._db.execute(
            "SELECT ts, kind, detail FROM anomalies WHERE session_id = ? ORDER BY id", (session_id,)
        ).fetchall()
        return [{"ts": ts, "kind": kind, "detail": detail} for ts, kind, detail in rows]

    def notes(self, session_id: int) -> list[dict[str, Any]]:
        """The operator's notes in this session (``ts``, ``kind``, ``detail``, ``reason``), oldest first."""
        self.session(session_id)
        rows = self._db.execute(
            "SELECT ts, kind, detail, reason FROM notes WHERE session_id = ? ORDER BY id", (session_id,)
        ).fetchall()
        return [{"ts": ts, "kind": kind, "detail": detail, "reason": reason} for ts, kind, detail, reason in rows]

    def events(self, session_id: int) -> list[dict[str, Any]]:
        """The session's commands, replies and events in the order they were recorded."""
        self.session(session_id)
        rows = self._db.execute(
            "SELECT ts, direction, body FROM events WHERE session_id = ? ORDER BY id", (session_id,)
        ).fetchall()
        return [{"ts": ts, "direction": direction, **json.loads(body)} for ts, direction, body in rows]

    def export(self, session_id: int, fmt: str) -> str:
        """The session as JSON (summary, shots, events, anomalies, notes) or CSV (one row per shot)."""
        summary = self.session(session_id)
        shots = self.shots(session_id)
        if fmt == "json":
            return json.dumps(
                {
                    "session": asdict(summary),
                    "shots": [asdict(s) for s in shots],
                    "events": self.events(session_id),
                    "alarms": [asdict(a) for a in self.alarms(session_id)],
                    "anomalies": self.anomalies(session_id),
                    "notes": self.notes(session_id),
                },
                indent=2,
            )
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=[f for f in ShotRow.__dataclass_fields__])
            writer.writeheader()
            for shot in shots:
                writer.writerow(_csv_row(asdict(shot)))
            return out.getvalue()
        raise RecordError(f"export format {fmt!r} is not one of: json, csv")


def _check_folder(path: str | Path | None) -> None:
    """A ``path`` given in a folder that does not exist is a mistyped path (only the default's are created)."""
    if path is not None and not Path(path).parent.is_dir():
        raise RecordError(
            f"no folder {Path(path).parent} for the treatment record {path} (check --db; only the "
            "default location's folders are created)"
        )


def _gaps(first: int, last: int, known: list[int]) -> list[tuple[int, int]]:
    """The ranges of ``first..last`` not in ``known`` (sorted): the unreceived shots as (first, last) pairs."""
    gaps: list[tuple[int, int]] = []
    start = first
    for index in known:
        if index > start:
            gaps.append((start, index - 1))
        start = max(start, index + 1)
    if start <= last:
        gaps.append((start, last))
    return gaps


def one_line(exc: BaseException | str) -> str:
    """An exception's (or a text's) message on one line (SQLite and OS messages go into one-line CLI errors)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _csv_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: ("" if v is None else int(v) if isinstance(v, bool) else v) for k, v in row.items()}
