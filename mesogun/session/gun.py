"""The Gun API: ``async with mesogun.connect(url) as gun`` — configure, load, prime, arm, fire, stop, events.

:class:`Gun` is a thin facade: it checks and converts values (user units to wire units, nothing sent on a
bad value), hands each command to the session's :class:`~mesogun.session.actor.ControlActor` (which alone
owns the link, the heartbeat and the order of commands and events) and waits, in the caller's task, for
what the command's outcome depends on (shots, priming, the needle stop). The Gun opens its transport
and closes it; the link in between never does. Every timeout is a field of
:class:`~mesogun.session.timeouts.Timeouts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any, TypeVar

from firmware_protocol import DeviceState, Message, Mode, views
from firmware_protocol.families import BY_NAME, CALIBRATION, LOGS
from firmware_protocol.rules import GAIN_PPM
from firmware_protocol.views import echoed
from mesogun.errors import (
    CommandOutcome,
    ConnectionLost,
    DeviceAlarm,
    Hint,
    IncompatibleDevice,
    LinkError,
    LinkTimeout,
    ParameterError,
    PortNotFound,
    RecordError,
    StateError,
    as_message,
)
from mesogun.i18n import N_
from mesogun.link import Link, Received
from mesogun.models import (
    Diagnostics,
    Event,
    FiredShots,
    GunInfo,
    HostLinkCounters,
    MissedEvents,
    Settings,
    Status,
    Syringe,
)
from mesogun.record.recorder import NullRecorder, Recorder
from mesogun.session.actor import ControlActor, not_connected
from mesogun.session.controller import Controller, HostState, command_word
from mesogun.session.fanout import Subscription
from mesogun.session.syringe_brand import check_brand, check_spelling, uncorrected_warning
from mesogun.session.timeouts import Timeouts
from mesogun.session.tracker import Burst
from mesogun.transports import Transport, transport_for_url
from mesogun.units import (
    DEPTH,
    DOSE,
    RATE,
    Quantity,
    check_count,
    from_wire,
    to_wire,
    to_wire_int,
    volume,
)
from mesogun.wording import Number, Word, Wording, shown

log = logging.getLogger(__name__)
T = TypeVar("T")


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


def _timeouts(
    timeouts: Timeouts | None,
    ack_timeout: float | None,
    retries: int | None,
    silence_timeout: float | None,
    heartbeat_fraction: float | None,
) -> Timeouts:
    """``timeouts`` (default :class:`Timeouts`) with the individually given settings applied over it."""
    base = timeouts if timeouts is not None else Timeouts()
    changes: dict[str, Any] = {}
    if ack_timeout is not None:
        changes["ack"] = ack_timeout
    if retries is not None:
        changes["retries"] = retries
    if silence_timeout is not None:
        changes["silence"] = silence_timeout
    if heartbeat_fraction is not None:
        changes["heartbeat_fraction"] = heartbeat_fraction
    return replace(base, **changes) if changes else base


class Gun:
    """A connected gun. Get one from :func:`connect`; every method is a coroutine that returns when done."""

    def __init__(
        self,
        transport: Transport,
        *,
        recorder: Recorder | None = None,
        ack_timeout: float | None = None,
        retries: int | None = None,
        silence_timeout: float | None = None,
        heartbeat_fraction: float | None = None,
        timeouts: Timeouts | None = None,
        safety_only_if_incompatible: bool = False,
    ) -> None:
        self.timeouts = _timeouts(timeouts, ack_timeout, retries, silence_timeout, heartbeat_fraction)
        self.transport = transport
        self.recorder: Recorder = recorder if recorder is not None else NullRecorder()
        self._actor = ControlActor(
            transport, self.recorder, self.timeouts, allow_safety_only=safety_only_if_incompatible
        )
        self._actor.outcomes.reconnect_with(self.reconnect)

    # ------------------------------------------------------------------ properties

    @property
    def host_id(self) -> int:
        """This Gun's random non-zero host id, sent in every hello (kept across :meth:`reconnect`): the device
        stamps it on the shots it fires for this Gun, so shots another host fired are never taken for ours."""
        return self._actor.host_id

    @property
    def incompatible(self) -> IncompatibleDevice | None:
        """Why the device's core catalog is not this host's, in a session opened with
        ``safety_only_if_incompatible``: then only :meth:`stop` and :meth:`emergency_stop` are sent (nothing
        is recorded, the status is unknown) and every other command raises this error. ``None``: compatible."""
        return self._actor.families.incompatible

    @property
    def ack_timeout(self) -> float:
        """Seconds to wait for a reply before re-sending."""
        return self.timeouts.ack

    @property
    def retries(self) -> int:
        """Re-sends after the first attempt."""
        return self.timeouts.retries

    @property
    def controller(self) -> Controller:
        """The host state machine (read it; the control actor drives it)."""
        return self._actor.controller

    @property
    def heartbeats_sent(self) -> int:
        """Heartbeats the control actor sent (for diagnostics and tests)."""
        return self._actor.heartbeats_sent

    @property
    def info(self) -> GunInfo:
        """Identity and capabilities the device reported at connect."""
        if self._actor.info is None:
            raise not_connected()
        return self._actor.info

    @property
    def state(self) -> HostState:
        """The host's view of the gun's state (reconciled with every status the device sends)."""
        return self._actor.controller.state

    @property
    def status(self) -> Status:
        """The latest status the device reported."""
        if self._actor.status is None:
            raise not_connected()
        return self._actor.status

    @property
    def link(self) -> Link:
        """The current link (sequence numbers, retries, counters)."""
        if self._actor.link is None:
            raise not_connected()
        return self._actor.link

    # ------------------------------------------------------------------ connecting

    async def open(self) -> None:
        """Open the transport, start the control actor, say hello, check version and fingerprint, read the status."""
        actor = self._actor
        await actor.controller.go(HostState.CONNECTING)
        try:
            await self.transport.open()
            actor.start()
            await actor.call("hello", lambda: actor.start_session(expected_serial=None))
        except BaseException:
            await actor.shutdown(ConnectionLost(Wording(N_("the connection could not be opened"))))
            with contextlib.suppress(Exception):
                await self.transport.close()
            await actor.controller.go(HostState.DISCONNECTED)
            raise
        await actor.record.drain()  # the session start is on record (or refused) before the caller goes on
        if actor.record_error is not None:  # the record refused the session start: the gun is safe now
            await self.close()
            raise actor.record_error

    async def reconnect(self, *, attempts: int = 20, interval: float = 0.5, force: bool = False) -> None:
        """After a connection loss: find the same gun again (by serial number) and resume the session.

        Tries ``attempts`` times, ``interval`` seconds apart (a replugged USB gun needs a moment to
        enumerate, possibly under a new path). Works for every transport, ``sim://`` included: the link is
        dropped, the transport (which this Gun opened and still owns) is reopened. Raises
        :class:`PortNotFound` if the gun does not come back. Does nothing while the link is up; a link already
        lost counts as down even before the session noticed (a caller who just got :class:`ConnectionLost`).
        ``force``: a new session even while the link is up, as after the device reset itself (a firmware update:
        its identity, firmware version included, is read again and its state followed).
        """
        link = self._actor.link
        if not force and self.state is not HostState.DISCONNECTED and link is not None and link.lost is None:
            return  # connected: nothing to do (the error was a timeout on a live link)
        serial = self.info.serial_number
        actor = self._actor

        async def attempt() -> None:
            await actor.drop_link()
            await actor.controller.go(HostState.CONNECTING)
            try:
                await self.transport.reopen(serial)
                await actor.start_session(expected_serial=serial)
            except BaseException:
                await actor.drop_link()
                await actor.controller.go(HostState.DISCONNECTED)
                raise

        last: Exception | None = None
        for _ in range(max(1, attempts)):
            try:
                await actor.call("hello", attempt)
                return
            except (PortNotFound, ConnectionLost, LinkTimeout) as exc:
                last = exc
                await asyncio.sleep(interval)
        raise PortNotFound(
            Wording(
                N_("gun {serial} did not come back after {attempts} attempts: {last}"),
                serial=serial,
                attempts=attempts,
                last=as_message(last) if last is not None else None,
            )
        )

    async def close(self) -> None:
        """Leave the gun safe (stop firing, disarm) then close the session and the transport; idempotent.

        Best effort: if the link is already gone the device's own watchdog disarms it.
        """
        actor = self._actor
        link = actor.link
        if actor.running and link is not None and link.lost is None:
            budget = 2 * self.timeouts.command_budget + self.timeouts.close_grace  # never hang close
            with contextlib.suppress(Exception):
                async with asyncio.timeout(budget):
                    await actor.call("stop", actor.make_safe)
        await actor.shutdown(ConnectionLost(Wording(N_("the gun was closed by the host"))))
        await self.transport.close()
        await actor.controller.go(HostState.DISCONNECTED)

    # ------------------------------------------------------------------ waiting (in the caller's task)

    async def _wait(self, future: asyncio.Future[T], what: str, timeout: float | None = None) -> T:
        """Wait for ``future``, which a status resolves; if statuses stop coming (lost on a noisy line, or
        periodic status off) ask for one, so the wait never depends on an unsolicited message."""
        t = self.timeouts
        poll = max(t.status_poll_min, t.status_poll_periods * self.info.status_period_ms / 1000)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    seen = self._actor.status_rx
                    finished, _ = await asyncio.wait({future}, timeout=poll)
                    if finished:
                        return future.result()
                    if self._actor.status_rx == seen and self.state is not HostState.DISCONNECTED:
                        with contextlib.suppress(LinkTimeout, ConnectionLost):
                            await self.refresh_status()
        except TimeoutError:
            wording = Wording(
                N_("the device did not report {what} within {timeout} s"),
                what=Word.own(what),
                timeout=Number(timeout, "g") if timeout is not None else None,
            )
            raise LinkTimeout(wording, command=what) from None
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
        sent). With ``wait`` (default) it returns once the needle stop is at the new depth, so ``fire()``
        is not refused as busy (at once when the depth did not change and the stop is already there).
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
                Wording(
                    N_("mode={mode} is not supported by this device; it supports: {supported}"),
                    mode=new_mode.json_name,
                    supported=supported,
                ),
                field="mode",
                value=mode,
            )
        actor = self._actor

        async def run() -> tuple[Received, asyncio.Future[Status] | None]:
            received = await self._configure(fields)
            target = echoed(received.message, views.SetParameters).depth_um
            if not wait or actor.depth_set(received):
                return received, None
            what = "the needle stop at its depth"
            return received, actor.wait_status(lambda s: s.needle_depth_um == target, what, received.rx_index)

        received, settled = await actor.call("configure", run)
        if settled is not None:
            try:
                await self._wait(settled, N_("the needle stop at its depth"), self.timeouts.settle)
            except (LinkTimeout, ConnectionLost) as error:
                raise actor.outcomes.after_ack(error, received, fields) from None
        return Settings.from_message(received.message)

    async def _configure(self, fields: dict[str, Any]) -> Received:
        actor = self._actor
        actor.check("configure")
        received = await actor.exchange("set_parameters", **fields)
        await actor.accepted("configure")
        return received

    async def load_syringe(
        self, *, capacity_ml: float, fill_ml: float | None = None, brand: str | None = None
    ) -> Syringe:
        """Declare a newly loaded syringe of ``capacity_ml`` holding ``fill_ml`` (default: full); clears priming.

        On a device with the calibration family the load also declares ``brand`` (``set_syringe_brand`` right
        after it: the device forgets the brand at every load, and its volume gain is per brand). A brand that
        matches a calibrated one only in its case is refused before anything is sent (:class:`ParameterError`
        naming the calibrated brands); a brand (or none) the volume-calibrated gun has no gain for loads, with a
        warning in the returned :attr:`Syringe.warnings`: its doses go uncorrected.
        """
        sizes = self.info.limits.syringe_sizes_nl
        capacity = to_wire_int(volume("capacity_ml"), capacity_ml)
        if capacity not in sizes:
            allowed = ", ".join(f"{s / 1e6:g}" for s in sizes)
            raise ParameterError(
                Wording(
                    N_("capacity_ml={capacity} is not a syringe size the device accepts: {allowed} mL"),
                    capacity=Number(capacity_ml),
                    allowed=allowed,
                ),
                field="capacity_ml",
                value=capacity_ml,
            )
        fill = capacity if fill_ml is None else to_wire_int(volume("fill_ml"), fill_ml)
        if not 0 < fill <= capacity:
            raise ParameterError(
                Wording(
                    N_("fill_ml={fill} is outside 0–{capacity} mL (more than 0, at most the syringe's capacity)"),
                    fill=shown(fill_ml),
                    capacity=Number(capacity / 1e6, "g"),
                ),
                field="fill_ml",
                value=fill_ml,
            )
        declared = None if brand is None else check_brand(brand)
        actor = self._actor

        async def run() -> tuple[Received, str | None]:
            warning = None
            if actor.families.allows(CALIBRATION.name):
                actor.check("load_syringe")  # refused in this state: before the calibration is even read
                reply = await actor.command("get_calibration")
                calibration = views.view_as(reply.message, views.Calibration)
                gains = {g.brand: g.gain_ppm / GAIN_PPM for g in calibration.volume_gains}
                if declared:
                    check_spelling(declared, gains)
                warning = uncorrected_warning(self.info.serial_number, declared, gains)
            received = await actor.command("load_syringe", capacity_nl=capacity, fill_nl=fill)
            if declared is not None and actor.families.allows(CALIBRATION.name):
                await actor.command("set_syringe_brand", brand=declared)
            await actor.refresh()
            return received, warning

        received, warning = await actor.call("load_syringe", run)
        q = volume("volume_ml")
        loaded = echoed(received.message, views.LoadSyringe)
        return Syringe(
            from_wire(q, loaded.capacity_nl),
            from_wire(q, loaded.fill_nl),
            brand=declared if actor.families.allows(CALIBRATION.name) else None,
            warnings=(warning,) if warning else (),
        )

    async def set_syringe_brand(self, brand: str) -> None:
        """Declare the loaded syringe's brand (selects its volume gain; "" unknown) until the next load or power-on
        (:meth:`load_syringe` with ``brand`` does it too). :class:`IncompatibleDevice` without the calibration
        family."""
        await self.family_command(CALIBRATION.name, "set_syringe_brand", brand=check_brand(brand))

    async def prime(self, *, volume_ml: float) -> float:
        """Push ``volume_ml`` through the line to expel air; return the volume applied once the device is ready.

        Refused before sending what the device would refuse: no syringe loaded (:class:`StateError`), a volume
        below the device's step (its smallest prime) or above what the syringe holds (:class:`ParameterError`).
        """
        q: Quantity = volume("volume_ml")
        wire = to_wire_int(q, volume_ml)
        status = self.status
        if status.syringe_capacity_ml == 0:
            raise StateError(
                Wording(N_("{command}: no syringe loaded"), command=command_word("prime")),
                command="prime",
                state=status.state.json_name,
                reason="no syringe loaded",
                hint=Hint(N_("{0} first"), ("load_syringe",)),
            )
        step, reservoir = self.info.limits.dose_nl.step, status.reservoir_nl
        if not step <= wire <= reservoir:
            low, high = Number(from_wire(q, step), "g"), Number(from_wire(q, reservoir), "g")
            raise ParameterError(
                Wording(
                    N_("volume_ml={volume} is outside {low}–{high} mL (the device reports {high} mL in the syringe)"),
                    volume=Number(volume_ml),
                    low=low,
                    high=high,
                )
                if reservoir >= step
                else Wording(
                    N_("volume_ml={volume}: the syringe is empty (the device reports {high} mL in the syringe)"),
                    volume=Number(volume_ml),
                    high=high,
                ),
                field="volume_ml",
                value=volume_ml,
            )
        actor = self._actor
        what = N_("priming to finish")

        async def run() -> tuple[Received, asyncio.Future[Status]]:
            received = await actor.command("prime", volume_nl=wire)
            done = actor.wait_status(lambda s: s.state is not DeviceState.PRIMING, what, received.rx_index)
            return received, done

        received, primed = await actor.call("prime", run)
        try:
            await self._wait(primed, what, self.timeouts.settle)
        except (LinkTimeout, ConnectionLost) as error:
            raise actor.outcomes.after_ack(error, received, {"volume_nl": wire}) from None
        return from_wire(q, echoed(received.message, views.Prime).volume_nl)

    async def arm(self) -> None:
        """Arm the gun (ready → armed); the device's communication watchdog starts."""
        await self._actor.call("arm", lambda: self._actor.command("arm"))

    async def disarm(self) -> bool:
        """Disarm (armed → ready); return False, sending nothing, if the gun is not armed (already disarmed).

        Idempotent: making a gun safe never fails because it is safe already. The device's state decides, not
        the host's (a status is asked for first when the host does not believe the gun armed). Raises
        :class:`StateError` while firing (call :meth:`stop` first).
        """
        actor = self._actor

        async def run() -> bool:
            if actor.controller.state is not HostState.ARMED:
                await actor.refresh()  # the host's view may be behind the device's
                if actor.controller.state not in (HostState.ARMED, HostState.FIRING):
                    return False
            await actor.command("disarm")
            return True

        return await actor.call("disarm", run)

    async def fire(self, count: int = 1, *, on_ack: Callable[[int], None] | None = None) -> FiredShots:
        """Fire ``count`` shots at the set rate (0: until :meth:`stop`) and return every shot the device fired.

        Returns when the device reports the burst over (or stopped by :meth:`stop`: the shots so far). Shots whose
        event was lost on the line are read back from the device's shot log (``recovered``); the result's
        ``fired`` is the device's count, ``unreceived`` what could not be read back (then it also warns with
        :class:`~mesogun.errors.ShotsNotReceived`). Raises :class:`DeviceAlarm` carrying the shots delivered
        (recovered ones included) if an alarm stops it early.
        ``on_ack``, if given, is called as soon as the device acknowledged the fire, with the count it
        acknowledged (in ``single`` mode 1, whatever ``count`` asked for).
        """
        count = check_count("count", count)
        return await self._fire_burst("fire", {"count": count}, on_ack=on_ack)

    async def family_fire(self, family: str, name: str, **fields: Any) -> FiredShots:
        """Send ``name``, a command of the further message ``family`` that fires a burst as ``fire`` does (the
        calibration family's ``deliver``; ``fields`` in wire units, a ``count`` among them), and return its shots as
        :meth:`fire` does (lost ones read back from the shot log, :class:`DeviceAlarm` if an alarm cuts it short).

        Refused before sending as :meth:`family_command` is.
        """
        return await self._fire_burst(name, fields, family=family)

    async def _fire_burst(
        self,
        name: str,
        fields: dict[str, Any],
        *,
        on_ack: Callable[[int], None] | None = None,
        family: str | None = None,
    ) -> FiredShots:
        """Send ``name`` (``fire``, or a family's firing command), track the burst its ack starts, return its shots."""
        actor = self._actor
        count = int(fields["count"])

        async def run() -> tuple[Burst, int]:
            if family is not None:
                actor.check(name)
                self._require_family(family, name)
            burst = actor.start_burst(await actor.command(name, **fields))
            return burst, actor.shot_log.counted(self.status)

        burst, before = await actor.call(name, run)
        if on_ack is not None:
            on_ack(burst.count)
        try:
            shots = await self._wait(burst.future, N_("the burst to end"))
        except DeviceAlarm as alarm:
            completed = await actor.shot_log.complete(burst, alarm.shots, before)
            cause = alarm.cause or (alarm.alarm.json_name if alarm.alarm is not None else "an alarm")
            raise DeviceAlarm.firing_stopped(  # the device's count and every shot it fired, recovered ones too
                cause, completed.fired, burst.count, alarm=alarm.alarm, shots=completed
            ) from None
        except (LinkTimeout, ConnectionLost) as error:  # the device fired: say so, with the shots so far
            raise actor.outcomes.burst_cut(error, burst, count, before, name) from None
        return await actor.shot_log.complete(burst, shots, before)

    async def outcome_of(self, error: LinkError) -> CommandOutcome:
        """Ask the device what became of the command that raised ``error`` (a :class:`LinkTimeout` or
        :class:`ConnectionLost`). Reconnects (:meth:`reconnect`) when the link is down, and asks again when a
        question times out or the link goes meanwhile; :class:`PortNotFound` if the gun does not come back.

        For ``fire``: every shot the device fired for it (``outcome.shots``, read back from its shot log once a
        bounded burst is over) and ``executed`` True if it fired, False if its log proves it did not (nothing of
        this fire, the lifetime counter unmoved), else ``None``. For other commands ``executed`` becomes True
        when the device's status shows the command's effect (``arm``: armed; ``configure``: the settings sent).
        See the README's "Retrying safely" for the loop that fires each shot once.
        """
        if error.outcome is None:
            raise ParameterError(
                f"error={type(error).__name__}({error}) was not raised by a command: it has no outcome to settle",
                field="error",
                value=error,
            )
        return await self._actor.outcomes.settle(error.outcome)

    async def set_burst_count(self, count: int) -> int:
        """Set how many shots one trigger or pedal press fires in burst mode (1 to the device's
        ``burst_count_max``); return the count the device applied. Out of range: :class:`ParameterError`, nothing
        sent."""
        count = check_count("burst_count", count, minimum=1, maximum=self.info.burst_count_max)
        actor = self._actor

        async def run() -> Received:
            return await actor.command("set_burst_count", burst_count=count)

        return echoed((await actor.call("set_burst_count", run)).message, views.SetBurstCount).burst_count

    async def stop(self) -> None:
        """Stop firing at the end of the shot in progress; sent in every connected state (a gun that is not
        firing stays as it is: stopping is idempotent)."""
        await self._then_refresh("stop")

    async def emergency_stop(self) -> None:
        """Stop everything now and latch emergency stop until :meth:`clear_alarm` (any connected state).

        The same path as every command, with priority: it overtakes work queued before it, and the
        treatment record (which has its own lane) never delays it.
        """
        await self._then_refresh("emergency_stop", urgent=True)

    async def make_safe(self) -> None:
        """Stop firing and disarm, going by the device's state (a burst in progress ends with its shot first);
        idempotent: a gun already safe stays as it is. What the gun service does when its operator's view is lost,
        and what :meth:`close` does before closing."""
        await self._actor.call("stop", self._actor.make_safe)

    async def clear_alarm(self) -> None:
        """Clear latched alarms whose cause is gone, notices (``brownout_reset``) and an emergency stop; the device
        returns to idle or ready. Sent in every connected state: with nothing latched it changes no state."""
        await self._then_refresh("clear_alarm")

    async def _then_refresh(self, name: str, *, urgent: bool = False) -> None:
        """Send ``name``, then ask for a status (commands whose outcome the device decides)."""
        actor = self._actor

        async def run() -> None:
            await actor.command(name)
            if not actor.families.safety_only:  # a device of another core is not asked for its status
                await actor.refresh()

        await actor.call(name, run, urgent=urgent)

    async def refresh_status(self) -> Status:
        """Ask the device for its status now (also reconciles the state machine)."""
        actor = self._actor

        async def run() -> Status:
            actor.check("get_status")
            return await actor.refresh()

        return await actor.call("get_status", run)

    async def diagnostics(self) -> Diagnostics:
        """Ask the device for its diagnostics (``get_diagnostics``, any connected state; changes nothing) and
        combine them with this host link's own counters, read when the reply arrived."""
        actor = self._actor

        async def run() -> tuple[views.Diagnostics, HostLinkCounters]:
            actor.check("get_diagnostics")
            if not actor.families.allows(LOGS.name):
                raise IncompatibleDevice(
                    Wording(
                        N_(
                            "diagnostics: device {serial}'s logs family (get_diagnostics) is not this host's (another "
                            "fingerprint): update the host or the firmware"
                        ),
                        serial=self.info.serial_number,
                    )
                )
            received = await actor.exchange("get_diagnostics")
            link = self.link
            host = HostLinkCounters.from_link(
                link.frames_sent, link.retransmissions, link.timeouts, link.bad_messages, link.decoder.stats
            )
            return views.view_as(received.message, views.Diagnostics), host

        device, host = await actor.call("get_diagnostics", run)
        return Diagnostics.from_view(device, host)

    async def family_command(self, family: str, name: str, **fields: Any) -> Message:
        """Send ``name``, a command of the further message ``family`` (``calibration``), with ``fields`` in wire
        units, and return the device's reply (its ``ack``, or the family's own reply message).

        Refused before sending, changing nothing: :class:`StateError` where the device rules do not let a host send
        it in the gun's state; :class:`IncompatibleDevice` naming the family when the device does not implement it
        with this host's fingerprint. A device's refusal is :class:`~mesogun.errors.DeviceRefused` with its nak.
        A family's own subpackage (``mesogun.calibration``) wraps this in typed calls and user units.
        """
        actor = self._actor

        async def run() -> Message:
            actor.check(name)
            self._require_family(family, name)
            return (await actor.command(name, **fields)).message

        return await actor.call(name, run)

    def _require_family(self, family: str, command: str) -> None:
        """Raise :class:`IncompatibleDevice` unless the device shares ``family`` with this host."""
        if family not in BY_NAME:
            raise ParameterError(f"family={family!r} is not a message family", field="family", value=family)
        if not self._actor.families.allows(family):
            raise IncompatibleDevice(
                Wording(
                    N_(
                        "{command}: device {serial} does not implement this host's {family} family (it does not list "
                        "it, or with another fingerprint): update the host or the firmware"
                    ),
                    command=command,
                    serial=self.info.serial_number,
                    family=family,
                )
            )

    async def note(self, kind: str, detail: str, reason: str) -> None:
        """Enter an operator's note in the treatment record (``soft_limit_override``: what, and why), in order
        with the commands around it; returns once it is on record (at once without a record). Raises
        :class:`RecordError` if the record failed."""
        actor = self._actor
        if not actor.record.enabled:  # no record attached: nothing to enter it in
            return
        on_note = getattr(self.recorder, "on_note", None)  # a recorder written before notes existed keeps none
        if on_note is None:
            raise RecordError(f"the treatment record ({type(self.recorder).__name__}) cannot keep a {kind} note")
        actor.record.put(f"the {kind} note", lambda: on_note(kind, detail, reason))
        await actor.record.drain()
        if actor.record_error is not None:
            raise actor.record_error

    def events(self, maxsize: int = 256) -> EventStream:
        """Typed events (status, shot, alarm, trigger) from this call on, as an async iterator.

        A consumer that falls more than ``maxsize`` events behind loses its oldest ones and is told with a
        :class:`MissedEvents`; it never stalls the gun or other consumers. Raises :class:`ConnectionLost`
        when the connection goes; ends when the gun is closed or the stream's :meth:`EventStream.close`
        is called.
        """
        return EventStream(self._actor.events.subscribe(maxsize))


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


