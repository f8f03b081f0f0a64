"""Visits: a treatment session as a clinic means it, opened and closed explicitly (by the tablet, the CLI or the
API), holding every connection, reconnection and command in between (each connection is a record session
whose ``visit_id`` names its visit). One open visit per gun at a time."""

from __future__ import annotations

from dataclasses import dataclass

from mesogun.errors import ParameterError, RecordError
from mesogun.record.store import TreatmentRecord, _now

NOTE_MAX = 2000
"""The longest visit note, characters."""


class NoSuchVisit(RecordError):
    """No visit of that id in the record (or it is not open, for a close)."""

    code = "MG604"
    exit_code = 2


class VisitAlreadyOpen(RecordError):
    """The gun has an open visit already: close it before opening another."""

    code = "MG605"
    exit_code = 2


@dataclass(frozen=True)
class Visit:
    """One visit with what happened during it: its connections (record sessions) and their shots."""

    id: int
    device_serial: str
    opened: str
    closed: str | None
    opened_by: str
    closed_by: str | None
    note: str
    sessions: tuple[int, ...]
    """The record sessions (connections) it holds, oldest first."""
    shots: int
    """Shots on record in detail during the visit (this host's)."""
    shots_unreceived: int
    """Shots the device counted during the visit whose details never reached the host."""
    volume_ml: float
    """Volume delivered by the recorded shots, mL."""


class VisitBook:
    """Opens, closes and reads visits in a :class:`TreatmentRecord` (each write its own fsynced commit)."""

    def __init__(self, record: TreatmentRecord) -> None:
        self.record = record

    def open(self, device_serial: str, *, opened_by: str, note: str = "") -> Visit:
        """Open a visit on ``device_serial``; :class:`VisitAlreadyOpen` if one is open on it."""
        if len(note) > NOTE_MAX:
            raise ParameterError(
                f"note is {len(note)} characters; at most {NOTE_MAX} are kept", field="note", value=len(note)
            )
        with self.record.transaction() as db:
            row = db.execute(
                "SELECT id FROM visits WHERE device_serial = ? AND closed IS NULL", (device_serial,)
            ).fetchone()
            if row is not None:
                raise VisitAlreadyOpen(f"gun {device_serial} has visit {row[0]} open; close it before opening another")
            cur = db.execute(
                "INSERT INTO visits (device_serial, opened, opened_by, note) VALUES (?, ?, ?, ?)",
                (device_serial, _now(), opened_by, note),
            )
            assert cur.lastrowid is not None
            visit_id = cur.lastrowid
        return self.get(visit_id)

    def close(self, visit_id: int, *, closed_by: str) -> Visit:
        """Close an open visit; :class:`NoSuchVisit` if there is no such open visit."""
        with self.record.transaction() as db:
            cur = db.execute(
                "UPDATE visits SET closed = ?, closed_by = ? WHERE id = ? AND closed IS NULL",
                (_now(), closed_by, visit_id),
            )
            if cur.rowcount != 1:
                raise NoSuchVisit(f"no open visit {visit_id} in the treatment record {self.record.path}")
        return self.get(visit_id)

    def open_on(self, device_serial: str) -> Visit | None:
        """The visit open on ``device_serial``, if any."""
        rows = self.record.rows("SELECT id FROM visits WHERE device_serial = ? AND closed IS NULL", (device_serial,))
        return self.get(rows[0][0]) if rows else None

    def get(self, visit_id: int) -> Visit:
        """One visit with its sessions and shot totals; :class:`NoSuchVisit` if there is none."""
        rows = self.record.rows(
            "SELECT id, device_serial, opened, closed, opened_by, closed_by, note FROM visits WHERE id = ?",
            (visit_id,),
        )
        if not rows:
            raise NoSuchVisit(f"no visit {visit_id} in the treatment record {self.record.path}")
        sessions = tuple(
            r[0] for r in self.record.rows("SELECT id FROM sessions WHERE visit_id = ? ORDER BY id", (visit_id,))
        )
        ((shots, volume_nl),) = self.record.rows(
            "SELECT COUNT(*), COALESCE(SUM(COALESCE(delivered_nl, dose_nl)), 0) FROM shots"
            " WHERE session_id IN (SELECT id FROM sessions WHERE visit_id = ?) AND received = 1 AND other_host = 0",
            (visit_id,),
        )
        ((unreceived,),) = self.record.rows(
            "SELECT (SELECT COUNT(*) FROM shots WHERE received = 0 AND session_id IN"
            "        (SELECT id FROM sessions WHERE visit_id = ?))"
            " + (SELECT COALESCE(SUM(last - first + 1), 0) FROM unreceived WHERE session_id IN"
            "        (SELECT id FROM sessions WHERE visit_id = ?))",
            (visit_id, visit_id),
        )
        vid, serial, opened, closed, opened_by, closed_by, note = rows[0]
        return Visit(
            id=vid,
            device_serial=serial,
            opened=opened,
            closed=closed,
            opened_by=opened_by,
            closed_by=closed_by,
            note=note,
            sessions=sessions,
            shots=shots,
            shots_unreceived=unreceived,
            volume_ml=volume_nl / 1e6,
        )

    def all(self, device_serial: str | None = None) -> list[Visit]:
        """Every visit (of one gun if given), oldest first."""
        if device_serial is None:
            ids = self.record.rows("SELECT id FROM visits ORDER BY id")
        else:
            ids = self.record.rows("SELECT id FROM visits WHERE device_serial = ? ORDER BY id", (device_serial,))
        return [self.get(row[0]) for row in ids]
