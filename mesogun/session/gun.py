"""The Gun API: ``async with mesogun.connect(url) as gun`` — configure, load, prime, arm, fire, stop, events.

One *control task* per Gun does all the controller's work, in order: it runs the commands callers submit,
processes every device event (reconciles the state machine, awaits the treatment-record observer, ends
bursts), and sends a heartbeat whenever no frame has gone out for a fraction of the device's watchdog
period. If that task stalls, heartbeats stop and the device's watchdog stops the gun: the heartbeat is
proof the control path is alive, not a free-running timer. Waiting (for shots, for priming, for the depth
motor) happens in the caller's task, so a long burst never holds up heartbeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from firmware_protocol import FINGERPRINT, PROTOCOL_VERSION, AlarmPriority, DeviceState, Message, Mode
from mesogun.errors import (
    ConnectionLost,
    DeviceAlarm,
    IncompatibleDevice,
    LinkTimeout,
    ParameterError,
    PortNotFound,
    RecordError,
)
from mesogun.link import ACK_TIMEOUT, RETRIES, Link, Received
from mesogun.models import (
    AlarmEvent,
    Event,
    GunInfo,
    MissedEvents,
    Settings,
    ShotEvent,
    ShotRecord,
    Status,
    StatusEvent,
    Syringe,
)
from mesogun.record.recorder import NullRecorder, Recorder
from mesogun.session.controller import Controller, HostState
from mesogun.session.fanout import FanOut, Subscription
from mesogun.transports import Transport, transport_for_url
from mesogun.units import DEPTH, DOSE, RATE, Quantity, check_count, from_wire, to_wire, to_wire_int, volume

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Heartbeat period as a fraction of the device's watchdog period.
HEARTBEAT_FRACTION = 0.25
#: Silence timeout in device status periods (the device pushes status every status_period_ms).
SILENCE_PERIODS = 10
#: How long to wait for the device to finish priming or moving the needle stop, in seconds.
SETTLE_TIMEOUT = 120.0


@dataclass
class _Work:
    """A command submitted to the control task."""

    run: Callable[[], Awaitable[Any]]
    future: asyncio.Future[Any]


@dataclass
class _FromDevice:
    """A device event tagged with the link generation that received it."""

    generation: int
    received: Received


@dataclass
class _Lost:
    generation: int
    error: ConnectionLost


@dataclass
class _Burst:
    """One fire command in progress."""

    seq: int
    count: int
    ack_rx: int
    future: asyncio.Future[list[ShotRecord]]
    shots: list[ShotRecord] = field(default_factory=list)
    alarm: AlarmEvent | None = None
    asked_status: bool = False
    ended_by: Status | None = None
    """The status that showed the burst over; it resolves once the events received before it are handled."""
    drain_to: int = -1


@dataclass
class _StatusWait:
    """A caller waiting for a status (newer than ``after_rx``) that satisfies ``done``."""

    after_rx: int
    done: Callable[[Status], bool]
    future: asyncio.Future[Status]
    what: str


def _mode(value: Mode | str) -> Mode:
    if isinstance(value, Mode):
        return value
    if isinstance(value, str):
        try:
            return Mode[value.upper()]
        except KeyError:
            pass
    names = ", ".join(m.json_name for m in Mode)
    raise ParameterError(f"mode={value!r} is not a firing mode; expected one of: {names}", field="mode", value=value)


class Gun:
    """A connected gun. Get one from :func:`connect`; every method is a coroutine that returns when done."""

    def __init__(
        self,
        transport: Transport,
        *,
        recorder: Recorder | None = None,
        ack_timeout: float = ACK_TIMEOUT,
        retries: int = RETRIES,
        silence_timeout: float | None = None,
        heartbeat_fraction: float = HEARTBEAT_FRACTION,
    ) -> None:
        if not 0 < heartbeat_fraction < 1:
            raise ParameterError(f"heartbeat_fraction={heartbeat_fraction} must be between 0 and 1 (exclusive)")
        self.transport = transport
        self.recorder: Recorder = recorder if recorder is not None else NullRecorder()
        self.ack_timeout = ack_timeout
        self.retries = retries
        self._silence_timeout = silence_timeout
        self._heartbeat_fraction = heartbeat_fraction
        self.controller = Controller()
        self._link: Link | None = None
        self._generation = 0
        self._next_seq = secrets.randbelow(0x10000)  # a fresh session never collides with a stale replay cache
        self._info: GunInfo | None = None
        self._status: Status | None = None
        self._status_rx = -1
        self._state_rx = -1
        self._rx_base = 0
        self._inbox: asyncio.Queue[_Work | _FromDevice | _Lost | None] = asyncio.Queue()
        self._control: asyncio.Task[None] | None = None
        self._events: FanOut[Event] = FanOut()
        self._burst: _Burst | None = None
        self._ending: list[_Burst] = []
        """Bursts the device reported over, waiting for the events received before that report."""
        self._events_enqueued_rx = self._events_done_rx = -1
        self._waits: list[_StatusWait] = []
        self.heartbeats_sent = 0
        """Heartbeats the control task sent (for diagnostics and tests)."""

    # ------------------------------------------------------------------ properties

    @property
    def info(self) -> GunInfo:
        """Identity and capabilities the device reported at connect."""
        if self._info is None:
            raise ConnectionLost("not connected")
        return self._info

    @property
    def state(self) -> HostState:
        """The host's view of the gun's state (reconciled with every status the device sends)."""
        return self.controller.state

    @property
    def status(self) -> Status:
        """The latest status the device reported."""
        if self._status is None:
            raise ConnectionLost("not connected")
        return self._status

    @property
    def link(self) -> Link:
        """The current link (sequence numbers, retries, counters)."""
        if self._link is None:
            raise ConnectionLost("not connected")
        return self._link

    # ------------------------------------------------------------------ connecting

    async def open(self) -> None:
        """Open the transport, say hello, check version and fingerprint, read the status, start the control task."""
        await self.controller.go(HostState.CONNECTING)
        try:
            await self.transport.open()
            await self._start_session(expected_serial=None)
        except BaseException:
            await self._teardown_link()
            with contextlib.suppress(Exception):
                await self.transport.close()
            await self.controller.go(HostState.DISCONNECTED)
            raise
        self._control = asyncio.get_running_loop().create_task(self._control_loop(), name="mesogun-control")

    async def _start_session(self, expected_serial: str | None) -> None:
        """Hello, identity check, first status: on an open transport (connect and reconnect)."""
        self._generation += 1
        generation = self._generation
        link = Link(
            self.transport,
            ack_timeout=self.ack_timeout,
            retries=self.retries,
            silence_timeout=self._silence_timeout or 2.0,
            first_seq=self._next_seq,
            on_event=lambda r: self._enqueue_event(generation, r),
            on_lost=lambda e: self._on_link_lost(generation, e),
        )
        self._link = link
        self._events = FanOut()
        self._status_rx = self._state_rx = -1
        self._events_enqueued_rx = self._events_done_rx = -1
        await link.start()
        identity = (await self._exchange("hello", protocol_version=PROTOCOL_VERSION, fingerprint=FINGERPRINT)).message
        info = GunInfo.from_identity(identity)
        if info.protocol_version != PROTOCOL_VERSION or info.fingerprint != FINGERPRINT:
            raise IncompatibleDevice(
                f"device {info.serial_number} speaks protocol {info.protocol_version} with catalog fingerprint "
                f"0x{info.fingerprint:08X}; this host speaks protocol {PROTOCOL_VERSION} with catalog fingerprint "
                f"0x{FINGERPRINT:08X} (update the host or the firmware)"
            )
        if expected_serial is not None and info.serial_number != expected_serial:
            raise PortNotFound(
                f"{self.transport.url} is now gun {info.serial_number!r}, not {expected_serial!r}: not reconnecting"
            )
        self._info = info
        if self._silence_timeout is None:  # ten missed statuses, or four missed heartbeat acks if statuses are off
            heartbeat_s = info.watchdog_ms / 1000 * self._heartbeat_fraction
            link.silence_timeout = max(0.5, SILENCE_PERIODS * info.status_period_ms / 1000, 4 * heartbeat_s)
        received = await self._exchange("get_status")
        self._apply_status(received)
        await self.controller.reconcile(self.status.state)
        self._state_rx = received.rx_index
        await self.recorder.on_connected(info, self.status, self.transport.url)

    async def reconnect(self, *, attempts: int = 20, interval: float = 0.5) -> None:
        """After a connection loss: find the same gun again (by serial number) and resume the session.

        Tries ``attempts`` times, ``interval`` seconds apart (a replugged USB gun needs a moment to
        enumerate, possibly under a new path). Raises :class:`PortNotFound` if it does not come back.
        """
        if self.state is not HostState.DISCONNECTED:
            return
        serial = self.info.serial_number
        await self._teardown_link()
        await self.controller.go(HostState.CONNECTING)
        last: Exception | None = None
        for _ in range(max(1, attempts)):
            try:
                await self.transport.reopen(serial)
                await self._start_session(expected_serial=serial)
                return
            except (PortNotFound, ConnectionLost, LinkTimeout) as exc:
                last = exc
                await self._teardown_link()
                await asyncio.sleep(interval)
            except BaseException:
                await self._teardown_link()
                await self.controller.go(HostState.DISCONNECTED)
                raise
        await self.controller.go(HostState.DISCONNECTED)
        raise PortNotFound(f"gun {serial} did not come back after {attempts} attempts: {last}")

    async def _teardown_link(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            self._next_seq = link.next_seq
            await link.close()

    async def close(self) -> None:
        """Leave the gun safe (stop firing, disarm) then close the session; idempotent.

        Best effort: if the link is already gone the device's own watchdog disarms it.
        """
        if self._control is not None and self._link is not None and self._link.lost is None:
            budget = 2 * self.ack_timeout * (self.retries + 1) + 5.0  # a stalled control path must not hang close
            with contextlib.suppress(Exception):
                async with asyncio.timeout(budget):
                    await self._make_safe()
        closed = ConnectionLost("the gun was closed by the host")
        self._events.close(None)  # event streams end cleanly
        self._generation += 1  # the link's closing is not a loss to report
        self._fail_waiters(closed)
        if self._control is not None:
            self._inbox.put_nowait(None)
            try:
                await asyncio.wait_for(asyncio.shield(self._control), timeout=5.0)
            except TimeoutError:
                self._control.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._control
            self._control = None
        if self._link is not None:
            await self._teardown_link()
            with contextlib.suppress(Exception):
                await self.recorder.on_disconnected("closed by the host")
        await self.transport.close()
        await self.controller.go(HostState.DISCONNECTED)

    async def _make_safe(self) -> None:
        """Stop firing and disarm (used when the session ends), going by the device's state, not the host's.

        ``stop`` is sent whatever the host believes: a ``fire`` whose ack was lost may have started firing.
        """
        await self.stop()
        status = self.status
        if status.state is DeviceState.FIRING:
            status = await self._wait_status(lambda s: s.state is not DeviceState.FIRING, "firing to end", timeout=5.0)
        if status.state is DeviceState.ARMED:
            await self.disarm()

    # ------------------------------------------------------------------ the control task

    async def _control_loop(self) -> None:
        while True:
            item = await self._next_item()
            if item is None:
                return
            try:
                if isinstance(item, _Work):
                    await self._run_work(item)
                elif isinstance(item, _FromDevice):
                    if item.generation == self._generation:
                        await self._on_device_message(item.received)
                        self._events_done_rx = item.received.rx_index
                        self._finish_ended_bursts()
                else:
                    await self._on_lost(item)
            except Exception:  # one bad item must not stop the control path
                log.exception("control task: error while handling %r", item)

    async def _next_item(self) -> _Work | _FromDevice | _Lost | None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(asyncio.QueueEmpty):
                return self._inbox.get_nowait()
            delay = self._heartbeat_due(loop.time())
            if delay is not None and delay <= 0.001:  # sub-millisecond waits could spin a virtual-time loop
                await self._heartbeat()
                continue
            try:
                async with asyncio.timeout(delay):
                    return await self._inbox.get()
            except TimeoutError:
                continue

    def _heartbeat_due(self, now: float) -> float | None:
        link, info = self._link, self._info
        if link is None or link.lost is not None or info is None or self.state is HostState.DISCONNECTED:
            return None
        period = info.watchdog_ms / 1000 * self._heartbeat_fraction
        return link.last_tx + period - now

    async def _heartbeat(self) -> None:
        try:
            self.heartbeats_sent += 1
            await self._command("heartbeat")
        except LinkTimeout as exc:
            if self._link is not None:
                self._link.fail(ConnectionLost(f"the device does not answer heartbeats ({exc})"))
        except Exception as exc:  # a refused heartbeat (e.g. incompatible session) is logged, not fatal
            log.warning("heartbeat failed: %s", exc)

    async def _run_work(self, work: _Work) -> None:
        if work.future.done():  # the caller gave up before its turn: do not act for nobody
            return
        try:
            result = await work.run()
        except Exception as exc:
            if not work.future.done():
                work.future.set_exception(exc)
        else:
            if not work.future.done():
                work.future.set_result(result)

    async def _submit(self, run: Callable[[], Awaitable[T]]) -> T:
        if self._control is None or self._control.done():
            raise ConnectionLost("not connected (use mesogun.connect())")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait(_Work(run, future))
        return await future

    # ------------------------------------------------------------------ commands (control task only)

    async def _exchange(self, name: str, **fields: Any) -> Received:
        """Record, send with retries, record the reply, raise on nak: the one path every command takes."""
        link = self.link
        message = link.prepare(name, **fields)
        await self.recorder.on_message("host", message)
        received = await link.exchange(message)
        await self.recorder.on_message("device", received.message)
        link.check_reply(message, received.message)
        return received

    async def _command(self, name: str, **fields: Any) -> Received:
        """Check the state machine allows ``name``, send it, take the implied transition."""
        self.controller.check(name)
        received = await self._exchange(name, **fields)
        if received.message.name == "status":
            self._apply_status(received)
        await self.controller.accepted(name)
        if name != "heartbeat" and name != "get_status":
            self._state_rx = max(self._state_rx, received.rx_index)
        return received

    async def _refresh(self) -> None:
        """Ask for a status now and reconcile with it (after commands whose outcome the device decides)."""
        received = await self._exchange("get_status")
        self._apply_status(received)
        await self._reconcile(received.rx_index)

    # ------------------------------------------------------------------ device messages (control task only)

    def _apply_status(self, received: Received) -> None:
        if received.rx_index > self._status_rx:
            self._status_rx = received.rx_index
            self._status = Status.from_message(received.message)

    async def _reconcile(self, rx_index: int) -> None:
        """Follow the device's state unless a command reply newer than this status already moved us."""
        if self._status is not None and rx_index > self._state_rx:
            await self.controller.reconcile(self._status.state)
        self._check_burst()
        self._check_waits()

    async def _on_device_message(self, received: Received) -> None:
        message = received.message
        if message.name == "status":
            self._apply_status(received)
            await self._reconcile(received.rx_index)
            self._events.publish(StatusEvent(Status.from_message(message)))
            return
        try:
            await self.recorder.on_message("device", message)
        except Exception as exc:  # the shot or alarm still reaches the caller; then firing is stopped
            record_failure: Exception | None = exc
        else:
            record_failure = None
        if message.name == "shot":
            shot = ShotRecord.from_message(message)
            burst = next((b for b in (self._burst, *self._ending) if b is not None and b.seq == shot.fire_seq), None)
            if burst is not None:
                burst.shots.append(shot)
                if burst.count and len(burst.shots) >= burst.count and not burst.asked_status:
                    burst.asked_status = True  # the last shot: ask now rather than wait for the next status
                    with contextlib.suppress(Exception):
                        await self._refresh()
            self._events.publish(ShotEvent(shot))
        elif message.name == "alarm":
            alarm = AlarmEvent.from_message(message)
            if alarm.raised and alarm.priority is not AlarmPriority.LOW:
                for burst in (self._burst, *self._ending):
                    if burst is not None:
                        burst.alarm = alarm
            self._events.publish(alarm)
            if alarm.raised and alarm.priority is not AlarmPriority.LOW:
                with contextlib.suppress(Exception):
                    await self._refresh()  # the device moved to alarm: follow it now
        if record_failure is not None:
            await self._on_record_failure(record_failure, message)

    async def _on_record_failure(self, error: Exception, message: Message) -> None:
        """The treatment record could not take a shot or alarm: stop firing and fail the burst with RecordError.

        A gun must not go on treating when its record cannot keep up. The shot was still reported to the
        caller; the record's next reconciliation enters it as counted-but-unreceived.
        """
        log.error("treatment record failed on %s: %s; stopping the gun", message.name, error)
        bursts, self._burst, self._ending = [self._burst, *self._ending], None, []
        with contextlib.suppress(Exception):
            await self._command("stop")
            await self._refresh()
        for burst in bursts:
            if burst is not None and not burst.future.done():
                delivered = len(burst.shots)
                burst.future.set_exception(
                    RecordError(f"the treatment record failed ({error}); firing stopped after {delivered} shots")
                )

    def _enqueue_event(self, generation: int, received: Received) -> None:
        """Called by the link's reader for every unsolicited message: hand it to the control task."""
        self._events_enqueued_rx = received.rx_index
        self._inbox.put_nowait(_FromDevice(generation, received))

    def _check_burst(self) -> None:
        burst, status = self._burst, self._status
        if burst is None or status is None or self._status_rx <= burst.ack_rx or status.state is DeviceState.FIRING:
            return
        self._burst = None
        if burst.future.done():
            return
        # The status that ends the burst may be a command's reply, which overtakes the shot events queued
        # before it: resolve only once every event received so far has been handled.
        burst.ended_by, burst.drain_to = status, self._events_enqueued_rx
        self._ending.append(burst)
        self._finish_ended_bursts()

    def _finish_ended_bursts(self) -> None:
        for burst in [b for b in self._ending if self._events_done_rx >= b.drain_to]:
            self._ending.remove(burst)
            if not burst.future.done():
                self._resolve_burst(burst)

    @staticmethod
    def _resolve_burst(burst: _Burst) -> None:
        status = burst.ended_by
        assert status is not None
        if status.state in (DeviceState.ALARM, DeviceState.EMERGENCY_STOP) or burst.alarm is not None:
            code = burst.alarm.code if burst.alarm is not None else (status.active_alarms or (None,))[0]
            name = code.json_name if code is not None else status.state.json_name
            burst.future.set_exception(
                DeviceAlarm(
                    f"firing stopped by {name} after {len(burst.shots)} of {burst.count or 'unlimited'} shots",
                    alarm=code,
                    shots=burst.shots,
                )
            )
        else:
            burst.future.set_result(list(burst.shots))

    def _check_waits(self) -> None:
        status = self._status
        if status is None:
            return
        for wait in list(self._waits):
            if wait.future.done():
                self._waits.remove(wait)
            elif self._status_rx > wait.after_rx:
                if status.state in (DeviceState.ALARM, DeviceState.EMERGENCY_STOP):
                    self._waits.remove(wait)
                    code = status.active_alarms[0] if status.active_alarms else None
                    name = code.json_name if code is not None else status.state.json_name
                    wait.future.set_exception(DeviceAlarm(f"{name} while waiting for {wait.what}", alarm=code))
                elif wait.done(status):
                    self._waits.remove(wait)
                    wait.future.set_result(status)

    def _on_link_lost(self, generation: int, error: ConnectionLost) -> None:
        """Called by the link the moment it is lost: fail every waiter now, then let the control task follow."""
        if generation != self._generation:
            return
        self._fail_waiters(error)
        self._events.close(error)
        self._inbox.put_nowait(_Lost(generation, error))

    def _fail_waiters(self, error: ConnectionLost) -> None:
        bursts, self._burst, self._ending = [self._burst, *self._ending], None, []
        for burst in bursts:
            if burst is not None and not burst.future.done():
                burst.future.set_exception(error)
        waits, self._waits = self._waits, []
        for wait in waits:
            if not wait.future.done():
                wait.future.set_exception(error)

    async def _on_lost(self, lost: _Lost) -> None:
        if lost.generation != self._generation:
            return
        await self.controller.go(HostState.DISCONNECTED)
        with contextlib.suppress(Exception):
            await self.recorder.on_disconnected(str(lost.error))

    async def _wait_status(
        self, done: Callable[[Status], bool], what: str, *, after_rx: int = -1, timeout: float = SETTLE_TIMEOUT
    ) -> Status:
        """Wait (in the caller's task) for a status received after ``after_rx`` (and after now) satisfying ``done``."""
        future: asyncio.Future[Status] = asyncio.get_running_loop().create_future()
        link = self.link
        if link.lost is not None:
            raise ConnectionLost(str(link.lost))
        self._waits.append(_StatusWait(max(after_rx, self._status_rx), done, future, what))
        try:
            async with asyncio.timeout(timeout):
                return await self._await_with_status(future)
        except TimeoutError:
            raise LinkTimeout(f"the device did not report {what} within {timeout:g} s", command=what) from None
        finally:
            if not future.done():
                future.cancel()

    # ------------------------------------------------------------------ the public API

    async def configure(
        self,
        *,
        depth_mm: float | None = None,
        dose_ml: float | None = None,
        rate_hz: float | None = None,
        mode: Mode | str | None = None,
        wait: bool = True,
    ) -> Settings:
        """Set depth, dose, rate and mode (omitted ones keep their current value); return what the device applied.

        Values are checked against the device-reported limits first (:class:`ParameterError`, nothing
        sent). With ``wait`` (default) it returns once the needle stop reached the new depth, so
        ``fire()`` is not refused as busy.
        """
        limits = self.info.limits
        current = self.status
        new_mode = _mode(mode) if mode is not None else current.settings.mode
        fields: dict[str, Any] = {
            "depth_um": to_wire(DEPTH, depth_mm, limits.depth_um) if depth_mm is not None else current.depth_um,
            "dose_nl": to_wire(DOSE, dose_ml, limits.dose_nl) if dose_ml is not None else current.dose_nl,
            "rate_mhz": to_wire(RATE, rate_hz, limits.rate_mhz) if rate_hz is not None else current.rate_mhz,
            "mode": new_mode,
        }
        if new_mode not in limits.modes:
            supported = ", ".join(m.json_name for m in limits.modes)
            raise ParameterError(
                f"mode={new_mode.json_name} is not supported by this device; it supports: {supported}",
                field="mode",
                value=mode,
            )
        received = await self._submit(lambda: self._configure(fields))
        applied = Settings.from_message(received.message)
        if wait:
            target = received.message["depth_um"]
            await self._wait_status(
                lambda s: s.needle_depth_um == target, "the needle stop at its depth", after_rx=received.rx_index
            )
        return applied

    async def _configure(self, fields: dict[str, Any]) -> Received:
        self.controller.check("configure")
        received = await self._exchange("set_parameters", **fields)
        await self.controller.accepted("configure")
        return received

    async def load_syringe(self, *, capacity_ml: float, fill_ml: float | None = None) -> Syringe:
        """Declare a newly loaded syringe of ``capacity_ml`` holding ``fill_ml`` (default: full); clears priming."""
        sizes = self.info.limits.syringe_sizes_nl
        capacity = to_wire_int(volume("capacity_ml"), capacity_ml)
        if capacity not in sizes:
            allowed = ", ".join(f"{s / 1e6:g}" for s in sizes)
            raise ParameterError(
                f"capacity_ml={capacity_ml} is not a syringe size the device accepts: {allowed} mL",
                field="capacity_ml",
                value=capacity_ml,
            )
        fill = capacity if fill_ml is None else to_wire_int(volume("fill_ml"), fill_ml)
        if not 0 < fill <= capacity:
            raise ParameterError(
                f"fill_ml={fill_ml} is outside 0–{capacity / 1e6:g} mL (more than 0, at most the syringe's capacity)",
                field="fill_ml",
                value=fill_ml,
            )

        async def run() -> Received:
            received = await self._command("load_syringe", capacity_nl=capacity, fill_nl=fill)
            await self._refresh()
            return received

        message = (await self._submit(run)).message
        q = volume("volume_ml")
        return Syringe(from_wire(q, message["capacity_nl"]), from_wire(q, message["fill_nl"]))

    async def prime(self, *, volume_ml: float) -> float:
        """Push ``volume_ml`` through the line to expel air; return the volume applied once the device is ready."""
        q: Quantity = volume("volume_ml")
        wire = to_wire_int(q, volume_ml)
        reservoir = self.status.reservoir_nl
        if not 0 < wire <= reservoir:
            raise ParameterError(
                f"volume_ml={volume_ml} is outside 0–{reservoir / 1e6:g} mL (the device reports "
                f"{reservoir / 1e6:g} mL in the syringe)",
                field="volume_ml",
                value=volume_ml,
            )
        received = await self._submit(lambda: self._command("prime", volume_nl=wire))
        await self._wait_status(
            lambda s: s.state is not DeviceState.PRIMING, "priming to finish", after_rx=received.rx_index
        )
        return from_wire(q, received.message["volume_nl"])

    async def arm(self) -> None:
        """Arm the gun (ready → armed); the device's communication watchdog starts."""
        await self._submit(lambda: self._command("arm"))

    async def disarm(self) -> None:
        """Disarm (armed → ready)."""
        await self._submit(lambda: self._command("disarm"))

    async def fire(self, count: int = 1) -> list[ShotRecord]:
        """Fire ``count`` shots at the set rate (0: until :meth:`stop`) and return their records.

        Returns when the device reports the burst over (or stopped by :meth:`stop`: the shots so far).
        Raises :class:`DeviceAlarm` carrying the shots delivered if an alarm stops it early.
        """
        count = check_count("count", count)
        burst = await self._submit(lambda: self._start_burst(count))
        return await self._await_with_status(burst.future)

    async def _await_with_status(self, future: asyncio.Future[T]) -> T:
        """Wait for ``future``, which a status resolves; if statuses stop coming (lost on a noisy line, or
        periodic status off) ask for one, so the wait never depends on an unsolicited message."""
        poll = max(0.2, 3 * self.info.status_period_ms / 1000)
        while True:
            seen = self._status_rx
            finished, _ = await asyncio.wait({future}, timeout=poll)
            if finished:
                return future.result()
            if self._status_rx == seen and self.state is not HostState.DISCONNECTED:
                with contextlib.suppress(LinkTimeout, ConnectionLost):
                    await self.refresh_status()

    async def _start_burst(self, count: int) -> _Burst:
        received = await self._command("fire", count=count)
        future: asyncio.Future[list[ShotRecord]] = asyncio.get_running_loop().create_future()
        burst = _Burst(received.message.seq, received.message["count"], received.rx_index, future)
        self._burst = burst
        return burst

    async def stop(self) -> None:
        """Stop firing at the end of the shot in progress (accepted in every connected state)."""

        async def run() -> None:
            await self._command("stop")
            await self._refresh()

        await self._submit(run)

    async def emergency_stop(self) -> None:
        """Stop everything now and latch emergency stop until :meth:`clear_alarm` (any connected state).

        Sent at once from the caller's task, not queued behind other work or the treatment record: the
        record takes the command and its reply after the device has them.
        """
        self.controller.check("emergency_stop")
        link = self.link
        message = link.prepare("emergency_stop")
        received = await link.exchange(message)
        await self.recorder.on_message("host", message)
        await self.recorder.on_message("device", received.message)
        link.check_reply(message, received.message)

        async def follow() -> None:
            await self.controller.accepted("emergency_stop")
            self._state_rx = max(self._state_rx, received.rx_index)
            await self._refresh()

        await self._submit(follow)

    async def clear_alarm(self) -> None:
        """Clear latched alarms whose cause is gone, and an emergency stop; the device returns to idle or ready."""

        async def run() -> None:
            await self._command("clear_alarm")
            await self._refresh()

        await self._submit(run)

    async def refresh_status(self) -> Status:
        """Ask the device for its status now (also reconciles the state machine)."""

        async def run() -> Status:
            self.controller.check("get_status")
            await self._refresh()
            return self.status

        return await self._submit(run)

    def events(self, maxsize: int = 256) -> EventStream:
        """Typed events (status, shot, alarm) from this call on, as an async iterator.

        A consumer that falls more than ``maxsize`` events behind loses its oldest ones and is told with a
        :class:`MissedEvents`; it never stalls the gun or other consumers. Raises :class:`ConnectionLost`
        when the connection goes; ends when the gun is closed or the stream's :meth:`EventStream.close`
        is called.
        """
        return EventStream(self._events.subscribe(maxsize))


class EventStream:
    """An async iterator of :data:`~mesogun.models.Event` (subscribed from creation on)."""

    def __init__(self, sub: Subscription[Event]) -> None:
        self._sub = sub

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        missed = self._sub.take_missed()
        if missed:
            return MissedEvents(missed)
        return await self._sub.get()

    def close(self) -> None:
        """Stop receiving events."""
        self._sub.close()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


@contextlib.asynccontextmanager
async def connect(
    url: str | Transport,
    *,
    recorder: Recorder | None = None,
    ack_timeout: float = ACK_TIMEOUT,
    retries: int = RETRIES,
    silence_timeout: float | None = None,
) -> AsyncIterator[Gun]:
    """Open a gun by URL (``sim://``, a device path, ``socket://host:port``, …) or an unopened transport.

    ``async with mesogun.connect("sim://") as gun: ...``; on exit the gun is left safe (firing stopped,
    disarmed) and the port closed.
    """
    transport = transport_for_url(url) if isinstance(url, str) else url
    gun = Gun(transport, recorder=recorder, ack_timeout=ack_timeout, retries=retries, silence_timeout=silence_timeout)
    await gun.open()
    try:
        yield gun
    finally:
        await gun.close()