CONNECT_RETRYABLE = (PortNotFound, ConnectionLost, LinkTimeout)
"""Failures of one connect attempt that a later attempt may not meet (a port still enumerating, a gun still
booting); a refusal (incompatible device, the record refusing the session, a bad value) is never retried."""


def check_attempts(name: str, attempts: int) -> int:
    """``attempts`` as a count of connection attempts, at least 1; :class:`ParameterError` naming ``name`` if not."""
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ParameterError(
            f"{name}={attempts!r} must be a whole number of attempts, at least 1", field=name, value=attempts
        )
    return attempts


@contextlib.asynccontextmanager
async def connect(
    url: str | Transport,
    *,
    recorder: Recorder | None = None,
    ack_timeout: float | None = None,
    retries: int | None = None,
    silence_timeout: float | None = None,
    timeouts: Timeouts | None = None,
    attempts: int = 1,
    interval: float = 0.5,
    safety_only_if_incompatible: bool = False,
) -> AsyncIterator[Gun]:
    """Open a gun by URL (``sim://``, a device path, ``socket://host:port``, …) or an unopened transport.

    ``async with mesogun.connect("sim://") as gun: ...``; on exit the gun is left safe (firing stopped,
    disarmed) and the port closed. ``timeouts`` holds every timeout of the session; ``ack_timeout``,
    ``retries`` and ``silence_timeout`` override its fields of those names. ``attempts`` opens and says hello
    up to that many times, ``interval`` seconds apart, while the port cannot be opened or the device does not
    answer (:data:`CONNECT_RETRYABLE`); the last attempt's error is raised. Nothing reaches ``recorder`` from a
    failed attempt.
    Nothing is recorded unless a ``recorder`` is given: ``recorder=SessionRecorder(TreatmentRecord(path))``
    (see :mod:`mesogun.record`). A device whose core catalog differs raises :class:`IncompatibleDevice`, unless
    ``safety_only_if_incompatible``: then the Gun only stops (see :attr:`Gun.incompatible`).
    """
    check_attempts("attempts", attempts)
    transport = transport_for_url(url) if isinstance(url, str) else url
    for attempt in range(1, attempts + 1):
        gun = Gun(
            transport,
            recorder=recorder,
            ack_timeout=ack_timeout,
            retries=retries,
            silence_timeout=silence_timeout,
            timeouts=timeouts,
            safety_only_if_incompatible=safety_only_if_incompatible,
        )
        try:
            await gun.open()
            break
        except CONNECT_RETRYABLE as exc:
            if attempt == attempts:
                raise
            log.info("connect attempt %d of %d to %s failed: %s", attempt, attempts, transport.url, exc)
            await asyncio.sleep(interval)
    try:
        yield gun
    finally:
        await gun.close()
