"""Burst and status-wait accounting: which shots belong to which ``fire``, and who waits for which status.

Pure bookkeeping with no I/O and no awaits: only the control actor calls it, so it needs no locks. Device
events are numbered in arrival order by the link; a burst the device reported over resolves only once every
event received before that report has been handled (a command's status reply overtakes shot events still in
the actor's inbox or waiting for the treatment record).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from firmware_protocol import AlarmPriority, DeviceState, ShotSource
from mesogun.errors import DeviceAlarm, MesogunError
from mesogun.models import AlarmEvent, ShotRecord, Status


@dataclass
class Burst:
    """One fire command in progress."""

    seq: int
    count: int
    ack_rx: int
    future: asyncio.Future[list[ShotRecord]]
    shots: list[ShotRecord] = field(default_factory=list)
    alarm: AlarmEvent | None = None
    asked_status: bool = False
    ended_by: Status | None = None
    """The status that showed the burst over."""
    drain_to: int = 0
    """The number of the last event received before ``ended_by``; the burst resolves once it is handled."""
    doomed: Callable[[Burst], MesogunError] | None = None
    """Set when the session failed (the record): the burst still collects its shots while the gun is made safe,
    then ends with this error instead of a result."""

    @property
    def last_shot_in(self) -> bool:
        """All the shots asked for arrived (a bounded burst): time to ask for a status rather than wait."""
        return bool(self.count) and len(self.shots) >= self.count


@dataclass
class StatusWait:
    """A caller waiting for a status (received after ``after_rx``) that satisfies ``done``."""

    after_rx: int
    done: Callable[[Status], bool]
    future: asyncio.Future[Status]
    what: str


class Tracker:
    """Bursts in progress, bursts ending, status waiters; resolved from the statuses and events it is fed."""

    def __init__(self, host_id: int = 0) -> None:
        self.host_id = host_id
        """This host's id: a shot the device stamped with another one is never this host's burst's."""
        self.burst: Burst | None = None
        self._ending: list[Burst] = []
        self._waits: list[StatusWait] = []
        self._taken = 0
        """The number of the newest event the actor took from its inbox (events are taken in order)."""
        self._pending: set[int] = set()
        """Events taken but not handled yet (waiting for the treatment record)."""

    def _bursts(self) -> list[Burst]:
        return [b for b in (self.burst, *self._ending) if b is not None]

    # -- events ----------------------------------------------------------------------------------

    def taken(self, event_no: int, *, pending: bool) -> None:
        """The actor took event ``event_no`` from its inbox; ``pending``: its handling waits for the record."""
        self._taken = max(self._taken, event_no)
        if pending:
            self._pending.add(event_no)
        self._finish_ended()

    def handled(self, event_no: int) -> None:
        """A pending event is fully handled: bursts waiting for it may resolve."""
        self._pending.discard(event_no)
        self._finish_ended()

    def start_burst(self, burst: Burst) -> None:
        """A fire command was acknowledged."""
        self.burst = burst

    def shot(self, shot: ShotRecord) -> Burst | None:
        """Attribute a shot to its burst (by the fire's seq); return that burst (none for a trigger or pedal shot,
        or another host's: its fire's seq may equal one of ours)."""
        if shot.source is not ShotSource.REMOTE or shot.fired_by_other_host(self.host_id):
            return None
        burst = next((b for b in self._bursts() if b.seq == shot.fire_seq), None)
        if burst is not None:
            burst.shots.append(shot)
        return burst

    def alarm(self, alarm: AlarmEvent) -> bool:
        """Note an alarm on every burst; return True if it stops firing (raised, not low priority)."""
        stops = alarm.raised and alarm.priority is not AlarmPriority.LOW
        if stops:
            for burst in self._bursts():
                burst.alarm = alarm
        return stops

    # -- statuses ----------------------------------------------------------------------------------

    def status(self, status: Status, status_rx: int, events_before: int) -> None:
        """A newer status (after ``events_before`` events): end the burst if the device stopped firing;
        settle the waiters it satisfies."""
        burst = self.burst
        if burst is not None and status_rx > burst.ack_rx and status.state is not DeviceState.FIRING:
            self.burst = None
            if not burst.future.done():
                burst.ended_by, burst.drain_to = status, events_before
                self._ending.append(burst)
                self._finish_ended()
        for wait in list(self._waits):
            if wait.future.done():
                self._waits.remove(wait)
            elif status_rx > wait.after_rx:
                if status.state in (DeviceState.ALARM, DeviceState.EMERGENCY_STOP):
                    self._waits.remove(wait)
                    code = status.active_alarms[0] if status.active_alarms else None
                    name = code.json_name if code is not None else status.state.json_name
                    wait.future.set_exception(DeviceAlarm(f"{name} while waiting for {wait.what}", alarm=code))
                elif wait.done(status):
                    self._waits.remove(wait)
                    wait.future.set_result(status)

    def add_wait(self, wait: StatusWait) -> None:
        """Register a status waiter (it is settled by a later :meth:`status`)."""
        self._waits.append(wait)

    def _finish_ended(self) -> None:
        for burst in list(self._ending):
            if self._taken < burst.drain_to or any(n <= burst.drain_to for n in self._pending):
                continue
            self._ending.remove(burst)
            if not burst.future.done():
                _resolve(burst)

    # -- failure ---------------------------------------------------------------------------------

    def doom(self, burst_error: Callable[[Burst], MesogunError]) -> None:
        """Bursts in progress will end with ``burst_error`` (called when they end), not a result: the caller
        hears of the failure only once the gun is safe, with every shot that arrived meanwhile."""
        for burst in self._bursts():
            burst.doomed = burst_error

    def fail_all(self, error: MesogunError, *, burst_error: Callable[[Burst], MesogunError] | None = None) -> None:
        """Fail every burst and waiter with ``error`` (connection lost, record failed, gun closed);
        ``burst_error`` words a burst's error (e.g. with the shots delivered)."""
        bursts, self.burst, self._ending = self._bursts(), None, []
        for burst in bursts:
            if not burst.future.done():
                burst.future.set_exception(burst_error(burst) if burst_error is not None else error)
        waits, self._waits = self._waits, []
        for wait in waits:
            if not wait.future.done():
                wait.future.set_exception(error)

    def reset(self) -> None:
        """A new link: arrival indices restart."""
        self._taken = 0
        self._pending.clear()


