"""Recovering lost shots from the device's shot log (``get_shot_log``), so every shot is known in detail.

:class:`ShotLogRecovery` is the control actor's collaborator for the logs family. It follows the shot indices
of the events the actor takes (in arrival order), the device's counter in every status and at every
(re)connect, and the ranges the treatment record holds as "unreceived"; whatever is missing it reads back
from the device, one page per queued work item at normal priority (``stop`` and ``emergency_stop`` overtake
it, heartbeats go out between pages). Each page reaches the record through the ordinary command path, so
the record replaces its "details unknown" rows with the recovered shots (and marks those older than the log
window as lost for good). ``fire()`` waits for its own missing shots the same way and returns them marked
``recovered``. A shot the log shows stamped with another host's id (another workstation's session fired it)
is taken out of the missing ones and never attributed to this host (:attr:`ShotLogRecovery.other_hosts`).

The log is read only when the device's logs family has this host's fingerprint (the actor's
:class:`~mesogun.session.families.FamilyGate`); otherwise lost shots stay "details unknown".

All state is mutated in the actor's task only (the pages run as actor work); :meth:`complete` runs in the
caller's task and only submits work.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from firmware_protocol import Message, ShotSource, views
from firmware_protocol.catalog import SHOT_LOG_PAGE_MAX
from firmware_protocol.families import LOGS
from firmware_protocol.views import view_as
from mesogun.errors import DeviceRefused, MesogunError, ShotsNotReceived
from mesogun.models import FiredShots, ShotEvent, ShotRecord, Status
from mesogun.session.controller import HostState
from mesogun.shot_counter import on_wire, unwrap, unwrap_page

if TYPE_CHECKING:
    from mesogun.session.actor import ControlActor
    from mesogun.session.tracker import Burst

log = logging.getLogger(__name__)

RECOVERED_KEPT = 20_000
"""Recovered shots kept for a ``fire()`` that has not collected them yet (the oldest go first)."""

MissingShots = Callable[[], Awaitable[list[tuple[int, int]]]]
"""A recorder's optional ``missing_shots()``: the ranges (first, last) it holds as unreceived, details unknown."""


class Ranges:
    """Disjoint inclusive ranges of shot indices, kept sorted."""

    def __init__(self) -> None:
        self._ranges: list[tuple[int, int]] = []

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def spans(self) -> list[tuple[int, int]]:
        """The ranges (first, last), lowest first (a copy)."""
        return list(self._ranges)

    def __contains__(self, index: object) -> bool:
        return any(lo <= index <= hi for lo, hi in self._ranges)  # type: ignore[operator]

    def add(self, first: int, last: int) -> None:
        """Add ``first..last`` (merged with what it touches)."""
        if first > last:
            return
        merged: list[tuple[int, int]] = []
        for lo, hi in self._ranges:
            if hi + 1 < first or last + 1 < lo:
                merged.append((lo, hi))
            else:
                first, last = min(first, lo), max(last, hi)
        merged.append((first, last))
        self._ranges = sorted(merged)

    def remove(self, first: int, last: int) -> None:
        """Take ``first..last`` out."""
        kept: list[tuple[int, int]] = []
        for lo, hi in self._ranges:
            if hi < first or last < lo:
                kept.append((lo, hi))
                continue
            if lo < first:
                kept.append((lo, first - 1))
            if last < hi:
                kept.append((last + 1, hi))
        self._ranges = kept

    def first(self, lowest: int = 0) -> tuple[int, int] | None:
        """The lowest range (clipped to start at ``lowest`` or above), or ``None``."""
        for lo, hi in self._ranges:
            if hi >= lowest:
                return max(lo, lowest), hi
        return None

    def count_in(self, first: int, last: int) -> int:
        """How many indices of ``first..last`` are in the ranges."""
        return sum(max(0, min(hi, last) - max(lo, first) + 1) for lo, hi in self._ranges)

    def clear(self) -> None:
        """Forget every range."""
        self._ranges = []


