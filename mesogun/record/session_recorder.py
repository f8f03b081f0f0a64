"""The Recorder the CLI and the test fixtures attach to a Gun: sessions and messages into a TreatmentRecord.

Every write goes through one :class:`~mesogun.record.writer.RecordWriter` thread, so SQLite never runs on
the event loop. Durability per message:

* shots and alarms: :meth:`SessionRecorder.on_message` returns only once committed (fsynced), so a shot the
  API or CLI reports is on disk;
* commands and replies (``get_status`` replies included): queued and committed with the next batch,
  normally within milliseconds and at the latest together with the next shot or alarm, or when the session
  ends; a host killed in that window can lose them (never a shot);
* heartbeats and their acks: not recorded.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from firmware_protocol import Message, views
from firmware_protocol.views import view_as
from mesogun.errors import RecordError
from mesogun.models import GunInfo, Status
from mesogun.record.recorder import Direction, FailureHandler
from mesogun.record.store import TreatmentRecord, Where, default_path, is_keepalive
from mesogun.record.writer import RECORD_WRITE_TIMEOUT, Job, RecordWriter
from mesogun.shot_counter import unwrap

_DURABLE = frozenset({"shot", "alarm", "shot_log"})
"""Device messages whose ``on_message`` returns only once committed (fsynced): shots, alarms, and a ``shot_log``
page (shots read back from the device; pages are read only while the gun is neither armed nor firing, or by a
``fire()`` after its burst, so their fsync never holds up a shot event behind them)."""


class SessionRecorder:
    """Connects a :class:`~mesogun.session.gun.Gun` to a treatment record (the Gun's ``recorder``).

    A session opens at every (re)connect and is reconciled with the device's lifetime counter then; a gap
    in shot indices during a session (a shot event lost on the link) is entered as unreceived as soon as
    the next shot or the next ``get_status`` reply shows it (a shot event arriving later replaces it).

    ``record`` is a :class:`TreatmentRecord` (its location, and its class, which the writer thread opens its own
    connection with), a path or database URL, or ``None`` for the default location. The caller's record object
    itself is not written through. The file is opened (and created if absent) at the first session start, not before.
    """

    def __init__(self, record: TreatmentRecord | Where | None, *, write_timeout: float = RECORD_WRITE_TIMEOUT) -> None:
        given = record.location.given if isinstance(record, TreatmentRecord) else record
        opener = type(record) if isinstance(record, TreatmentRecord) else TreatmentRecord
        self.path: Path | str = _shown(given) if given is not None else default_path()
        self.writer = RecordWriter(functools.partial(opener, given), self.path, write_timeout=write_timeout)
        self.session_id: int | None = None
        self.unreceived = 0
        """Shots entered as unreceived by this recorder (reconciliation and gaps)."""
        self._last_index: int | None = None
        self._before_session: list[tuple[Direction, Message]] = []  # hello, identity, first status
        self.visit_id: int | None = None
        """The visit (:mod:`mesogun.record.visits`) the open session belongs to (``None``: none). A session started
        at a connect joins the visit open on its gun, whoever opened it (a restarted service, the CLI)."""
        self._connected: tuple[GunInfo, str, int | None] | None = None  # what the open session was started with

    def on_failure(self, handler: FailureHandler) -> None:
        """Call ``handler`` on the loop as soon as any write fails (at once if one already has)."""
        self.writer.on_failure(handler)

    async def on_connected(self, info: GunInfo, status: Status, url: str) -> None:
        """Open a session for this device, reconcile with its lifetime counter, log the handshake."""
        self.writer.raise_if_failed()
        handshake, self._before_session = self._before_session, []
        hellos = [m for d, m in handshake if d == "host" and m.name == "hello"]
        host_id = int(hellos[-1].get("host_id", 0)) or None if hellos else None  # the id our shots carry

        def start(record: TreatmentRecord) -> tuple[int, int, int | None]:
            from mesogun.record.visits import VisitBook  # with the database layer, in the writer thread

            visit = VisitBook(record).open_on(info.serial_number)  # a visit open on this gun holds the connection
            visit_id = visit.id if visit is not None else None
            session = _start(record, info, url, host_id, visit_id)
            added = record.reconcile(session, status.shots_lifetime, at_connect=True)
            record.enter_active_alarms(session, status.active_alarms)  # raised while no host was connected
            for direction, message in handshake:
                record.log_message(session, direction, message)
            return session, added, visit_id

        self.session_id, added, self.visit_id = await self.writer.wait(self.writer.submit(start), "the session start")
        self._connected = (info, url, host_id)
        self.unreceived += added
        self._last_index = status.shots_lifetime

    async def on_message(self, direction: Direction, message: Message) -> None:
        """Shots and alarms: return once committed. Commands and replies: return once queued."""
        self.writer.raise_if_failed()
        if is_keepalive(message):
            return
        if self.session_id is None:  # the connect handshake: logged once the session (and its device) is known
            self._before_session.append((direction, message))
            return
        job = self._job(self.session_id, direction, message)
        if direction == "device" and message.name in _DURABLE:
            added = await self.writer.wait(self.writer.submit(job), f"{message.name} (seq {message.seq})")
            self._count(added)
        else:
            self.writer.post(job, self._count)

    async def set_visit(self, visit_id: int | None) -> None:
        """A visit was opened (``visit_id``) or closed (``None``) on the connected gun: the open session is ended and
        a new one started in it, in order with the messages (what came before stays where it was); the device's
        counter needs no reconciling there (the host saw everything up to now)."""
        self.visit_id = visit_id
        session, connected = self.session_id, self._connected
        if session is None or connected is None:
            return  # the next connect opens its session in the visit
        self.writer.raise_if_failed()
        info, url, host_id = connected

        def rotate(record: TreatmentRecord) -> int:
            record.end_session(session)
            return _start(record, info, url, host_id, visit_id)

        self.session_id = await self.writer.wait(self.writer.submit(rotate), "the visit's session start")

    async def on_note(self, kind: str, detail: str, reason: str) -> None:
        """Enter an operator's note in the open session; return once committed."""
        self.writer.raise_if_failed()
        session = self.session_id
        if session is None:
            raise RecordError(f"the treatment record has no open session for the {kind} note")
        await self.writer.wait(
            self.writer.submit(lambda record: record.add_note(session, kind, detail, reason)), f"the {kind} note"
        )

    async def missing_shots(self) -> list[tuple[int, int]]:
        """The device's shots on record as unreceived that its shot log may still hold ((first, last) ranges):
        the Gun reads them back after every (re)connect (shots fired while no host, or a crashed host, saw them).
        """
        self.writer.raise_if_failed()
        session = self.session_id
        if session is None:
            return []
        return await self.writer.wait(
            self.writer.submit(lambda record: record.unreceived_ranges(session), durable=False), "the unreceived shots"
        )

    async def on_disconnected(self, reason: str) -> None:
        """Close the session (committing everything queued) and end the writer thread until the next connect."""
        session, self.session_id, self._connected = self.session_id, None, None
        try:
            self.writer.raise_if_failed()
            if session is not None:
                await self.writer.wait(
                    self.writer.submit(lambda record: record.end_session(session)), "the session end"
                )
        finally:
            await self.writer.close()

    def _job(self, session: int, direction: Direction, message: Message) -> Job:
        """The write for one message: log it, and reconcile the counter it reveals (a gap, a status)."""
        reconcile_to: int | None = None
        if direction == "device" and message.name == "shot":
            index = unwrap(view_as(message, views.Shot).shot_index, self._last_index)  # past the 2**32 wrap
            if self._last_index is not None and index > self._last_index + 1:
                reconcile_to = index - 1
            self._last_index = max(index, self._last_index or 0)
        elif direction == "device" and message.name == "status":  # a get_status reply: the device's counter rules
            reconcile_to = unwrap(view_as(message, views.Status).shots_lifetime, self._last_index)
            self._last_index = max(reconcile_to, self._last_index or 0)

        def write(record: TreatmentRecord) -> int:
            record.log_message(session, direction, message)
            return record.reconcile(session, reconcile_to) if reconcile_to is not None else 0

        return write

    def _count(self, added: Any) -> None:
        self.unreceived += int(added)


def _start(record: TreatmentRecord, info: GunInfo, url: str, host_id: int | None, visit_id: int | None) -> int:
    """A new record session for the connected gun ``info`` (in visit ``visit_id``, if any)."""
    return record.start_session(
        info.serial_number,
        model=info.model,
        firmware_version=info.firmware_version,
        url=url,
        hardware_id=info.hardware_id or None,
        counter_epoch=info.counter_epoch or None,
        host_id=host_id,
        visit_id=visit_id,
        calibration_id=info.calibration_id,
    )


def _shown(given: Where) -> Path | str:
    """How messages name the record at ``given``: its file, or its URL without the password."""
    from mesogun.record.database import locate

    location = locate(given)
    return location.file if location.file is not None else location.shown
