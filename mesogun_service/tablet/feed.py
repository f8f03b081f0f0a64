"""The live tally of one gun for every tablet: one :class:`TabletFeed` per gun (started by its first live client,
kept for the service's life) follows the gun's events and keeps what the tablets show: shots and volume this
session and this zone (the open treatment session's, read from the record at start, when the session or its zone
changes and after missed events, then counted from each ``shot`` event: the device's ``delivered_ml``), the
reservoir left, shots until the needle change, the depth, the state, the connection and the alarm board. Every
change is one :class:`LiveSnapshot` on its own fan-out, so every tablet renders the same values.

Without an open treatment session, "this session" is the device's own (its ``shots_session``; the volume counted
since the feed started) and there is no zone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.applications import Starlette

from firmware_protocol import AlarmCode, AlarmPriority
from mesogun.clinic import zones
from mesogun.clinic.needles import DEFAULT_CHANGE_AFTER_SHOTS
from mesogun.errors import MesogunError
from mesogun.json_forms import status_fields
from mesogun.record import TreatmentRecord
from mesogun.record.treatment import TreatmentBook
from mesogun.session.fanout import FanOut, Subscription
from mesogun_service.hosted import ServiceEvent
from mesogun_service.record_access import SharedRecord
from mesogun_service.tablet.alarms import AlarmBoard, BoardAlarm, alarm_code

log = logging.getLogger(__name__)

EVENT_BUFFER = 1024
"""Gun events the feed may fall behind by; missing some, it reads the tally from the record again."""

CLIENT_BUFFER = 32
"""Snapshots a tablet may fall behind by (it loses the oldest: the newest is what it must show)."""


@dataclass(frozen=True)
class Tally:
    """The open treatment session's counts as the record holds them."""

    visit_id: int
    zone: str | None
    session_shots: int
    session_ml: float
    zone_shots: int
    zone_ml: float
    needle_shots: int
    last_index: int | None = None
    """The device's index of the latest shot counted (the record's, then each event's): a shot event at or before
    it is one the record already holds (re-sent after a reload, a reconnect): not counted twice."""


@dataclass(frozen=True)
class LiveSnapshot:
    """What every tablet shows of one gun now."""

    serial: str
    connected: bool
    state: str | None
    """The device's state (``armed``, ``firing``…; ``None`` before the first status)."""
    visit_id: int | None
    """The open treatment session (``None``: none)."""
    zone: str | None
    zone_label: str | None
    session_shots: int
    session_ml: float
    zone_shots: int | None
    zone_ml: float | None
    reservoir_ml: float | None
    needle_shots: int | None
    needle_left: int | None
    """Shots until the needle change is due (0: due now; ``None``: no treatment session)."""
    depth_mm: float | None
    """The depth set."""
    needle_depth_mm: float | None
    """Where the needle stop is now."""
    alarms: tuple[BoardAlarm, ...]
    last_shot: int | None
    """The lifetime index of the last shot counted (``None``: none since the feed started)."""

    @property
    def flashing(self) -> bool:
        """A high-priority alarm nobody acknowledged yet."""
        return any(a.priority is AlarmPriority.HIGH and not a.acknowledged for a in self.alarms)


class HostedLike(Protocol):
    """What the feed needs of a :class:`~mesogun_service.hosted.HostedGun`."""

    url: str

    @property
    def serial(self) -> str | None: ...

    @property
    def last_gun(self) -> Any: ...

    @property
    def connected(self) -> asyncio.Event: ...

    def subscribe(self, maxsize: int = 256) -> Subscription[ServiceEvent]: ...


Loader = Callable[[int], Awaitable["Tally | None"]]
"""Reads a visit's :class:`Tally` from the record (``None``: not a treatment session)."""

Where = Callable[[], "tuple[int | None, str | None]"]
"""The service's current (visit, zone) of the gun: the tally is read again whenever it changes."""