def _resolve(burst: Burst) -> None:
    if burst.doomed is not None:
        burst.future.set_exception(burst.doomed(burst))
        return
    status = burst.ended_by
    assert status is not None
    if status.state in (DeviceState.ALARM, DeviceState.EMERGENCY_STOP) or burst.alarm is not None:
        code = burst.alarm.code if burst.alarm is not None else (status.active_alarms or (None,))[0]
        name = code.json_name if code is not None else status.state.json_name
        burst.future.set_exception(
            DeviceAlarm.firing_stopped(name, len(burst.shots), burst.count, alarm=code, shots=burst.shots)
        )
    else:
        burst.future.set_result(list(burst.shots))


class NeedleStop:
    """Whether the device's needle stop is known to sit at the depth it was last set to.

    Lets ``configure()`` return at once when the depth did not change and the stop already reached it,
    instead of waiting a status period for news of a move that never happens.
    """

    def __init__(self) -> None:
        self._target_um: int | None = None
        self._set_rx = -1
        self.settled = False
        """True once a status newer than the last depth change showed the stop at its target."""

    def status(self, status: Status, rx: int) -> None:
        """A status from the device: it is the authority on the target and the stop's position."""
        if rx > self._set_rx:
            self._target_um = status.depth_um
            self.settled = status.needle_depth_um == status.depth_um

    def set(self, depth_um: int, rx: int) -> None:
        """The device acknowledged a new depth: a change starts a move (an unchanged depth does not)."""
        if depth_um != self._target_um:
            self._target_um, self._set_rx, self.settled = depth_um, rx, False

    def at(self, depth_um: int) -> bool:
        """The stop is known to be at ``depth_um`` and not moving."""
        return self.settled and self._target_um == depth_um