class ShotLogRecovery:
    """Which shots the host lacks, and reading them back from the device's shot log."""

    def __init__(self, actor: ControlActor) -> None:
        self._actor = actor
        self.accounted_to: int | None = None
        """The highest shot index received, or known to be missing (``None`` before the first connect)."""
        self.missing = Ranges()
        """Shots fired but not received, still to be read from the log."""
        self.lost = Ranges()
        """Shots whose details are lost for good: older than the device's log window when asked for."""
        self.other_hosts = Ranges()
        """Shots the device's log shows another host's session fired: never this host's, nor unreceived."""
        self._recovered: dict[int, ShotRecord] = {}
        self._scheduled = False
        self.pages = 0
        """``get_shot_log`` pages read (for diagnostics and tests)."""

    # ------------------------------------------------------------------ what the actor tells it (actor task)

    def session_started(self, lifetime: int) -> None:
        """A (re)connect: the device's counter now; the record's own missing ranges are asked for too."""
        if self.accounted_to is None or lifetime < self.accounted_to:  # first connect, or the counter went back
            self.accounted_to = lifetime
            self.missing.clear()
            self._recovered.clear()
        self.lifetime(lifetime)
        self._ask_the_record()
        self._schedule()

    def taken(self, message: Message) -> None:
        """A device event the actor took from its inbox, in arrival order (before it waits for the record)."""
        if message.name == "shot":
            index = self.unwrap(view_as(message, views.Shot).shot_index)
            self.missing.remove(index, index)  # a status reply may have shown it before its event came
            self._account(index - 1)
            self.accounted_to = max(index, self.accounted_to or 0)
        elif message.name == "status":
            self.lifetime(self.unwrap(view_as(message, views.Status).shots_lifetime))

    def unwrap(self, index: int) -> int:
        """The lifetime number of a device index (mod 2**32) nearest to the shots accounted for."""
        return unwrap(index, self.accounted_to)

    def counted(self, status: Status | None) -> int:
        """The device's shots the host has accounted for now: the index a fire sent now starts after."""
        return max(self.accounted_to or 0, status.shots_lifetime if status is not None else 0)

    def lifetime(self, lifetime: int) -> None:
        """The device counts ``lifetime`` shots: any above those accounted for are missing."""
        self._account(lifetime)
        self._schedule()

    def _account(self, upto: int) -> None:
        if self.accounted_to is not None and upto > self.accounted_to:
            self.missing.add(self.accounted_to + 1, upto)
            self.accounted_to = upto

    def _ask_the_record(self) -> None:
        """Ranges the record holds as unreceived (shots fired while no host was connected, or by a crashed
        host) become missing too: asked for in the record's lane, after the session start it reconciled."""
        ask: MissingShots | None = getattr(self._actor.recorder, "missing_shots", None)
        if not callable(ask):
            return
        found: list[tuple[int, int]] = []

        async def call() -> None:
            try:
                found.extend(await ask())
            except MesogunError as exc:  # reading is best effort: a failing record is reported by its writes
                log.warning("could not read the record's unreceived shots: %s", exc)

        def done() -> None:
            self._actor.post("get_shot_log", lambda: self._add_missing(found))

        self._actor.record.put("the record's unreceived shots", call, done)

    async def _add_missing(self, ranges: list[tuple[int, int]]) -> None:
        for first, last in ranges:
            self.missing.add(first, last)
        self._schedule()

    # ------------------------------------------------------------------ reading pages (actor task)

    def _schedule(self) -> None:
        """Queue one page as ordinary work (behind what is queued), unless one is queued already; never while the
        gun is armed or firing, so a ``stop`` or the closing disarm never waits behind a page: the next status
        after the burst (each calls :meth:`lifetime`) schedules it, and ``fire()`` reads its own shots itself."""
        if (
            self.missing
            and not self._busy()
            and not self._scheduled
            and self._actor.link is not None
            and self._usable()
        ):
            self._scheduled = True
            self._actor.post("get_shot_log", self._background_page)

    def _busy(self) -> bool:
        """The gun is armed or firing: background pages wait (a status after the burst schedules them again)."""
        return self._actor.controller.state in (HostState.ARMED, HostState.FIRING)

    async def _background_page(self) -> None:
        self._scheduled = False
        if self._busy():  # armed since it was queued: not now (its fsync must not hold up shots)
            return
        if await self.read_page():
            self._schedule()

    async def read_page(self, lowest: int = 0) -> bool:
        """Read the page of the lowest missing shots from index ``lowest`` on; True if one was read and more
        are missing (``fire()`` passes its own first index, so it never pages through older gaps)."""
        first = self.missing.first(lowest)
        link = self._actor.link
        if first is None or link is None or link.lost is not None or not self._usable():
            return False
        lo, hi = first
        count = min(hi - lo + 1, SHOT_LOG_PAGE_MAX)
        try:
            received = await self._actor.command("get_shot_log", from_index=on_wire(lo), count=count)
        except DeviceRefused as exc:  # past the device's newest shot: its counter went back, these never come
            log.warning("the device refused its shot log for shots %d-%d: %s", lo, hi, exc.detail)
            self.missing.remove(lo, hi)
            self.lost.add(lo, hi)
            return bool(self.missing)
        except MesogunError as exc:  # the link or the session: tried again at the next gap or reconnect
            log.info("shot log not read (%s); will retry", exc)
            return False
        self.pages += 1
        self._take_page(unwrap_page(view_as(received.message, views.ShotLog), lo), lo, count)
        return bool(self.missing)

    def _usable(self) -> bool:
        """Whether the device's logs family is this host's (else its shot log is never read: said once)."""
        return self._actor.families.allows(LOGS.name)

    def _take_page(self, page: views.ShotLog, asked: int, count: int) -> None:
        if asked < page.oldest_index:  # overwritten in the device's log: details lost for good
            self._lose(asked, page.oldest_index - 1)
        start = max(asked, page.oldest_index)
        for entry in page.entries:
            index = entry.shot_index
            if index not in self.missing:
                continue
            self.missing.remove(index, index)
            shot = ShotRecord.from_log_entry(entry)
            if shot.fired_by_other_host(self._actor.host_id):  # not ours to return, count or show as ours
                self.other_hosts.add(index, index)
                continue
            self._recovered[index] = shot
            self._actor.tracker.shot(shot)  # a burst still collecting takes it at once
            self._actor.events.publish(ShotEvent(shot))
        self._lose(start, min(start + count - 1, page.newest_index))  # asked for, yet not in the page
        while len(self._recovered) > RECOVERED_KEPT:
            del self._recovered[min(self._recovered)]

    def _lose(self, first: int, last: int) -> None:
        """Still-missing shots of ``first..last`` the device's log does not hold."""
        for lo, hi in self.missing.spans():
            a, b = max(lo, first), min(hi, last)
            if a <= b:
                self.missing.remove(a, b)
                self.lost.add(a, b)

    # ------------------------------------------------------------------ fire() (caller's task)

    async def complete(self, burst: Burst, shots: list[ShotRecord], before: int) -> FiredShots:
        """Every shot of ``burst`` (fired after index ``before``): the received ``shots`` plus those read back
        from the log now, page by page; warns with :class:`ShotsNotReceived` for any still missing."""
        actor = self._actor
        last = burst.ended_by.shots_lifetime if burst.ended_by is not None else before + len(shots)

        async def note() -> None:
            self.lifetime(last)

        pages = self.pages
        with contextlib.suppress(MesogunError):
            if self.accounted_to is None or last > self.accounted_to:  # the status that ended it showed more
                await actor.call("get_shot_log", note)
            while self.missing.count_in(before + 1, last):
                page = functools.partial(self.read_page, before + 1)
                if not await actor.call("get_shot_log", page) and self.missing.count_in(before + 1, last):
                    break  # the link is gone: what is still missing stays missing
        if self.pages != pages:  # shots read back are on record (committed) before fire() returns them
            await actor.record.drain()
        result = self._result(burst.seq, shots, before, last)
        if result.unreceived:
            warnings.warn(
                ShotsNotReceived(
                    f"fire: the device fired {result.fired} shots, the details of {result.unreceived} were not "
                    "received (their events were lost and the device's shot log could not give them)"
                ),
                stacklevel=3,
            )
        return result

    def _result(self, seq: int, shots: list[ShotRecord], before: int, last: int) -> FiredShots:
        by_index = {shot.index: shot for shot in shots}
        others = self.other_hosts.count_in(before + 1, last)  # another host's session fired them
        for index in range(before + 1, last + 1):
            recovered = self._recovered.get(index)
            if recovered is None or index in by_index:
                continue
            if recovered.fire_seq == seq and recovered.source is ShotSource.REMOTE:
                by_index[index] = self._recovered.pop(index)
            else:
                others += 1  # fired for another command (not this one's)
        unknown = self.missing.count_in(before + 1, last) + self.lost.count_in(before + 1, last)
        fired = len(by_index) + min(unknown, max(0, last - before - len(by_index) - others))
        return FiredShots(sorted(by_index.values(), key=lambda shot: shot.index), fired=fired)


def log_failure(future: asyncio.Future[Any]) -> None:
    """Work nobody waits for (a background page): its failure is logged, never left to the loop's handler."""
    if not future.cancelled() and future.exception() is not None:
        log.info("background shot log read failed: %s", future.exception())