class TabletFeed:
    """One gun's live tally and alarm board, republished as :class:`LiveSnapshot` on every change."""

    def __init__(self, hosted: HostedLike, *, load: Loader | None = None, where: Where | None = None) -> None:
        self.hosted = hosted
        self._load = load
        self._where = where or (lambda: (None, None))
        self._out: FanOut[LiveSnapshot] = FanOut()
        self._board = AlarmBoard()
        self._task: asyncio.Task[None] | None = None
        self._connected = hosted.connected.is_set()
        self._status: dict[str, Any] = {}
        self._tally: Tally | None = None
        self._loaded_for: tuple[int | None, str | None] | None = None
        self._device_shots = 0
        self._counted_ml = 0.0
        self._last_shot: int | None = None
        self._reloading = asyncio.Lock()
        self._during_reload: list[dict[str, Any]] | None = None
        gun = hosted.last_gun
        if self._connected and gun is not None:
            self._on_status(status_fields(gun.status))
        self._snapshot = self._make()

    # -------------------------------------------------------------------------------------------- for the pages

    def snapshot(self) -> LiveSnapshot:
        """The values now (a page renders them first; its live stream keeps them current)."""
        return self._snapshot

    def subscribe(self) -> Subscription[LiveSnapshot]:
        """Every snapshot from now on (a tablet that falls behind loses the oldest)."""
        return self._out.subscribe(CLIENT_BUFFER)

    def acknowledge(self, code: AlarmCode, by: str) -> bool:
        """``by`` acknowledged the alarm ``code`` (every tablet stops flashing it); False if it is not active."""
        found = self._board.acknowledge(code, by)
        if found:
            self._publish()
        return found

    async def refresh(self) -> None:
        """Read the treatment session's tally from the record again now (a page changed its zone or needle)."""
        await self._reload()
        self._publish()

    # -------------------------------------------------------------------------------------------- lifetime

    def start(self) -> None:
        """Follow the gun's events in the background until its stream ends (the service stops)."""
        if self._task is None:
            events = self.hosted.subscribe(EVENT_BUFFER)  # now: no event between this call and the task's start lost
            self._task = asyncio.create_task(self._run(events), name=f"tablet feed {self.hosted.url}")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def restart(self) -> None:
        """Follow the gun's events again after the task ended (an error it could not go past was logged)."""
        if not self.running:
            self._task = None
            self.start()

    async def _run(self, events: Subscription[ServiceEvent]) -> None:
        try:
            await self._reload()
            self._publish()
            while True:
                try:
                    kind, data = await events.get()
                except StopAsyncIteration:  # the gun's stream ended: the service is stopping; so do the pages'
                    self._out.close()
                    return
                try:
                    stale = bool(events.take_missed()) or kind in ("missed", "connection")
                    self.apply(kind, data)
                    if stale or self._where() != self._loaded_for:
                        await self._reload()
                    self._publish()
                except Exception:  # one event the feed cannot follow must not freeze every tablet's values
                    log.exception("tablet feed %s: the %s event could not be followed", self.hosted.url, kind)
        finally:
            events.close()

    # -------------------------------------------------------------------------------------------- the events

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        """Follow one of the gun's events (``status``, ``shot``, ``alarm``, ``connection``; others are ignored)."""
        if kind == "status":
            self._on_status(data)
        elif kind == "shot":
            self._on_shot(data)
        elif kind == "alarm":
            code = alarm_code(str(data.get("code", "")))
            if code is not None:
                if data.get("raised"):
                    self._board.raised(code, AlarmPriority[str(data.get("priority", "high")).upper()])
                else:
                    self._board.cleared(code)
        elif kind == "connection":
            self._connected = bool(data.get("connected"))

    def _on_status(self, data: dict[str, Any]) -> None:
        self._status = data
        self._connected = True
        self._device_shots = int(data.get("shots_session", self._device_shots))
        codes = tuple(c for c in (alarm_code(str(name)) for name in data.get("active_alarms", ())) if c is not None)
        self._board.sync(codes)

    def _on_shot(self, data: dict[str, Any]) -> None:
        delivered = float(data.get("delivered_ml", data.get("dose_ml", 0.0)))
        self._device_shots += 1
        self._counted_ml += delivered
        self._last_shot = int(data.get("index", 0))
        if self._during_reload is not None:
            self._during_reload.append(data)  # counted again into the tally being read, unless it holds it
        self._count_in_tally(data)

    def _count_in_tally(self, data: dict[str, Any]) -> None:
        """One shot into the session's tally, unless the tally (the record) already holds it."""
        delivered = float(data.get("delivered_ml", data.get("dose_ml", 0.0)))
        tally = self._tally
        index = data.get("index")
        if tally is not None:
            if index is not None and tally.last_index is not None and int(index) <= tally.last_index:
                return  # on record already: counted when the tally was read
            self._tally = Tally(
                tally.visit_id,
                tally.zone,
                tally.session_shots + 1,
                tally.session_ml + delivered,
                tally.zone_shots + 1,
                tally.zone_ml + delivered,
                tally.needle_shots + 1,
                int(index) if index is not None else tally.last_index,
            )

    async def _reload(self) -> None:
        """Read the tally from the record (one read at a time); the shots the events brought while it was read are
        counted into it again unless the record already held them (by the device's index)."""
        async with self._reloading:
            where = self._where()
            visit = where[0]
            tally = None
            self._during_reload = []
            try:
                if visit is not None and self._load is not None:
                    try:
                        tally = await self._load(visit)
                    except Exception as exc:  # the record went away: keep counting from the events
                        log.warning("tablet feed %s: the record could not be read: %s", self.hosted.url, exc)
                        tally = self._tally
                seen, self._during_reload = self._during_reload, None
                self._tally, self._loaded_for = tally, where
                for shot in seen:
                    self._count_in_tally(shot)
            finally:
                self._during_reload = None

    def _publish(self) -> None:
        snapshot = self._make()
        if snapshot != self._snapshot:
            self._snapshot = snapshot
            self._out.publish(snapshot)

    def _make(self) -> LiveSnapshot:
        status, tally = self._status, self._tally
        serial = self.hosted.serial or self.hosted.url
        needle_left = None if tally is None else max(0, DEFAULT_CHANGE_AFTER_SHOTS - tally.needle_shots)
        return LiveSnapshot(
            serial=serial,
            connected=self._connected,
            state=status.get("state"),
            visit_id=tally.visit_id if tally else None,
            zone=tally.zone if tally else None,
            zone_label=zones.label(tally.zone) if tally and tally.zone else None,
            session_shots=tally.session_shots if tally else self._device_shots,
            session_ml=tally.session_ml if tally else self._counted_ml,
            zone_shots=tally.zone_shots if tally and tally.zone else None,
            zone_ml=tally.zone_ml if tally and tally.zone else None,
            reservoir_ml=status.get("reservoir_ml"),
            needle_shots=tally.needle_shots if tally else None,
            needle_left=needle_left,
            depth_mm=status.get("depth_mm"),
            needle_depth_mm=status.get("needle_depth_mm"),
            alarms=self._board.alarms(),
            last_shot=self._last_shot,
        )


