"""What the parts of the simulated gun share: its clock and timers, its RAM, its event output.

:class:`DeviceCore` is handed to each part (dispatcher, commands, firing, alarms, watchdog); it holds no
behaviour of its own beyond reading the clock and sending events. RAM (:class:`Ram`) is what a brown-out
loses; NVM (:class:`~sims.nvm.Nvm`) and the ground-truth logs survive it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from firmware_protocol import AlarmCode, AlarmPriority, DecoderStats, DeviceState, Mode, make, to_wire
from sims.config import DeviceConfig
from sims.nvm import Nvm
from sims.physics import DepthMotor, FluidLine, Supply, Syringe
from sims.statemachine import DeviceStateMachine


@dataclass
class DeviceCounters:
    """What the device did, for tests proving exactly-once and for diagnostics."""

    frames_in: int = 0
    """Valid frames received (each one fed the watchdog)."""
    duplicates: int = 0
    """Frames answered from the reply cache without executing."""
    executed: Counter[str] = field(default_factory=Counter)
    """Commands executed and acknowledged, by message name."""
    refused: Counter[str] = field(default_factory=Counter)
    """Commands refused with a nak by their state rule or a check, by message name."""
    boots: int = 0
    """Power-ons, brown-outs included."""
    executions: list[CommandRecord] = field(default_factory=list)
    """Every state-changing command executed (not hello, heartbeat, get_status; not a replay), in order: the
    device's own log for exactly-once audits (grows for the device's life, like the shot log)."""
    replays: list[CommandRecord] = field(default_factory=list)
    """Every repeat answered from the replay cache without executing, in order."""

    @property
    def commands_executed(self) -> int:
        """Total commands executed (acknowledged, duplicates not counted)."""
        return sum(self.executed.values())


@dataclass(frozen=True)
class CommandRecord:
    """One command frame the device executed, or answered from its replay cache (ground truth, not on the wire)."""

    seq: int
    """The host's sequence number of the frame."""
    name: str
    monotonic: float
    """``time.monotonic()`` when the device handled it (one clock for every process on a machine)."""
    device_time_ms: int


@dataclass
class ShotRecord:
    """Ground truth of one shot, as a scale and a depth gauge would measure it (not sent on the wire)."""

    shot_index: int
    fire_seq: int
    set_depth_um: int
    """The depth the device reported (its estimate, after its calibration: the set depth once arrived)."""
    set_dose_nl: int
    """The dose the device reported (its estimate: the dose it was asked for)."""
    depth_um: int
    """Depth really reached: hidden depth gain × motor position + hidden offset."""
    dose_nl: int
    """Volume really delivered: the volume pushed (dose / the device's gain) × the hidden gain of the brand."""
    device_time_ms: int


@dataclass(frozen=True)
class StopMark:
    """When the device executed a stop or an emergency stop: host monotonic clock and device time."""

    monotonic: float
    """``time.monotonic()`` of the host process when the command was executed (for latency benchmarks)."""
    device_time_ms: int
    """Device time (ms since power-on) when the command was executed."""


@dataclass(frozen=True)
class WatchdogTrip(StopMark):
    """When the communication watchdog tripped, and how long the host had been silent then."""

    silent_ms: float
    """Device milliseconds from the last valid host frame to the trip."""


@dataclass
class LinkCounters:
    """The device's own link counters since power-on (``diagnostics``; RAM, so a brown-out restarts them)."""

    frames_sent: int = 0
    """Frames written to an attached host (replies and events)."""
    replays: int = 0
    """Repeats answered from the replay cache without executing."""
    bad_payloads: int = 0
    """Commands refused with ``bad_payload``."""
    retired: DecoderStats = field(default_factory=DecoderStats)
    """The stream decoders' counters of connections since power-on that have ended (the current one's are added
    when it is read)."""

    def retire(self, stats: DecoderStats) -> None:
        """A connection's decoder is replaced: keep its counters."""
        for name, value in stats.as_dict().items():
            setattr(self.retired, name, getattr(self.retired, name) + value)


@dataclass
class PlungerStats:
    """Plunger strokes since power-on, as the device timed them (``diagnostics``)."""

    strokes: int = 0
    last_us: int = 0
    total_us: int = 0
    max_us: int = 0

    def record(self, duration_us: int) -> None:
        """One stroke completed in ``duration_us``."""
        self.strokes += 1
        self.last_us = duration_us
        self.total_us += duration_us
        self.max_us = max(self.max_us, duration_us)

    @property
    def mean_us(self) -> int:
        """Mean stroke time (0 before the first stroke)."""
        return round(self.total_us / self.strokes) if self.strokes else 0


