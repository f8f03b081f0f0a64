"""The control actor: the one task that owns the link, the heartbeat schedule and the order of everything.

Callers submit work (a command) and wait for its future; the link's callbacks (an event, a loss) and the
record's (a write done, a failure) only enqueue. The actor takes items one at a time, urgent ones first,
so exactly one execution context mutates session state: controller, status, bursts, waiters. It sends
a heartbeat whenever nothing went out for a fraction of the device's watchdog period; if the actor
stalls, heartbeats stop and the device's own watchdog stops the gun. The treatment record runs in its
own lane (:class:`~mesogun.session.recording.RecordPipe`) and never holds the actor up: a record that
fails or stalls past its timeout makes the actor stop and disarm the gun and refuse further work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from firmware_protocol import FINGERPRINT, PROTOCOL_VERSION, DeviceState, Message, views
from firmware_protocol.views import echoed
from mesogun.errors import (
    CommandOutcome,
    ConnectionLost,
    LinkTimeout,
    MesogunError,
    PortNotFound,
    RecordError,
    as_message,
)
from mesogun.i18n import N_
from mesogun.link import Link, Received
from mesogun.models import AlarmEvent, Event, GunInfo, ShotEvent, ShotRecord, Status, StatusEvent, TriggerEvent
from mesogun.record.recorder import NullRecorder, Recorder
from mesogun.session.controller import Controller, HostState, command_word
from mesogun.session.families import FamilyGate
from mesogun.session.fanout import FanOut
from mesogun.session.outcomes import CommandOutcomes
from mesogun.session.recording import RecordPipe
from mesogun.session.shot_log import ShotLogRecovery, log_failure
from mesogun.session.timeouts import Timeouts
from mesogun.session.tracker import Burst, NeedleStop, StatusWait, Tracker
from mesogun.transports import Transport
from mesogun.wording import Number, Wording

log = logging.getLogger(__name__)
T = TypeVar("T")

MIN_HEARTBEAT_PERIOD = 0.01
"""Seconds between heartbeats at the least, whatever watchdog period a device reports (0 is legal on the
wire): a device that claims a tiny watchdog gets a steady heartbeat, not a flood."""

SAFE_COMMANDS = frozenset({"stop", "emergency_stop", "disarm", "get_status", "heartbeat"})
"""Commands still sent after the treatment record failed: they only make the gun safer or ask its state."""
SEND_FIRST = frozenset({"stop", "emergency_stop", "disarm", "heartbeat"})
"""Commands sent before anything about them is handed to the record."""
UNRECORDED = frozenset({"heartbeat"})
"""Commands the record never sees (nor their replies): keep-alives, not treatment."""
STATE_SILENT = frozenset({"heartbeat", "get_status", "get_shot_log"})
"""Commands whose ack says nothing about the device's state: a status received before it still counts (a shot log
page read while a burst ended must not hide the status that ended it)."""
HEARTBEAT_SLACK = 0.001
"""A heartbeat due within this many seconds is sent now (sub-millisecond sleeps could spin a virtual clock)."""


@dataclass
class _Work:
    """A caller's command, run by the actor; ``future`` carries its result back."""

    name: str
    run: Callable[[], Awaitable[Any]]
    future: asyncio.Future[Any]


@dataclass
class _FromDevice:
    """A device event tagged with the link generation that received it."""

    generation: int
    received: Received


@dataclass
class _Recorded:
    """A shot or alarm the record has committed: now it may reach the caller."""

    generation: int
    received: Received


@dataclass
class _Lost:
    generation: int
    error: ConnectionLost


@dataclass
class _RecordFailed:
    error: RecordError


_Item = _Work | _FromDevice | _Recorded | _Lost | _RecordFailed | None