def read_tally(record: TreatmentRecord, visit_id: int) -> Tally | None:
    """The treatment session ``visit_id``'s counts from the record (``None``: closed, or not a treatment)."""
    book = TreatmentBook(record)
    try:
        treatment = book.get(visit_id)
    except MesogunError:
        return None
    if not treatment.is_open:
        return None
    summary = book.summary(visit_id)
    in_zone = [z for z in summary.zones if z.zone == treatment.zone]
    return Tally(
        visit_id,
        treatment.zone,
        summary.shots,
        summary.volume_ml,
        sum(z.shots for z in in_zone),
        sum(z.volume_ml for z in in_zone),
        book.needle_shots(visit_id),
        book.last_shot_index(visit_id),
    )


def feed_for(app: Starlette, hosted: Any) -> TabletFeed:
    """The one feed of ``hosted`` (a :class:`~mesogun_service.hosted.HostedGun`) on ``app``, started on first
    use."""
    feeds: dict[str, TabletFeed] | None = getattr(app.state, "tablet_feeds", None)
    if feeds is None:
        feeds = app.state.tablet_feeds = {}
    feed = feeds.get(hosted.url)
    if feed is None:
        record: SharedRecord | None = getattr(app.state, "record", None)
        soft = getattr(app.state, "soft_limits", {}).get(hosted.url)

        async def load(visit_id: int) -> Tally | None:
            return None if record is None else await record.call(lambda r: read_tally(r, visit_id))

        def where() -> tuple[int | None, str | None]:
            visit = hosted.recorder.visit_id
            state = soft.state if soft is not None else None
            return visit, state.zone if state is not None and state.visit_id == visit else None

        feed = feeds[hosted.url] = TabletFeed(hosted, load=load, where=where)
        feed.start()
    elif not feed.running:
        feed.restart()  # its task ended (an error it could not go past, logged): every page's values follow again
    return feed
