"""The treatment record: every command, reply, shot and alarm, appended as it happens to a SQLite file (the
embedded default) or a PostgreSQL database (``postgresql://…``: one record for a clinic's several rooms).

This module is the facade; the schema is :mod:`mesogun.record.schema` (migrated at open by
:mod:`mesogun.record.migrations`), opening is :mod:`mesogun.record.database`, what differs per SQL dialect is
:mod:`mesogun.record.dialects`, the writes :mod:`mesogun.record.writes` and the reads :mod:`mesogun.record.queries`.

Durability: every shot is committed durably before :meth:`TreatmentRecord.log_message` returns (SQLite: WAL with
``synchronous=FULL``; PostgreSQL: ``synchronous_commit`` on), so a shot the host has reported is on disk even if
the host is killed right after; batched commits (``durable=False``) skip that flush. Shots are unique per (device
serial, lifetime shot index): a shot is never counted twice. :meth:`TreatmentRecord.reconcile` compares the
device's lifetime counter with the record and enters the shots the device counted but the host never received as
*ranges* in ``unreceived`` (first, last; details unknown), one row per gap however long. A counter that jumps by
more than :data:`MAX_PLAUSIBLE_UNRECEIVED` is not believed: it is entered in ``anomalies`` and the record
continues from the new counter, charging no shot to anyone. Records written before ranges existed hold unreceived
shots as ``shots`` rows with ``received = 0``; they are read (and replaced by a late shot event) exactly as before.

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

import contextlib
import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from firmware_protocol import AlarmCode, Message
from mesogun.errors import NoSuchSession, RecordError
from mesogun.i18n import N_
from mesogun.record.basics import (
    BETWEEN_SESSIONS,
    BUSY_TIMEOUT_S,
    COUNTER_JUMP,
    FOUND_AT_CONNECT,
    MAX_PLAUSIBLE_UNRECEIVED,
    TREATMENT,
    AlarmRow,
    SessionSummary,
    ShotRow,
    is_keepalive,
    one_line,
)
from mesogun.record.basics import now as _now
from mesogun.record.causes import worded_cause
from mesogun.wording import Wording

if TYPE_CHECKING:  # the database layer (SQLAlchemy) loads when a record is opened, not with ``import mesogun``
    from sqlalchemy import Connection, Executable

__all__ = [
    "BETWEEN_SESSIONS",
    "BUSY_TIMEOUT_S",
    "COUNTER_JUMP",
    "FOUND_AT_CONNECT",
    "MAX_PLAUSIBLE_UNRECEIVED",
    "TREATMENT",
    "AlarmRow",
    "SessionSummary",
    "ShotRow",
    "TreatmentRecord",
    "_now",
    "default_path",
    "is_keepalive",
    "one_line",
]

Where = Path | str
"""A record's location: a file path, or a database URL (``postgresql://user@host/db``, ``sqlite:///path``)."""


def default_path() -> Path:
    """Where the record lives unless told otherwise: the user's data directory."""
    return Path(platformdirs.user_data_dir("mesogun")) / "treatment-record.sqlite"