class ControlActor:
    """Owns one session's link and state; everything that changes them runs in :meth:`_run`."""

    def __init__(
        self, transport: Transport, recorder: Recorder, timeouts: Timeouts, *, allow_safety_only: bool = False
    ) -> None:
        self.transport = transport
        self.recorder = recorder
        self.timeouts = timeouts
        self.controller = Controller()
        self.host_id = secrets.randbits(32) or 1
        """This host's id in every hello of this actor (one per Gun: kept across reconnects), which the device
        stamps on the shots it fires for it: a shot stamped with another id is another host's."""
        self.tracker = Tracker(self.host_id)
        self.needle = NeedleStop()
        self.events: FanOut[Event] = FanOut()
        self.link: Link | None = None
        self.info: GunInfo | None = None
        self.status: Status | None = None
        self.status_rx = -1
        self._state_rx = -1
        self._generation = 0
        self._next_seq = secrets.randbelow(0x10000)  # a fresh session never collides with a stale replay cache
        self._urgent: deque[_Item] = deque()
        self._queue: deque[_Item] = deque()
        self._closing: ConnectionLost | None = None
        """Why the session is ending, once shutdown began: new work is refused with it."""
        self._shutting_down: asyncio.Future[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None
        """Set while the actor sleeps: resolving it wakes the actor (new work, or the heartbeat timer)."""
        self._task: asyncio.Task[None] | None = None
        self._last_heartbeat = 0.0
        self._heartbeat_timer: asyncio.TimerHandle | None = None
        """Due when the actor must look at the heartbeat schedule again (by the next heartbeat, maybe earlier)."""
        self._allowed: set[tuple[str, HostState]] = set()
        """(command, state) pairs the state machine allowed once (a pure function: asked once)."""
        self._unchanged: set[tuple[str, HostState]] = set()
        """(command, state) pairs whose accepted transition left the state as it was: not triggered again."""
        self._awaiting_record: dict[int, Received] = {}
        self._committed: set[int] = set()
        """Events of ``_awaiting_record`` the record has committed, their news still queued for this actor: the
        record lag counts only what still waits for the record itself, not for this actor's queue."""
        """Shots and alarms handed to the record, by event number, not yet reported to the caller."""
        self.record = RecordPipe(timeouts.record, self._record_failed, enabled=not isinstance(recorder, NullRecorder))
        self.heartbeats_sent = 0
        """Heartbeats sent (for diagnostics and tests)."""
        self.shot_log = ShotLogRecovery(self)  # reads lost shots back from the device's shot log
        self.outcomes = CommandOutcomes(self)  # what became of a command whose link failed
        self.families = FamilyGate(allow_safety_only=allow_safety_only)  # which families the device shares
        register = getattr(recorder, "on_failure", None)  # recorders written before the hook still work:
        if callable(register):  # their failures then surface through the calls the lane awaits
            register(self.record.fail)

    # ------------------------------------------------------------------ submitting (any task)

    @property
    def running(self) -> bool:
        """The actor task is up."""
        return self._task is not None and not self._task.done()

    @property
    def record_error(self) -> RecordError | None:
        """Why the treatment record failed, or ``None``."""
        return self.record.failed

    def start(self) -> None:
        """Start the actor and record tasks on the running loop."""
        self._closing = None
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mesogun-control")
        self.record.start()

    async def call(self, name: str, run: Callable[[], Awaitable[T]], *, urgent: bool = False) -> T:
        """Have the actor run ``run`` (command ``name``) and return its result; ``urgent`` overtakes queued work.

        After a record failure only :data:`SAFE_COMMANDS` run; others raise :class:`RecordError`.
        """
        if not self.running:
            raise ConnectionLost(Wording(N_("not connected (use mesogun.connect())")), outcome=_not_sent(name))
        if self._closing is not None:
            raise ConnectionLost(as_message(self._closing), outcome=_not_sent(name))
        failed = self.record.failed
        if failed is not None and name not in SAFE_COMMANDS:
            raise RecordError(
                Wording(
                    N_("{command} refused: {failed} (the gun was stopped and disarmed)"),
                    command=command_word(name),
                    failed=as_message(failed),
                )
            )
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._put(_Work(name, run, future), urgent=urgent)
        return await future

    def post(self, name: str, run: Callable[[], Awaitable[Any]]) -> None:
        """Queue ``run`` as ordinary work nobody waits for (a shot log page); a failure is only logged."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(log_failure)
        self._put(_Work(name, run, future))

    def _put(self, item: _Item, *, urgent: bool = False) -> None:
        (self._urgent if urgent else self._queue).append(item)
        _wake(self._wakeup)

    # ------------------------------------------------------------------ the actor loop

    async def _run(self) -> None:
        try:
            await self._take_items()
        finally:
            self._plan_heartbeat(None)  # no timer outlives the actor

    async def _take_items(self) -> None:
        while True:
            item = await self._next_item()
            if item is None:
                return
            try:
                if isinstance(item, _Work):
                    await self._run_work(item)
                elif isinstance(item, _FromDevice | _Recorded):
                    if item.generation == self._generation:
                        await self._on_event(item.received, recorded=isinstance(item, _Recorded))
                elif isinstance(item, _Lost):
                    await self._on_lost(item)
                else:
                    await self._on_record_failed(item.error)
            except Exception:  # one bad item must not stop the control path
                log.exception("control actor: error while handling %r", item)

    async def _next_item(self) -> _Item:
        loop = asyncio.get_running_loop()
        while True:
            if self._urgent:
                return self._urgent.popleft()
            if self._queue:
                return self._queue.popleft()
            delay = self._heartbeat_due(loop.time())
            if delay is not None and delay <= HEARTBEAT_SLACK:
                await self._heartbeat()
                continue
            # Sleep until new work or the next heartbeat: one future, and the heartbeat timer only when the one
            # already planned is not due by then (an earlier one just wakes the actor to look again): a timer per
            # sleep would be made and cancelled for every status and shot the actor handles.
            waiter = self._wakeup = loop.create_future()
            self._plan_heartbeat(None if delay is None else loop.time() + delay)
            try:
                await waiter
            finally:
                self._wakeup = None

    def _plan_heartbeat(self, due: float | None) -> None:
        """Have the heartbeat timer wake the sleeping actor by ``due`` (``None``: no heartbeat to send)."""
        timer = self._heartbeat_timer
        if timer is not None and (due is None or timer.when() > due):
            timer.cancel()
            timer = self._heartbeat_timer = None
        if timer is None and due is not None:
            self._heartbeat_timer = asyncio.get_running_loop().call_at(due, self._heartbeat_time)

    def _heartbeat_time(self) -> None:
        """The heartbeat timer fired: wake the actor (if it sleeps; if busy, it looks at the time when done)."""
        self._heartbeat_timer = None
        _wake(self._wakeup)

    def _heartbeat_due(self, now: float) -> float | None:
        """Seconds until the next heartbeat, or ``None`` without a live session.

        Counted from the last frame sent *or the last heartbeat tried*, whichever is later: a heartbeat that
        fails without sending anything still waits a full period before the next try, so the actor can
        never spin on heartbeats.
        """
        link, info = self.link, self.info
        if link is None or link.lost is not None or info is None or self.controller.state is HostState.DISCONNECTED:
            return None
        if self.families.safety_only:
            return None
        period = max(MIN_HEARTBEAT_PERIOD, info.watchdog_ms / 1000 * self.timeouts.heartbeat_fraction)
        return max(link.last_tx, self._last_heartbeat) + period - now

    async def _heartbeat(self) -> None:
        self._last_heartbeat = asyncio.get_running_loop().time()
        self.heartbeats_sent += 1
        try:
            await self.command("heartbeat")
        except LinkTimeout as exc:
            if self.link is not None:
                heartbeats = Wording(N_("the device does not answer heartbeats ({error})"), error=as_message(exc))
                self.link.fail(ConnectionLost(heartbeats))
        except ConnectionLost:
            pass  # the loss is reported by the link
        except Exception as exc:  # a refused heartbeat (e.g. incompatible session) is logged, not fatal
            log.warning("heartbeat failed: %s", exc)

    async def _run_work(self, work: _Work) -> None:
        if work.future.done():  # the caller gave up before its turn: do not act for nobody
            return
        failed = self.record.failed
        if failed is not None and work.name not in SAFE_COMMANDS:  # the record failed while this was queued
            refused = Wording(
                N_("{command} refused: {failed} (the gun was stopped)"),
                command=command_word(work.name),
                failed=as_message(failed),
            )
            work.future.set_exception(RecordError(refused))
            return
        self.outcomes.begin()  # its link failure will say what became of the command it sent
        try:
            result = await work.run()
        except Exception as exc:
            if not work.future.done():
                work.future.set_exception(self.outcomes.explain(work.name, exc))
        except BaseException:  # the actor itself is cancelled (close_grace ran out): its caller must hear
            if not work.future.done():
                lost = ConnectionLost(Wording(N_("the session closed while {command} ran"), command=work.name))
                work.future.set_exception(self.outcomes.explain(work.name, lost))
            raise
        else:
            if not work.future.done():
                work.future.set_result(result)
        finally:
            self.outcomes.end()

    # ------------------------------------------------------------------ session lifecycle (in the actor)

    def new_link(self) -> Link:
        """A fresh link on the (open) transport; events and losses of older links are ignored from now on."""
        self._generation += 1
        generation = self._generation
        link = Link(
            self.transport,
            ack_timeout=self.timeouts.ack,
            retries=self.timeouts.retries,
            silence_timeout=self.timeouts.silence or self.timeouts.silence_before_identity,
            first_seq=self._next_seq,
            on_event=lambda r: self._put(_FromDevice(generation, r)),
            on_lost=lambda e: self._put(_Lost(generation, e)),  # after the events received before it
        )
        self.link = link
        self.events = FanOut()
        self.status_rx = self._state_rx = -1
        self.tracker.reset()
        self._awaiting_record.clear()
        self._committed.clear()
        return link

    async def start_session(self, expected_serial: str | None) -> None:
        """Hello, identity check, first status, on the open transport (connect and reconnect)."""
        link = self.new_link()
        await link.start()
        identity = (
            await self.exchange(
                "hello", protocol_version=PROTOCOL_VERSION, fingerprint=FINGERPRINT, host_id=self.host_id
            )
        ).message
        info = GunInfo.from_identity(identity)
        self.families.on_identity(info)  # another core: refused, unless this session only makes the gun safe
        if expected_serial is not None and info.serial_number != expected_serial:
            raise PortNotFound(
                Wording(
                    N_("{url} is now gun {found}, not {expected}: not reconnecting"),
                    url=self.transport.url,
                    found=repr(info.serial_number),
                    expected=repr(expected_serial),
                )
            )
        self.info = info
        if self.families.safety_only:  # only stop and emergency_stop: no status, heartbeat or record to keep
            return
        t = self.timeouts
        if t.silence is None:  # ten missed statuses, or four missed heartbeat acks if statuses are off
            heartbeat_s = info.watchdog_ms / 1000 * t.heartbeat_fraction
            link.silence_timeout = max(t.silence_min, t.silence_periods * info.status_period_ms / 1000, 4 * heartbeat_s)
        received = await self.exchange("get_status")
        self._apply_status(received)
        await self.controller.reconcile(self._status().state)
        self._state_rx = received.rx_index
        status, url = self._status(), self.transport.url
        self.record.put("the session start", lambda: self.recorder.on_connected(info, status, url))
        self.shot_log.session_started(status.shots_lifetime)

    async def drop_link(self) -> None:
        """Stop the current link (the transport stays open: the session owns it)."""
        link, self.link = self.link, None
        if link is not None:
            self._next_seq = link.next_seq
            await link.close()

    async def make_safe(self) -> None:
        """Stop firing and disarm, going by the device's state, not the host's (close, record failure).

        ``stop`` is sent whatever the host believes: a ``fire`` whose ack was lost may have started firing.
        """
        await self.command("stop")
        if self.families.safety_only:
            return
        status = await self.until_not_firing(await self.refresh(), self.timeouts.firing_end, self.refresh)
        if status.state is DeviceState.ARMED:  # the shot in progress has ended
            await self.command("disarm")

    async def until_not_firing(self, status: Status, within: float, refresh: Callable[[], Awaitable[Status]]) -> Status:
        """Ask ``refresh`` for statuses, one per status period, until the device is no longer firing or ``within``
        seconds have passed; the last status (make_safe's stop, outcome_of's burst the device went on with)."""
        assert self.info is not None
        step = max(self.timeouts.status_poll_min, self.info.status_period_ms / 1000)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while status.state is DeviceState.FIRING and loop.time() < deadline:
            await asyncio.sleep(step)
            status = await refresh()
        return status

    async def shutdown(self, reason: ConnectionLost) -> None:
        """End the session: fail waiters, end event streams, stop the actor, drop the link, flush the record.

        Every caller still waiting (a command cut short by ``close_grace``, work queued behind it) gets
        ``reason``; a second shutdown while one runs waits for it instead of starting over.
        """
        if self._shutting_down is not None:
            await asyncio.shield(self._shutting_down)
            return
        self._shutting_down = asyncio.get_running_loop().create_future()
        try:
            await self._shutdown(reason)
        finally:
            self._shutting_down.set_result(None)
            self._shutting_down = None

    async def _shutdown(self, reason: ConnectionLost) -> None:
        self._closing = reason
        self.events.close(None)  # event streams end cleanly
        self._generation += 1  # the link's closing is not a loss to report
        self.tracker.fail_all(reason)
        if self._task is not None:
            self._put(None)
            try:
                async with asyncio.timeout(self.timeouts.close_grace):
                    await asyncio.shield(self._task)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        for item in (*self._urgent, *self._queue):  # queued behind the end: nobody will run them
            if isinstance(item, _Work) and not item.future.done():
                item.future.set_exception(ConnectionLost(as_message(reason), outcome=_not_sent(item.name)))
        self._urgent.clear()
        self._queue.clear()
        if self.link is not None:
            await self.drop_link()
            self.record.put("the session end", lambda: self.recorder.on_disconnected("closed by the host"))
        await self.record.drain()
        await self.record.close()

    # ------------------------------------------------------------------ commands (actor only)

    def _link(self) -> Link:
        if self.link is None:
            raise not_connected()
        return self.link

    def _status(self) -> Status:
        if self.status is None:
            raise not_connected()
        return self.status

    async def exchange(self, name: str, **fields: Any) -> Received:
        """Send with retries, raise on nak: the one path every command takes. The record gets the command and
        its reply through its own lane; safety commands are on the wire before the record hears of them."""
        link = self._link()
        message = link.prepare(name, **fields)
        recorded = name not in UNRECORDED
        if recorded and name not in SEND_FIRST:
            self.record.put(name, lambda: self.recorder.on_message("host", message))
        if link.lost is None:
            self.outcomes.sending(message)
        try:
            received = await link.exchange(message)
            self.outcomes.answered(message)
        finally:
            if recorded and name in SEND_FIRST:
                self.record.put(name, lambda: self.recorder.on_message("host", message))
        if recorded:
            self.record.put(f"the reply to {name}", lambda: self.recorder.on_message("device", received.message))
        link.check_reply(message, received.message)
        return received

    async def command(self, name: str, **fields: Any) -> Received:
        """Check the state machine allows ``name``, send it, take the implied transition."""
        if self.families.safety_only:  # the device's state is not readable: stop and emergency_stop only
            self.families.check(name)
            return await self.exchange(name, **fields)
        self.check(name)
        received = await self.exchange(name, **fields)
        if received.message.name == "status":
            self._apply_status(received)
        await self.accepted(name)
        if name not in STATE_SILENT:
            self._state_rx = max(self._state_rx, received.rx_index)
        return received

    def check(self, name: str) -> None:
        """Raise unless the state machine allows ``name`` now (remembering the pairs it allowed)."""
        key = (name, self.controller.state)
        if key not in self._allowed:
            self.controller.check(name)
            self._allowed.add(key)

    async def accepted(self, name: str) -> None:
        """Take the transition the device's acceptance of ``name`` implies (skipped when known to be a no-op:
        the state machine's trigger costs more than the rest of a command's host-side path)."""
        before = self.controller.state
        if (name, before) in self._unchanged:
            return
        await self.controller.accepted(name)
        if self.controller.state is before:
            self._unchanged.add((name, before))

    async def refresh(self) -> Status:
        """Ask for a status now and reconcile with it (after commands whose outcome the device decides)."""
        self.families.check("get_status")
        received = await self.exchange("get_status")
        self._apply_status(received)
        await self._reconcile(received)
        return self._status()

    def start_burst(self, fire_ack: Received) -> Burst:
        """Track the burst a ``fire`` (or ``deliver``) ack started."""
        future: asyncio.Future[list[ShotRecord]] = asyncio.get_running_loop().create_future()
        echo = views.view_as(fire_ack.message, views.Ack).echo
        if not isinstance(echo, views.Fire | views.Deliver):
            raise TypeError(f"{fire_ack.message.get('command')} does not start a burst")
        burst = Burst(fire_ack.message.seq, echo.count, fire_ack.rx_index, future)
        self.tracker.start_burst(burst)
        return burst

    def queued_shot_fire_seqs(self) -> set[int]:
        """The ``fire_seq`` of every shot event received and still waiting in the inbox (behind a command)."""
        return {
            int(item.received.message["fire_seq"])
            for item in self._queue
            if isinstance(item, _FromDevice) and item.received.message.name == "shot"
        }

    def wait_status(self, done: Callable[[Status], bool], what: str, after_rx: int) -> asyncio.Future[Status]:
        """A future for the first status received after ``after_rx`` (and after now) that satisfies ``done``."""
        future: asyncio.Future[Status] = asyncio.get_running_loop().create_future()
        self.tracker.add_wait(StatusWait(max(after_rx, self.status_rx), done, future, what))
        return future

    def depth_set(self, ack: Received) -> bool:
        """A ``set_parameters`` ack: return True if the needle stop is already at the depth it confirms."""
        depth = echoed(ack.message, views.SetParameters).depth_um
        self.needle.set(depth, ack.rx_index)
        return self.needle.at(depth)

    # ------------------------------------------------------------------ device messages (actor only)

    def _apply_status(self, received: Received) -> None:
        if received.rx_index > self.status_rx:
            self.status_rx = received.rx_index
            self.status = self._status_of(received.message)
            self.needle.status(self.status, received.rx_index)

    def _status_of(self, message: Message) -> Status:
        """A ``status`` with its lifetime counter counted on past the device's 2**32 wrap."""
        status = Status.from_message(message)
        lifetime = self.shot_log.unwrap(status.shots_lifetime)
        return status if lifetime == status.shots_lifetime else replace(status, shots_lifetime=lifetime)

    async def _reconcile(self, received: Received) -> None:
        """Follow the device's state unless a command reply newer than this status already moved us."""
        if self.status is not None and received.rx_index > self._state_rx:
            await self.controller.reconcile(self.status.state)
        if self.status is not None and received.rx_index == self.status_rx:
            self.tracker.status(self.status, self.status_rx, received.events_before)

    async def _on_event(self, received: Received, *, recorded: bool) -> None:
        message = received.message
        number = received.events_before + 1
        if not recorded:
            self.shot_log.taken(message)  # in arrival order: a gap in shot indices is a lost event
        if message.name == "status":
            self.tracker.taken(number, pending=False)
            self._apply_status(received)
            await self._reconcile(received)
            # The status just applied is this message's (converted once); an older one that came late is not.
            status = self.status if self.status_rx == received.rx_index and self.status is not None else None
            self.events.publish(StatusEvent(status or self._status_of(message)))
            return
        if message.name == "trigger":  # recorded with the next batch, like a reply; shown at once
            self.tracker.taken(number, pending=False)
            self.record.put("trigger", lambda: self.recorder.on_message("device", message))
            self.events.publish(TriggerEvent.from_message(message))
            return
        if message.name not in ("shot", "alarm"):
            self.tracker.taken(number, pending=False)
            return
        if not recorded and self.record.enabled and self.record.failed is None:  # reported once committed
            self._check_record_lag(received.time)
            self.tracker.taken(number, pending=True)
            self._awaiting_record[number] = received
            generation = self._generation
            self.record.put(
                f"{message.name} {message.get('shot_index', message.get('code', ''))}",
                lambda: self.recorder.on_message("device", message),
                lambda: self._on_committed(generation, number, received),
            )
            return
        if recorded:
            self._committed.discard(number)
        if recorded and self._awaiting_record.pop(number, None) is None:
            return  # already reported (the record failed and its backlog was flushed)
        # Pending until reported: a status that overtook this event must not end its burst without it.
        self.tracker.taken(number, pending=True)
        await self._report(received)
        self.tracker.handled(number)

    def _on_committed(self, generation: int, number: int, received: Received) -> None:
        """The record lane committed event ``number``: noted at once, reported in this actor's order."""
        if generation == self._generation:
            self._committed.add(number)
        self._put(_Recorded(generation, received))

    def _check_record_lag(self, now: float) -> None:
        """A stalled record must not let the gun fire on unrecorded: when the oldest shot or alarm still
        waiting for the record has waited longer than ``Timeouts.record_lag``, the record has failed. One the
        record committed already, whose news waits behind other events in this actor's queue, is not waiting."""
        waiting = [number for number in self._awaiting_record if number not in self._committed]
        if not waiting:
            return
        oldest = self._awaiting_record[min(waiting)]
        waited = now - oldest.time
        if waited > self.timeouts.record_lag:
            what = f"{oldest.message.name} {oldest.message.get('shot_index', oldest.message.get('code', ''))}"
            self.record.fail(
                RecordError(
                    Wording(
                        N_(
                            "the treatment record has not taken {what} for {waited} s (limit {limit} s, {waiting} "
                            "waiting): its disk is stalled or another process holds it locked"
                        ),
                        what=what,
                        waited=Number(waited, ".2f"),
                        limit=Number(self.timeouts.record_lag, "g"),
                        waiting=len(waiting),
                    )
                )
            )

    async def _report(self, received: Received) -> None:
        """A shot or alarm the record has (or a failed record could not): to its burst and the event stream."""
        message = received.message
        if message.name == "shot":
            shot = ShotRecord.from_message(message)
            shot = replace(shot, index=self.shot_log.unwrap(shot.index))  # past the device's 2**32 wrap
            burst = self.tracker.shot(shot)
            self.events.publish(ShotEvent(shot))
            if burst is not None and burst.last_shot_in and not burst.asked_status:
                burst.asked_status = True  # the last shot: ask now rather than wait for the next status
                with contextlib.suppress(MesogunError):
                    await self.refresh()
        else:
            alarm = AlarmEvent.from_message(message)
            stops = self.tracker.alarm(alarm)
            self.events.publish(alarm)
            if stops:
                with contextlib.suppress(MesogunError):
                    await self.refresh()  # the device moved to alarm: follow it now

    def _record_failed(self, error: RecordError) -> None:
        """The record pipe (or the record's own handler) reports a failure: only enqueue, urgently."""
        self._put(_RecordFailed(error), urgent=True)

    async def _on_record_failed(self, error: RecordError) -> None:
        """Stop and disarm at once without touching the record, then fail pending work, report what is left.

        The caller's burst ends with the error only once the gun is safe (never while it still fires).
        """

        def burst_error(burst: Burst) -> RecordError:
            fired = len(burst.shots)
            if self.status is None:
                template = N_("{error}; firing stopped after {fired} shots of this burst")
            else:
                template = N_(
                    "{error}; firing stopped after {fired} shots of this burst; the device counts {counted} this "
                    "session"
                )
            counted = self.status.shots_session if self.status else None
            return RecordError(Wording(template, error=as_message(error), fired=fired, counted=counted))

        self.tracker.doom(burst_error)
        link = self.link
        if link is not None and link.lost is None:
            try:
                await self.make_safe()
            except MesogunError as exc:
                log.error("could not stop the gun after the record failed: %s (its watchdog will)", exc)
        for number in sorted(self._awaiting_record):  # the caller still sees the shots and alarms the record lost
            await self._on_event(self._awaiting_record[number], recorded=True)
        self.tracker.fail_all(error, burst_error=burst_error)

    async def _on_lost(self, lost: _Lost) -> None:
        if lost.generation != self._generation:
            return
        await self.controller.go(HostState.DISCONNECTED)  # before anyone waiting hears of the loss
        self.tracker.fail_all(lost.error)
        self.events.close(lost.error)
        reason = str(lost.error)
        self.record.put("the session end", lambda: self.recorder.on_disconnected(reason))


def not_connected() -> ConnectionLost:
    """The gun is not connected (no link, no status yet)."""
    return ConnectionLost(Wording(N_("not connected")))


def _not_sent(name: str) -> CommandOutcome:
    """The outcome of work refused before it ran: nothing went on the wire."""
    return CommandOutcome(name, None, False)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    """Wake the sleeping actor (if it sleeps and was not woken already)."""
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
