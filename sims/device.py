"""The simulated gun's firmware: a small facade over its parts, each with one job.

:class:`SimulatedGun` composes :class:`~sims.dispatch.Dispatcher` (replay cache, order of checks, handler
registry), :class:`~sims.commands.Commands` (the handlers), :class:`~sims.firing.Firing`,
:class:`~sims.alarms.Alarms` (alarms and faults) and :class:`~sims.watchdog.Watchdog` over a shared
:class:`~sims.core.DeviceCore`. Which command is allowed in which state comes from
:mod:`firmware_protocol.rules`.

It is a discrete-event model on the running event loop's clock: every delay (depth motor, plunger stroke,
shot period, priming, watchdog, status period) is a ``loop.call_at`` timer, never a thread or
``time.time()``, so it runs in real time when served and fast-forwards under a virtual-time loop
(:mod:`sims.clock`). It has no tasks: ``close()`` only cancels timers.

Bytes arrive through :meth:`SimulatedGun.receive` and leave through the ``send`` callable given to
:meth:`SimulatedGun.attach`; link impairments and transports live elsewhere (:mod:`sims.impairments`,
:mod:`sims.serving`, :mod:`sims.inprocess`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from firmware_protocol import CATALOG, AlarmCode, Catalog, DeviceState, Mode, ShotSource, StreamDecoder
from firmware_protocol.families import BY_NAME
from firmware_protocol.rules import ALARM_PRIORITIES, LATCHING_ALARMS
from sims.alarms import Alarms
from sims.calibration import CalibrationHandlers, believed_needle_depth_um, release, true_needle_depth_um
from sims.commands import Commands
from sims.config import DeviceConfig
from sims.core import CommandRecord, DeviceCore, DeviceCounters, Ram, ShotRecord, StopMark, WatchdogTrip
from sims.diagnostics import DiagnosticsReader
from sims.dispatch import Dispatcher
from sims.errors import SimConfigError
from sims.faults import FaultName, FaultSpec, make_fault
from sims.firing import Firing
from sims.firmware import FirmwareUpdate
from sims.flash import PowerCut
from sims.logs import ShotLogReader
from sims.nvm import Nvm, NvmData
from sims.snapshot import DeviceSnapshot, FiringSnapshot
from sims.statemachine import DeviceStateMachine, Event
from sims.trigger import SWITCHES, TriggerSwitch
from sims.watchdog import Watchdog

ALARM_PRIORITY = ALARM_PRIORITIES
"""The priority each alarm is raised with (IEC 60601-1-8), from the device rules."""

_STATUS_TIMER = "status"

__all__ = [
    "ALARM_PRIORITY",
    "LATCHING_ALARMS",
    "CommandRecord",
    "DeviceCounters",
    "DeviceSnapshot",
    "ShotRecord",
    "SimulatedGun",
    "StopMark",
    "WatchdogTrip",
]


class SimulatedGun:
    """One simulated gun: feed it host bytes with :meth:`receive`; it answers through the attached port.

    Call :meth:`start` on a running loop before use and :meth:`close` when done. Tests read
    :meth:`snapshot` and inject faults with :meth:`inject`. ``catalog`` is the catalog the device decodes
    with (a test may add a message the device has no handler for).
    """

    def __init__(self, config: DeviceConfig | None = None, *, nvm: Nvm | None = None, catalog: Catalog = CATALOG):
        self.config = config or DeviceConfig()
        cfg = self.config
        self.nvm = nvm or Nvm(None, NvmData.factory(cfg), shot_log_capacity=cfg.shot_log_capacity)
        self._core = core = DeviceCore(cfg, self.nvm, DeviceStateMachine(self._on_state_change))
        self._alarms = Alarms(core, halt_motion=self._halt_motion, reboot=self._reboot)
        self._firing = Firing(core, self._alarms)
        self._trigger = TriggerSwitch(core, self._firing)
        self._watchdog = Watchdog(core, self._alarms.raise_alarm)
        self._commands = Commands(core, self._firing, self._alarms, lambda: self.identity)
        self._decoder = StreamDecoder()
        diagnostics = DiagnosticsReader(core, lambda: self._decoder.stats, lambda: self._firing.in_stroke)
        calibration = CalibrationHandlers(
            core, self._firing, self._commands.fire_checks(), on_hold=self._watchdog.guard_hold
        )
        self.firmware = FirmwareUpdate(core, self._power_cycle, self.nvm.path)
        """The gun's flash, bootloader and SMP server (the firmware update family)."""
        handlers = {
            **self._commands.registry(),
            **calibration.registry(),
            **self.firmware.registry(),
            **ShotLogReader(core).registry(),
            **diagnostics.registry(),
        }
        self._dispatcher = Dispatcher(core, handlers, self._commands.refusals(), catalog)

    # ------------------------------------------------------------------ what tests read

    @property
    def counters(self) -> DeviceCounters:
        """What the device did (frames, duplicates, executed and refused commands, boots)."""
        return self._core.counters

    @property
    def shot_log(self) -> list[ShotRecord]:
        """Ground truth of every shot since this object was created (survives brown-outs; for tests)."""
        return self._core.shot_log

    @property
    def state(self) -> DeviceState:
        """The device state (owned by the state machine)."""
        return self._core.state

    @property
    def shots_lifetime(self) -> int:
        """Shots over the device's life (non-volatile)."""
        return self.nvm.data.shots_lifetime

    @property
    def identity(self) -> dict[str, Any]:
        """The fields of the ``identity`` reply: who the device is and its hard limits."""
        cfg = self.config
        return {
            "protocol_version": cfg.protocol_version,
            "fingerprint": cfg.fingerprint,
            "model": cfg.model,
            "serial_number": self.nvm.data.serial_number,
            "hardware_revision": self.nvm.data.hardware_revision,
            "firmware_version": self.firmware.version if self._core.started else cfg.firmware_version,
            **cfg.limits.identity_fields(),
            "watchdog_ms": cfg.watchdog_ms,
            "status_period_ms": cfg.status_period_ms,
            "hardware_id": self.nvm.data.hardware_id,
            "counter_epoch": self.nvm.data.counter_epoch,
            "families": [
                {"family": BY_NAME[name].wire_id, "fingerprint": value}
                for name, value in cfg.family_fingerprints.items()
            ],
            "remote_fire": cfg.remote_fire,
            "calibration_id": self.nvm.data.calibration.calibration_id,
        }

    def add_outflow_listener(self, listener: Callable[[int], None]) -> Callable[[], None]:
        """Call ``listener`` with the true volume (nL) whenever liquid leaves the needle (the hidden truth a
        balance weighs); returns the function that removes it again."""
        outflow = self._core.syringe.outflow
        outflow.append(listener)

        def remove() -> None:
            if listener in outflow:
                outflow.remove(listener)

        return remove

    @property
    def _ram(self) -> Ram:
        return self._core.ram

    @property
    def depth_um(self) -> int:
        """The set depth (µm)."""
        return self._ram.depth_um

    @property
    def dose_nl(self) -> int:
        """The set dose (nL)."""
        return self._ram.dose_nl

    @property
    def rate_mhz(self) -> int:
        """The set rate (milli-shots/s)."""
        return self._ram.rate_mhz

    @property
    def mode(self) -> Mode:
        """The set firing mode."""
        return self._ram.mode

    @property
    def burst_count(self) -> int:
        """Shots per trigger or pedal press in burst mode."""
        return self._ram.burst_count

    @property
    def trigger_pressed(self) -> ShotSource | None:
        """The switch held down whose press the device acted on (``None``: none)."""
        return self._trigger.pressed

    @property
    def syringe_capacity_nl(self) -> int:
        """Capacity of the loaded syringe (0: none)."""
        return self._ram.syringe_capacity_nl

    @property
    def reservoir_nl(self) -> int:
        """Volume left in the syringe by the device's own estimate (as ``status`` reports it)."""
        return self._ram.reservoir_nl

    @property
    def true_reservoir_nl(self) -> int:
        """Volume really left in the syringe (the hidden truth a balance would weigh; never reported)."""
        return self._core.syringe.contents_nl

    @property
    def primed(self) -> bool:
        """The line was primed since the syringe was loaded."""
        return self._ram.primed

    @property
    def shots_session(self) -> int:
        """Shots since power-on."""
        return self._ram.shots_session

    @property
    def active_alarms(self) -> list[AlarmCode]:
        """Alarms latched now, in the order they were raised."""
        return list(self._ram.alarms)

    @property
    def needle_depth_um(self) -> int:
        """Where the depth stop is now (µm, as the device believes: after its calibration, without the hidden
        error)."""
        return believed_needle_depth_um(self._core)

    def true_needle_depth_um(self) -> float:
        """Where the needle tip truly is now (µm): the hidden truth a depth gauge reads, never reported."""
        return true_needle_depth_um(self._core)

    @property
    def syringe_brand(self) -> str:
        """The loaded syringe's declared brand ("": unknown)."""
        return self._ram.syringe_brand

    @property
    def motor_moving(self) -> bool:
        """Whether the depth motor is still moving (firing refused meanwhile)."""
        return self._ram.motor.moving(self._core.now())

    @property
    def device_time_ms(self) -> int:
        """Milliseconds since the last power-on."""
        return self._core.device_time_ms()

    @property
    def decoder_stats(self) -> dict[str, int]:
        """Counters of the device's stream decoder (garbage, CRC errors, …) for the current connection."""
        return self._decoder.stats.as_dict()

    def snapshot(self) -> DeviceSnapshot:
        """A frozen copy of the device's state now (see :class:`~sims.snapshot.DeviceSnapshot`)."""
        core, ram, firing, counters = self._core, self._ram, self._firing, self._core.counters
        now = core.now()
        return DeviceSnapshot(
            state=core.state,
            depth_um=ram.depth_um,
            dose_nl=ram.dose_nl,
            rate_mhz=ram.rate_mhz,
            mode=ram.mode,
            needle_depth_um=believed_needle_depth_um(core),
            motor_target_um=round(ram.motor.target_um),
            motor_moving=ram.motor.moving(now),
            syringe_capacity_nl=ram.syringe_capacity_nl,
            reservoir_nl=ram.reservoir_nl,
            true_reservoir_nl=core.syringe.contents_nl,
            primed=ram.primed,
            shots_session=ram.shots_session,
            shots_lifetime=self.nvm.data.shots_lifetime,
            active_alarms=tuple(ram.alarms),
            incompatible_session=ram.incompatible,
            firing=FiringSnapshot(
                firing.fire_seq, firing.shots_remaining, firing.unbounded, firing.in_stroke, firing.stroke_scheduled
            ),
            monotonic=time.monotonic(),
            loop_time=now,
            boot_loop_time=ram.boot_time,
            device_time_ms=core.device_time_ms(),
            last_stop=core.last_stop,
            last_emergency_stop=core.last_emergency_stop,
            last_watchdog_trip=core.last_watchdog_trip,
            executions=tuple(counters.executions),
            replays=tuple(counters.replays),
            executed=dict(counters.executed),
            refused=dict(counters.refused),
            frames_in=counters.frames_in,
            duplicates=counters.duplicates,
            boots=counters.boots,
            calibration=self.nvm.data.calibration,
            next_calibration_id=self.nvm.data.next_calibration_id,
            syringe_brand=ram.syringe_brand,
            held_depth_um=ram.held_depth_um,
            true_needle_depth_um=true_needle_depth_um(core),
        )

    # ------------------------------------------------------------------ lifecycle and I/O

    async def start(self) -> None:
        """Power the device on, on the running event loop."""
        self._core.start(asyncio.get_running_loop())
        self._boot()

    async def close(self) -> None:
        """Power off: cancel every timer. Idempotent."""
        self._core.closed = True
        if self._core.started:
            self._core.timers.cancel_all()
        self._alarms.close()
        self._core.send = None

    def attach(self, send: Callable[[bytes], None]) -> None:
        """A host connection appeared: device→host bytes go to ``send`` from now on."""
        self._core.send = send
        self._core.ram.link.retire(self._decoder.stats)  # diagnostics count since power-on, across connections
        self._decoder = StreamDecoder()

    def detach(self) -> None:
        """The host connection went away: output goes nowhere (the device keeps running); a needle held out for
        a depth gauge is released (nobody is there to release it)."""
        self._core.send = None
        if self._core.started and not self._core.closed:
            release(self._core)

    def receive(self, data: bytes) -> None:
        """Bytes from the host, in any chunking."""
        if self._core.closed:
            return
        for frame in self._decoder.feed(data):
            self._watchdog.feed()
            try:
                self._dispatcher.on_frame(frame)
            except PowerCut:  # the supply failed mid-command: no answer; the gun powers on again
                self.firmware.power_cuts += 1
                self._power_cycle()
                return

    # ------------------------------------------------------------------ the trigger and the pedal

    def press_trigger(self, source: ShotSource | str = ShotSource.TRIGGER) -> str | None:
        """Press the handpiece trigger (or ``source="pedal"``): ``None`` if the device acted on it (it fires as
        its mode says), else why it ignored the press (nothing changed, no event sent; see :mod:`sims.trigger`)."""
        return self._trigger.press(_switch(source))

    def release_trigger(self) -> str | None:
        """Let go of the trigger or pedal held: ``None``, or why there was nothing to release."""
        return self._trigger.release()

    def hold_trigger(self, ms: float, source: ShotSource | str = ShotSource.TRIGGER) -> str | None:
        """Press ``source`` and let go ``ms`` device milliseconds later: ``None``, or why the press was ignored."""
        return self._trigger.hold(ms, _switch(source))

    # ------------------------------------------------------------------ faults

    def inject(self, fault: str, **params: Any) -> FaultSpec:
        """Inject a fault: ``inject("occlusion", after_shots=5)`` or ``inject("brownout", at_s=2.0)``.

        ``after_shots=N``: exactly N more shots are delivered, then the fault hits when the plunger next
        pushes. ``mid_stroke=N``: N whole shots, then the fault hits halfway through the next stroke (a partial
        shot). ``at_s=T``: the fault hits T device seconds from now, whatever the state.
        Raises :class:`~sims.errors.SimConfigError` for an unknown fault or trigger.
        """
        spec = make_fault(fault, **params)
        self.schedule_fault(spec)
        return spec

    def schedule_fault(self, spec: FaultSpec) -> None:
        """Schedule an already checked :class:`FaultSpec`."""
        self._alarms.schedule(spec)

    def hold_cause(self, alarm: AlarmCode, present: bool = True) -> None:
        """Keep ``alarm``'s cause present (a needle still blocked) or remove it (``present=False``).

        While a latched alarm's cause is present, ``clear_alarm`` is refused with ``alarm_active`` and clears
        nothing; the simulator's faults are otherwise gone as soon as they are raised.
        """
        if present:
            self._alarms.persisting.add(alarm)
        else:
            self._alarms.persisting.discard(alarm)

    def reset_lifetime_counter(self) -> None:
        """Service action: the lifetime counter back to 0, in a new counter epoch (identity.counter_epoch)."""
        self.nvm.reset_counter()

    def plan_power_cut(self, *, at_operation: int | None = None, at_phase: str | None = None) -> None:
        """Cut the power during the ``at_operation``-th flash operation from now (1: the next), or when the
        firmware enters ``at_phase`` (see :meth:`sims.firmware.FirmwareUpdate.plan_power_cut`); the gun then
        powers on again with the flash as the cut left it (RAM lost, NVM kept, no alarm)."""
        self.firmware.plan_power_cut(at_operation=at_operation, at_phase=at_phase)

    def power_cycle(self) -> None:
        """The supply off and on again now: RAM lost, NVM and flash kept, the bootloader runs (no alarm)."""
        self._power_cycle()

    def brownout(self) -> None:
        """Supply dip now: the device reboots (RAM lost, NVM kept) and raises ``brownout_reset``."""
        self._alarms.apply(FaultName.BROWNOUT)

    # ------------------------------------------------------------------ wiring of the parts

    def _boot(self) -> None:
        core = self._core
        now = core.now()
        motor_um = self.nvm.data.calibration.motor_um(self.config.boot_depth_um)  # the power-on depth, corrected
        core.ram = Ram.at_boot(self.config, now, motor_um)
        self._dispatcher.reset()
        self._firing.reset()
        self._trigger.reset()
        self._watchdog.feed()
        core.counters.boots += 1
        self.nvm.update(boot_count=self.nvm.data.boot_count + 1)
        self.firmware.power_on()
        if self.config.status_period_ms > 0:
            core.timers.at(_STATUS_TIMER, now + self.config.status_period_ms / 1000, self._status_tick)

    def _status_tick(self) -> None:
        self._core.emit("status", **self._commands.status_fields())
        period = self.config.status_period_ms / 1000
        self._core.timers.at(_STATUS_TIMER, self._core.now() + period, self._status_tick)

    def _halt_motion(self) -> None:
        self._firing.halt()

    def _reboot(self) -> None:
        """Brown-out: RAM state lost, NVM kept, back in idle with ``brownout_reset`` raised."""
        self._core.timers.cancel_all()
        self._core.machine.send(Event.REBOOT)
        self._boot()
        self._decoder = StreamDecoder()
        self._alarms.raise_alarm(AlarmCode.BROWNOUT_RESET)

    def _power_cycle(self) -> None:
        """A reset (SMP, a failed self-test) or the supply back after a power cut: RAM lost, no alarm."""
        self._core.timers.cancel_all()
        self._core.machine.send(Event.REBOOT)
        self._boot()
        self._decoder = StreamDecoder()

    def _on_state_change(self, old: DeviceState, new: DeviceState) -> None:
        self._watchdog.on_state_change(old, new)


def _switch(source: ShotSource | str) -> ShotSource:
    """``source`` as a switch (``trigger`` or ``pedal``); :class:`SimConfigError` otherwise."""
    names = ", ".join(s.json_name for s in SWITCHES)
    try:
        switch = source if isinstance(source, ShotSource) else ShotSource[str(source).upper()]
    except KeyError:
        raise SimConfigError("source", source, f"one of {names}", reason="is not a trigger source") from None
    if switch not in SWITCHES:
        raise SimConfigError("source", switch.json_name, f"one of {names}", reason="is not a trigger source")
    return switch