class TreatmentRecord:
    """An append-only treatment record (a SQLite file or a PostgreSQL database). Open one per process; it is not
    shared across threads.

    The Python API keeps no record unless it is given one; this is how (the CLI does the same)::

        with TreatmentRecord("treatment.sqlite") as record:  # TreatmentRecord() for the default, or "postgresql://…"
            async with mesogun.connect(url, recorder=SessionRecorder(record)) as gun:
                await gun.fire(count=10)                              # each shot is on disk before it is returned
            last = record.sessions()[-1]                              # SessionSummary: shots, volume, alarms
            rows, csv_text = record.shots(last.session), record.export(last.session, "csv")  # or "json"

    :class:`~mesogun.record.SessionRecorder` writes through its own connection on its own thread, so this
    object can be read meanwhile. ``create=False`` opens an existing record only (for readers). Queries:
    :meth:`sessions`, :meth:`session`, :meth:`shots`, :meth:`events`, :meth:`anomalies`; :meth:`export`. Close
    it with :meth:`close` or by leaving the ``with`` block.
    """

    def __init__(self, path: Where | None = None, *, create: bool = True) -> None:
        """Open the record at ``path`` (default: :func:`default_path`), a file path or a database URL;
        ``create=False`` for readers, so a mistyped path is an error instead of a new empty record. Only the
        default location's folders are created: a ``path`` in a folder that does not exist is a
        :class:`RecordError` (a mistyped path). A new file is readable by its owner only (0600)."""
        from mesogun.record import database  # SQLAlchemy loads with the first record, not with ``import mesogun``

        self._closed = True
        self.location = database.locate(path if path is not None else default_path())
        self.path: Path | str = self.location.file if self.location.file is not None else self.location.shown
        """The file, or the database URL without its password (how messages name the record)."""
        if path is None:
            try:
                self.path_parent().mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RecordError(f"cannot open the treatment record {self.path}: {one_line(exc)}") from exc
        self._db: Connection = database.connect(self.location, create=create)
        self._closed = False

    def path_parent(self) -> Path:
        """The folder of the record's file (the default location's is created)."""
        assert self.location.file is not None
        return self.location.file.parent

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.location.dialect

    @classmethod
    def check(cls, path: Where | None = None) -> None:
        """Refuse, as opening would, a record that cannot be used - a damaged or unreadable file, a path in
        a folder that does not exist, a database that does not answer - but create no file: a record file that
        does not exist yet stays absent (it is created when a session starts, so a failed connection leaves no
        file behind)."""
        from mesogun.record import database

        location = database.locate(path if path is not None else default_path())
        if location.file is None or location.file.exists():
            cls(path).close()
        elif path is not None:
            database.check_folder(location)

    def close(self) -> None:
        """Close the database (everything is already committed); closing again does nothing."""
        if not self._closed:
            self._closed = True
            self._db.close()

    def __repr__(self) -> str:
        """Path, and the number of sessions if open (one count; never raises, e.g. once closed)."""
        where = repr(str(getattr(self, "path", "?")))
        if getattr(self, "_closed", True):
            return f"<TreatmentRecord {where} closed>"
        try:
            count = len(self.rows("SELECT id FROM sessions"))
        except RecordError:  # e.g. locked: still open, the count is not worth waiting for
            return f"<TreatmentRecord {where} open>"
        return f"<TreatmentRecord {where} open, {count} session{'' if count == 1 else 's'}>"

    def __enter__(self) -> TreatmentRecord:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Connection]:
        """One atomic commit around several writes (each write method alone is one already), flushed to disk
        unless ``durable=False``: then it survives a crash of the process but not a power cut until the next
        durable commit (SQLite WAL with ``synchronous=NORMAL``; PostgreSQL ``synchronous_commit=off``). It holds
        the record's write lock, so other writers wait for it (at most :data:`BUSY_TIMEOUT_S`).

        Nested inside another transaction it joins it, so a writer can batch calls into one commit.
        """
        from sqlalchemy.exc import SQLAlchemyError

        from mesogun.record import database, dialects

        db = self._db
        if db.in_transaction():
            yield db
            return
        dialects.next_transaction(db, write=True, durable=durable)
        try:
            with db.begin():
                yield db
        except SQLAlchemyError as exc:
            cause = worded_cause(exc, database.cause(exc))
            raise RecordError(
                Wording(N_("treatment record {path}: {cause}"), path=str(self.path), cause=cause)
            ) from exc

    def reading(self) -> contextlib.AbstractContextManager[Connection]:
        """The connection for several reads in one transaction (the record's books read through it): inside the
        open transaction if any, else a read transaction of its own; a database error is a :class:`RecordError`."""
        return self._reading()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """The connection for a read: inside the open transaction if any, else a read transaction of its own
        (so no snapshot is held between calls); a database error is a :class:`RecordError` naming the record."""
        from sqlalchemy.exc import SQLAlchemyError

        from mesogun.record import database

        db = self._db
        if db.in_transaction():
            yield db
            return
        try:
            with db.begin():
                yield db
        except SQLAlchemyError as exc:
            cause = worded_cause(exc, database.cause(exc))
            raise RecordError(
                Wording(N_("the treatment record {path} could not be read: {cause}"), path=str(self.path), cause=cause)
            ) from exc

    def rows(
        self, query: str | Executable, parameters: Mapping[str, Any] | tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        """The rows of one read-only query: a SQLAlchemy statement, or SQL text in the driver's own parameter
        style (for audits and tests; the record's companions use statements, which every backend runs)."""
        with self._reading() as db:
            if isinstance(query, str):
                result = db.exec_driver_sql(query, parameters)
            else:
                result = db.execute(query, dict(parameters) if isinstance(parameters, Mapping) else None)
            return [tuple(row) for row in result]

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
        calibration_id: int | None = None,
    ) -> int:
        """Open a new session for a device and return its id. ``hardware_id`` and ``counter_epoch`` (from its
        identity) let :meth:`reconcile` tell a reset counter or another board for certain; ``host_id`` (the one
        this host said hello with) tells its shots from another host's; ``visit_id`` is the visit (see
        :mod:`mesogun.record.visits`) this connection belongs to; ``calibration_id`` the device calibration in
        force (its identity's; 0: factory), kept in ``sessions.calibration``."""
        from mesogun.record import writes

        with self.transaction() as db:
            return writes.start_session(
                db,
                device_serial=device_serial,
                model=model,
                firmware_version=firmware_version,
                url=url,
                hardware_id=hardware_id,
                counter_epoch=counter_epoch,
                host_id=host_id,
                visit_id=visit_id,
                calibration=None if calibration_id is None else str(calibration_id),
            )

    def end_session(self, session_id: int) -> None:
        """Mark a session ended (a crashed host leaves it open; that is visible in ``record list``)."""
        from mesogun.record import writes

        with self.transaction() as db:
            writes.end_session(db, session_id)

    def add_note(self, session_id: int, kind: str, detail: str, reason: str) -> None:
        """Enter an operator's note in the session (e.g. ``soft_limit_override``: what, and why); durable."""
        from mesogun.record import writes

        with self.transaction() as db:
            writes.add_note(db, session_id, kind, detail, reason)

    def log_message(self, session_id: int, direction: str, message: Message) -> None:
        """Append one command (direction ``host``) or reply/event (``device``); shots also go in ``shots``.

        Committed (durably) before returning. Keep-alives (heartbeat and its ack) are not recorded.
        """
        if is_keepalive(message):
            return
        from mesogun.record import writes

        with self.transaction() as db:
            writes.log_message(db, session_id, direction, message)

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
        from mesogun.record import writes

        with self.transaction() as db:
            return writes.reconcile(db, session_id, device_lifetime, at_connect=at_connect)

    def enter_active_alarms(self, session_id: int, active: Iterable[AlarmCode]) -> list[AlarmCode]:
        """At a connect: enter the alarms latched on the device (``status.active_alarms``) that the record
        never saw raised - raised while no host was connected, e.g. ``communication_lost`` after a host died
        with the gun armed. Each goes where shots fired then would (see :meth:`reconcile`), with a note and
        the reference priority; returns the codes entered."""
        from mesogun.record import writes

        with self.transaction() as db:
            return writes.enter_active_alarms(db, session_id, active)

    # -- reading ------------------------------------------------------------------------------------

    def sessions(self) -> list[SessionSummary]:
        """Every session, oldest first (a between-sessions entry just before the session that found it), with
        its shot and alarm counts."""
        from mesogun.record import queries

        with self._reading() as db:
            return queries.sessions(db)

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
        from mesogun.record import queries

        with self._reading() as db:
            return queries.shots(db, session_id)

    def alarms(self, session_id: int) -> list[AlarmRow]:
        """The session's alarms raised and cleared, in the order the host recorded them, with both clocks:
        the host's wall time (UTC) and the device's (ms since power-on), and their priority."""
        self.session(session_id)
        from mesogun.record import queries

        with self._reading() as db:
            return queries.alarms(db, session_id)

    def unreceived_ranges(self, session_id: int) -> list[tuple[int, int]]:
        """The session's device's unreceived shots a host may still read back from the device's log: (first,
        last) ranges of the device's current counter epoch not marked ``beyond_log``, lowest first."""
        from mesogun.record import queries

        with self._reading() as db:
            return queries.unreceived_ranges(db, session_id)

    def anomalies(self, session_id: int) -> list[dict[str, Any]]:
        """What the record refused to believe in this session (``kind``, ``detail``, ``ts``), oldest first."""
        self.session(session_id)
        from mesogun.record import queries

        with self._reading() as db:
            return queries.anomalies(db, session_id)

    def notes(self, session_id: int) -> list[dict[str, Any]]:
        """The operator's notes in this session (``ts``, ``kind``, ``detail``, ``reason``), oldest first."""
        self.session(session_id)
        from mesogun.record import queries

        with self._reading() as db:
            return queries.notes(db, session_id)

    def events(self, session_id: int) -> list[dict[str, Any]]:
        """The session's commands, replies and events in the order they were recorded."""
        self.session(session_id)
        from mesogun.record import queries

        with self._reading() as db:
            return queries.events(db, session_id)

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


def _csv_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: ("" if v is None else int(v) if isinstance(v, bool) else v) for k, v in row.items()}