@dataclass
class Ram:
    """The device's volatile state: set at power-on from the configuration, lost by a brown-out."""

    boot_time: float
    """Loop time of the last power-on."""
    depth_um: int
    dose_nl: int
    rate_mhz: int
    mode: Mode
    motor: DepthMotor
    burst_count: int = 1
    """Shots per trigger or pedal press in burst mode (``set_burst_count``)."""
    syringe_capacity_nl: int = 0
    reservoir_nl: int = 0
    """The device's own estimate of what the syringe holds: the fill less every volume it commanded."""
    primed: bool = False
    shots_session: int = 0
    alarms: dict[AlarmCode, AlarmPriority] = field(default_factory=dict)
    """Latched alarms with their priority, in the order they were raised."""
    event_seq: int = 0
    incompatible: bool = False
    """The last hello's version or core fingerprint differs: all but hello, stop and emergency_stop is refused."""
    host_id: int = 0
    """The host id of the session open now (its hello's ``host_id``; 0: none), stamped on every shot fired."""
    syringe_brand: str = ""
    """The loaded syringe's brand (``set_syringe_brand``; "": unknown): selects the volume gain."""
    held_depth_um: int | None = None
    """The depth a ``hold_depth`` holds the needle at (``None``: no hold; the stop is at the set depth)."""
    link: LinkCounters = field(default_factory=LinkCounters)
    plunger: PlungerStats = field(default_factory=PlungerStats)

    @classmethod
    def at_boot(cls, config: DeviceConfig, now: float, motor_um: float | None = None) -> Ram:
        """The RAM right after a power-on at loop time ``now``, the depth motor at ``motor_um`` (default: the
        power-on depth; the device puts it where its calibration says the power-on depth is)."""
        depth = config.boot_depth_um
        position = float(depth) if motor_um is None else motor_um
        motor = DepthMotor(config.physics.motor_speed_um_s, position, position, now)
        return cls(
            now, depth, config.boot_dose_nl, config.boot_rate_mhz, config.boot_mode, motor, config.boot_burst_count
        )


class Timers:
    """Named one-shot timers on the loop; re-arming a name replaces its previous timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def at(self, name: str, when: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` at loop time ``when`` (replacing the timer of that name)."""
        self.cancel(name)
        self._handles[name] = self._loop.call_at(when, self._run, name, callback)

    def _run(self, name: str, callback: Callable[[], None]) -> None:
        self._handles.pop(name, None)
        callback()

    def cancel(self, name: str) -> None:
        """Cancel the timer of that name, if any."""
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        """Cancel every timer (power-off, brown-out)."""
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def active(self, name: str) -> bool:
        """Whether a timer of that name is pending."""
        return name in self._handles


class DeviceCore:
    """The shared context of the device's parts: configuration, NVM, clock, timers, state machine, RAM, output."""

    def __init__(self, config: DeviceConfig, nvm: Nvm, machine: DeviceStateMachine) -> None:
        self.config = config
        self.nvm = nvm
        self.machine = machine
        self.counters = DeviceCounters()
        self.shot_log: list[ShotRecord] = []
        self.syringe = Syringe()
        """What is really in the syringe (hidden truth; survives brown-outs, never reported on the wire)."""
        self.line = FluidLine()
        """The fluid line and its pressure sensor (physical: an occlusion survives a brown-out)."""
        self.supply = Supply()
        """The power supply and its voltage sensor."""
        self.ram = Ram.at_boot(config, 0.0)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._timers: Timers | None = None
        self.send: Callable[[bytes], None] | None = None
        self.deferred: list[bytes] | None = None
        """While a command executes: events wait here so that they follow its reply."""
        self.closed = False
        self.last_stop: StopMark | None = None
        """The last ``stop`` executed (survives brown-outs: ground truth for tests and benchmarks)."""
        self.last_emergency_stop: StopMark | None = None
        """The last ``emergency_stop`` that halted the device (not a repeat while already stopped)."""
        self.last_watchdog_trip: WatchdogTrip | None = None
        """The last time the communication watchdog tripped."""

    def record_command(self, seq: int, name: str, *, replayed: bool = False) -> None:
        """Log a command frame handled now: executed, or (``replayed``) answered from the replay cache."""
        log = self.counters.replays if replayed else self.counters.executions
        log.append(CommandRecord(seq, name, time.monotonic(), self.device_time_ms()))

    def mark_watchdog_trip(self, silent_s: float) -> None:
        """The watchdog trips now, ``silent_s`` device seconds after the last valid host frame."""
        self.last_watchdog_trip = WatchdogTrip(time.monotonic(), self.device_time_ms(), round(silent_s * 1000, 3))

    def mark_stop(self) -> None:
        """A ``stop`` is executed now."""
        self.last_stop = StopMark(time.monotonic(), self.device_time_ms())

    def mark_emergency_stop(self) -> None:
        """An ``emergency_stop`` halts the device now."""
        self.last_emergency_stop = StopMark(time.monotonic(), self.device_time_ms())

    @property
    def state(self) -> DeviceState:
        """The device state (owned by the state machine)."""
        return self.machine.state

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind the core to the running loop (power-on)."""
        self.loop = loop
        self._timers = Timers(loop)

    @property
    def timers(self) -> Timers:
        """The device's named timers; only after :meth:`start`."""
        if self._timers is None:
            raise RuntimeError("SimulatedGun.start() must be awaited first")
        return self._timers

    @property
    def started(self) -> bool:
        """Whether :meth:`start` ran."""
        return self._timers is not None

    def now(self) -> float:
        """Loop time (0 before start)."""
        return self.loop.time() if self.loop is not None else 0.0

    def device_time_ms(self) -> int:
        """Milliseconds since the last power-on (u32), by the device's own clock: it runs at the hidden rate gain
        (so its timestamps agree with its wrong firing rate; only a host clock can tell)."""
        elapsed = (self.now() - self.ram.boot_time) * self.config.hidden_truth.rate_gain
        return round(elapsed * 1000) & 0xFFFF_FFFF

    def write(self, data: bytes) -> None:
        """Bytes to the host, if one is attached."""
        if self.send is not None:
            self.ram.link.frames_sent += 1
            self.send(data)

    def emit(self, name: str, **fields: Any) -> None:
        """Send an unsolicited event (REPLY clear, seq = the device's event counter)."""
        ram = self.ram
        data = to_wire(make(name, seq=ram.event_seq, **fields))
        ram.event_seq = (ram.event_seq + 1) & 0xFFFF
        if self.deferred is not None:
            self.deferred.append(data)
        else:
            self.write(data)
