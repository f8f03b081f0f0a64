"""The simulated gun's firmware: command handling, exactly-once replies, state machine, physics, safety.

:class:`SimulatedGun` is a discrete-event model on the running event loop's clock: every delay (depth
motor, plunger stroke, shot period, priming, watchdog, status period) is a ``loop.call_at`` timer, never
a thread or ``time.time()``, so it runs in real time when served and fast-forwards under a virtual-time
loop (:mod:`sims.clock`). It has no tasks: ``close()`` only cancels timers.

Bytes arrive through :meth:`SimulatedGun.receive` and leave through the ``send`` callable given to
:meth:`SimulatedGun.attach`; link impairments and transports live elsewhere (:mod:`sims.impairments`,
:mod:`sims.serving`, :mod:`sims.inprocess`).

Value rounding: ``set_parameters`` values inside the hard limits but off the resolution step are rounded
to the nearest step, and the ack echoes the applied value. Values outside the limits are refused with
``out_of_range`` and a detail such as ``depth_um=5000 above max 4000``; a refused command changes nothing.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from firmware_protocol import (
    CATALOG,
    PROTOCOL_VERSION,
    AlarmCode,
    AlarmPriority,
    BadPayload,
    DeviceState,
    Direction,
    Flag,
    Frame,
    Message,
    Mode,
    NakCode,
    StreamDecoder,
    decode_message,
    make,
    to_wire,
)
from firmware_protocol.rules import ALARM_PRIORITIES, LATCHING_ALARMS
from sims.config import DeviceConfig
from sims.faults import FaultName, FaultSpec, make_fault
from sims.nvm import Nvm, NvmData
from sims.physics import DepthMotor, delivered_nl
from sims.statemachine import DeviceStateMachine, Event

S = DeviceState

ALARM_PRIORITY = ALARM_PRIORITIES
"""The priority each alarm is raised with (IEC 60601-1-8), from the device rules."""

_NOT_CACHED = frozenset(CATALOG.by_name[name].type_id for name in ("hello", "heartbeat", "get_status"))
"""Commands whose replies are not kept in the replay cache: they change nothing, so a repeat is answered anew."""

_ALWAYS_ALLOWED = frozenset({"hello", "heartbeat", "get_status", "stop", "emergency_stop", "clear_alarm"})


class _Refused(Exception):
    """A command is refused: becomes a ``nak`` with this code and detail."""

    def __init__(self, code: NakCode, detail: str) -> None:
        super().__init__(detail)
        self.nak_code = code
        self.detail = detail


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
    """Commands refused with a nak, by message name."""
    boots: int = 0
    """Power-ons, brown-outs included."""

    @property
    def commands_executed(self) -> int:
        """Total commands executed (acknowledged, duplicates not counted)."""
        return sum(self.executed.values())


@dataclass
class ShotRecord:
    """Ground truth of one shot, as a scale and a depth gauge would measure it (not sent on the wire)."""

    shot_index: int
    fire_seq: int
    set_depth_um: int
    set_dose_nl: int
    depth_um: int
    """Depth really reached: set depth + hidden offset."""
    dose_nl: int
    """Volume really delivered: set dose × hidden gain."""
    device_time_ms: int


class _Timers:
    """Named one-shot timers on the loop; re-arming a name replaces its previous timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def at(self, name: str, when: float, callback: Callable[[], None]) -> None:
        self.cancel(name)
        self._handles[name] = self._loop.call_at(when, self._run, name, callback)

    def _run(self, name: str, callback: Callable[[], None]) -> None:
        self._handles.pop(name, None)
        callback()

    def cancel(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def active(self, name: str) -> bool:
        return name in self._handles


class SimulatedGun:
    """One simulated gun: feed it host bytes with :meth:`receive`; it answers through the attached port.

    Call :meth:`start` on a running loop before use and :meth:`close` when done. Tests inspect the
    public attributes and inject faults with :meth:`inject`.
    """

    def __init__(self, config: DeviceConfig | None = None, *, nvm: Nvm | None = None) -> None:
        self.config = config or DeviceConfig()
        cfg = self.config
        self.nvm = nvm or Nvm(
            None,
            NvmData(
                serial_number=cfg.serial_number,
                hardware_revision=cfg.hardware_revision,
                volume_gain=cfg.calibration.volume_gain,
                depth_offset_um=cfg.calibration.depth_offset_um,
            ),
        )
        self.counters = DeviceCounters()
        self.shot_log: list[ShotRecord] = []
        """Ground truth of every shot since this object was created (survives brown-outs; for tests)."""
        self._machine = DeviceStateMachine(self._on_state_change)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: _Timers | None = None
        self._fault_timers: list[asyncio.TimerHandle] = []
        self._shot_faults: list[tuple[FaultSpec, int]] = []  # (fault, shots left before it hits)
        self._send: Callable[[bytes], None] | None = None
        self._decoder = StreamDecoder()
        self._deferred: list[bytes] | None = None
        self._last_rx = 0.0
        self._closed = False
        self._init_ram(0.0)

    # ------------------------------------------------------------------ public API

    @property
    def state(self) -> DeviceState:
        """The device state (owned by the state machine)."""
        return self._machine.state

    @property
    def shots_lifetime(self) -> int:
        """Shots over the device's life (non-volatile)."""
        return self.nvm.data.shots_lifetime

    @property
    def identity(self) -> dict[str, Any]:
        """The fields of the ``identity`` reply: who the device is and its hard limits."""
        cfg, lim = self.config, self.config.limits
        return {
            "protocol_version": cfg.protocol_version,
            "fingerprint": cfg.fingerprint,
            "model": cfg.model,
            "serial_number": self.nvm.data.serial_number,
            "hardware_revision": self.nvm.data.hardware_revision,
            "firmware_version": cfg.firmware_version,
            "depth_min_um": lim.depth_min_um,
            "depth_max_um": lim.depth_max_um,
            "depth_step_um": lim.depth_step_um,
            "dose_min_nl": lim.dose_min_nl,
            "dose_max_nl": lim.dose_max_nl,
            "dose_step_nl": lim.dose_step_nl,
            "rate_min_mhz": lim.rate_min_mhz,
            "rate_max_mhz": lim.rate_max_mhz,
            "rate_step_mhz": lim.rate_step_mhz,
            "modes": list(lim.modes),
            "syringe_sizes_nl": list(lim.syringe_sizes_nl),
            "watchdog_ms": cfg.watchdog_ms,
            "status_period_ms": cfg.status_period_ms,
        }

    @property
    def active_alarms(self) -> list[AlarmCode]:
        """Alarms latched now, in the order they were raised."""
        return list(self._alarms)

    @property
    def needle_depth_um(self) -> int:
        """Where the depth stop is now (µm, as the device believes: without the hidden offset)."""
        return round(self._motor.position(self._now()))

    @property
    def motor_moving(self) -> bool:
        """Whether the depth motor is still moving (firing refused meanwhile)."""
        return self._motor.moving(self._now())

    @property
    def device_time_ms(self) -> int:
        """Milliseconds since the last power-on."""
        return round((self._now() - self._boot_time) * 1000) & 0xFFFF_FFFF

    async def start(self) -> None:
        """Power the device on, on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._timers = _Timers(self._loop)
        self._boot()

    async def close(self) -> None:
        """Power off: cancel every timer. Idempotent."""
        self._closed = True
        if self._timers is not None:
            self._timers.cancel_all()
        for handle in self._fault_timers:
            handle.cancel()
        self._fault_timers.clear()
        self._send = None

    def attach(self, send: Callable[[bytes], None]) -> None:
        """A host connection appeared: device→host bytes go to ``send`` from now on."""
        self._send = send
        self._decoder = StreamDecoder()

    def detach(self) -> None:
        """The host connection went away: output goes nowhere (the device keeps running)."""
        self._send = None

    def receive(self, data: bytes) -> None:
        """Bytes from the host, in any chunking."""
        if self._closed:
            return
        for frame in self._decoder.feed(data):
            self._on_frame(frame)

    @property
    def decoder_stats(self) -> dict[str, int]:
        """Counters of the device's stream decoder (garbage, CRC errors, …) for the current connection."""
        return self._decoder.stats.as_dict()

    def inject(self, fault: str, **params: Any) -> FaultSpec:
        """Inject a fault: ``inject("occlusion", after_shots=5)`` or ``inject("brownout", at_s=2.0)``.

        ``after_shots=N``: exactly N more shots are delivered, then the fault hits when the plunger next
        pushes. ``at_s=T``: the fault hits T device seconds from now, whatever the state.
        Raises :class:`~sims.errors.SimConfigError` for an unknown fault or trigger.
        """
        spec = make_fault(fault, **params)
        self.schedule_fault(spec)
        return spec

    def schedule_fault(self, spec: FaultSpec) -> None:
        """Schedule an already checked :class:`FaultSpec`."""
        if spec.after_shots is not None:
            self._shot_faults.append((spec, spec.after_shots))
            return
        assert spec.at_s is not None
        loop = self._require_loop()
        self._fault_timers.append(loop.call_at(loop.time() + spec.at_s, self._apply_fault, spec.name))

    def brownout(self) -> None:
        """Supply dip now: the device reboots (RAM lost, NVM kept) and raises ``brownout_reset``."""
        self._apply_fault(FaultName.BROWNOUT)

    # ------------------------------------------------------------------ boot and RAM

    def _init_ram(self, now: float) -> None:
        cfg = self.config
        self._boot_time = now
        self.depth_um = cfg.boot_depth_um
        self.dose_nl = cfg.boot_dose_nl
        self.rate_mhz = cfg.boot_rate_mhz
        self.mode = cfg.boot_mode
        self._motor = DepthMotor(cfg.physics.motor_speed_um_s, cfg.boot_depth_um, cfg.boot_depth_um, now)
        self.syringe_capacity_nl = 0
        self.reservoir_nl = 0
        self.primed = False
        self.shots_session = 0
        self._alarms: dict[AlarmCode, AlarmPriority] = {}
        self._replay: OrderedDict[int, tuple[int, bytes, bytes]] = OrderedDict()
        self._event_seq = 0
        self._incompatible = False
        self._fire_seq = 0
        self._shots_remaining = 0
        self._unbounded = False
        self._in_stroke = False
        self._stop_after_stroke = False
        self._next_stroke_at = 0.0

    def _boot(self) -> None:
        now = self._now()
        self._init_ram(now)
        self._last_rx = now
        self.counters.boots += 1
        if self.config.status_period_ms > 0:
            self._timers_().at("status", now + self.config.status_period_ms / 1000, self._status_tick)

    def _now(self) -> float:
        return self._loop.time() if self._loop is not None else 0.0

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("SimulatedGun.start() must be awaited first")
        return self._loop

    def _timers_(self) -> _Timers:
        if self._timers is None:
            raise RuntimeError("SimulatedGun.start() must be awaited first")
        return self._timers

    # ------------------------------------------------------------------ output

    def _write(self, data: bytes) -> None:
        if self._send is not None:
            self._send(data)

    def _emit(self, name: str, **fields: Any) -> None:
        """Send an unsolicited event (REPLY clear, seq = the device's event counter)."""
        data = to_wire(make(name, seq=self._event_seq, **fields))
        self._event_seq = (self._event_seq + 1) & 0xFFFF
        if self._deferred is not None:
            self._deferred.append(data)
        else:
            self._write(data)

    def _status_fields(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "depth_um": self.depth_um,
            "dose_nl": self.dose_nl,
            "rate_mhz": self.rate_mhz,
            "mode": self.mode,
            "needle_depth_um": self.needle_depth_um,
            "syringe_capacity_nl": self.syringe_capacity_nl,
            "reservoir_nl": self.reservoir_nl,
            "primed": self.primed,
            "shots_session": self.shots_session,
            "shots_lifetime": self.shots_lifetime,
            "shots_remaining": 0 if self._unbounded or self.state is not S.FIRING else self._shots_remaining,
            "device_time_ms": self.device_time_ms,
            "active_alarms": self.active_alarms,
        }

    def _status_tick(self) -> None:
        self._emit("status", **self._status_fields())
        period = self.config.status_period_ms / 1000
        self._timers_().at("status", self._now() + period, self._status_tick)

    # ------------------------------------------------------------------ input

    def _on_frame(self, frame: Frame) -> None:
        self.counters.frames_in += 1
        self._last_rx = self._now()
        cached = self._replay.get(frame.seq)
        is_hello = frame.msg_type == CATALOG.by_name["hello"].type_id
        if is_hello:  # a hello starts a new session: never a duplicate, and old seqs cannot meet stale replies
            self._replay.clear()
        elif cached is not None and cached[0] == frame.msg_type and cached[1] == frame.payload:
            self.counters.duplicates += 1
            self._write(cached[2])
            return
        self._deferred = []
        try:
            reply = self._execute(frame)
        finally:
            deferred, self._deferred = self._deferred, None
        if frame.msg_type not in _NOT_CACHED:  # reads are answered afresh: a retried get_status is never stale
            self._replay[frame.seq] = (frame.msg_type, frame.payload, reply)
            self._replay.move_to_end(frame.seq)
            while len(self._replay) > self.config.replay_window:
                self._replay.popitem(last=False)
        self._write(reply)
        for data in deferred:
            self._write(data)

    def _execute(self, frame: Frame) -> bytes:
        spec = CATALOG.by_id.get(frame.msg_type)
        if spec is None:
            detail = f"unknown message type id 0x{frame.msg_type:02X}"
            return self._nak(frame.seq, frame.msg_type, NakCode.UNKNOWN_TYPE, detail)
        if spec.direction is not Direction.HOST_TO_DEVICE:
            return self._nak(frame.seq, spec.name, NakCode.UNKNOWN_TYPE, f"{spec.name} is a device→host message")
        if frame.version != PROTOCOL_VERSION and spec.name != "hello":  # hello's layout is frozen: always answered
            detail = f"frame protocol version {frame.version}, device speaks {PROTOCOL_VERSION}"
            return self._nak(frame.seq, spec.name, NakCode.INCOMPATIBLE_VERSION, detail)
        try:
            message = decode_message(frame)
        except BadPayload as exc:
            return self._nak(frame.seq, spec.name, NakCode.BAD_PAYLOAD, str(exc)[:200])
        if self._incompatible and spec.name not in ("hello", "emergency_stop"):
            detail = f"send hello with fingerprint 0x{self.config.fingerprint:08X} first (catalog mismatch)"
            return self._nak(frame.seq, spec.name, NakCode.INCOMPATIBLE_VERSION, detail)
        handler = getattr(self, f"_cmd_{spec.name}")
        try:
            reply_name, fields = handler(message)
        except _Refused as refused:
            self.counters.refused[spec.name] += 1
            return self._nak(frame.seq, spec.name, refused.nak_code, refused.detail)
        if frame.version != PROTOCOL_VERSION:  # a hello from another protocol version: answered, then refused
            self._incompatible = True
        self.counters.executed[spec.name] += 1
        return to_wire(make(reply_name, seq=frame.seq, flags=Flag.REPLY, **fields))

    def _nak(self, seq: int, command: str | int, code: NakCode, detail: str) -> bytes:
        """A nak; ``command`` is a message name, or a raw type id the catalog does not know."""
        return to_wire(make("nak", seq=seq, flags=Flag.REPLY, command=command, code=code, detail=detail[:255]))

    # ------------------------------------------------------------------ state checks

    def _require(self, command: str, *allowed: DeviceState) -> None:
        """Refuse with the right code unless the device is in one of ``allowed``."""
        state = self.state
        if state in allowed:
            return
        if state in (S.ALARM, S.EMERGENCY_STOP):
            names = ", ".join(a.json_name for a in self._alarms) or state.json_name
            raise _Refused(NakCode.ALARM_ACTIVE, f"{command} refused: {names} latched; clear_alarm first")
        if state is S.PRIMING:
            raise _Refused(NakCode.BUSY, f"{command} refused while priming")
        wanted = " or ".join(s.json_name for s in allowed)
        raise _Refused(NakCode.WRONG_STATE, f"{command} needs state {wanted}; device is {state.json_name}")

    @staticmethod
    def _check_range(name: str, value: int, low: int, high: int, step: int, unit: str = "") -> int:
        if value < low:
            raise _Refused(NakCode.OUT_OF_RANGE, f"{name}={value} below min {low}{unit}")
        if value > high:
            raise _Refused(NakCode.OUT_OF_RANGE, f"{name}={value} above max {high}{unit}")
        return min(max(low + round((value - low) / step) * step, low), high)

    # ------------------------------------------------------------------ commands

    def _cmd_hello(self, msg: Message) -> tuple[str, dict[str, Any]]:
        host_fp = int(msg["fingerprint"])
        mismatch = msg["protocol_version"] != self.config.protocol_version
        mismatch = mismatch or (host_fp != 0 and host_fp != self.config.fingerprint)
        self._incompatible = mismatch
        return "identity", self.identity

    def _cmd_heartbeat(self, msg: Message) -> tuple[str, dict[str, Any]]:
        return "ack", {"command": "heartbeat"}

    def _cmd_get_status(self, msg: Message) -> tuple[str, dict[str, Any]]:
        return "status", self._status_fields()

    def _cmd_set_parameters(self, msg: Message) -> tuple[str, dict[str, Any]]:
        self._require("set_parameters", S.IDLE, S.READY, S.ARMED)
        lim = self.config.limits
        depth = self._check_range("depth_um", msg["depth_um"], lim.depth_min_um, lim.depth_max_um, lim.depth_step_um)
        dose = self._check_range("dose_nl", msg["dose_nl"], lim.dose_min_nl, lim.dose_max_nl, lim.dose_step_nl)
        rate = self._check_range("rate_mhz", msg["rate_mhz"], lim.rate_min_mhz, lim.rate_max_mhz, lim.rate_step_mhz)
        mode = Mode(msg["mode"])
        if mode not in lim.modes:
            supported = ", ".join(m.json_name for m in lim.modes)
            raise _Refused(NakCode.OUT_OF_RANGE, f"mode={mode.json_name} not supported; supported: {supported}")
        period_ms = 1_000_000 / rate
        stroke_ms = self.config.physics.plunger_s(dose, lim.dose_max_nl) * 1000
        if stroke_ms > period_ms:
            raise _Refused(
                NakCode.OUT_OF_RANGE,
                f"dose_nl={dose} takes {stroke_ms:.0f} ms, longer than the {period_ms:.0f} ms shot period",
            )
        self.depth_um, self.dose_nl, self.rate_mhz, self.mode = depth, dose, rate, mode
        if self._motor.target_um != depth:
            self._motor.move_to(depth, self._now())
        return "ack", {"command": "set_parameters", "depth_um": depth, "dose_nl": dose, "rate_mhz": rate, "mode": mode}

    def _cmd_load_syringe(self, msg: Message) -> tuple[str, dict[str, Any]]:
        self._require("load_syringe", S.IDLE, S.READY)
        sizes = self.config.limits.syringe_sizes_nl
        capacity, fill = int(msg["capacity_nl"]), int(msg["fill_nl"])
        if capacity not in sizes:
            allowed = ", ".join(str(s) for s in sizes)
            raise _Refused(NakCode.OUT_OF_RANGE, f"capacity_nl={capacity} not one of {allowed}")
        if fill > capacity:
            raise _Refused(NakCode.OUT_OF_RANGE, f"fill_nl={fill} above capacity_nl {capacity}")
        self.syringe_capacity_nl, self.reservoir_nl, self.primed = capacity, fill, False
        self._clear_alarm(AlarmCode.RESERVOIR_LOW)
        self._machine.send(Event.LOAD)
        return "ack", {"command": "load_syringe", "capacity_nl": capacity, "fill_nl": fill}

    def _cmd_prime(self, msg: Message) -> tuple[str, dict[str, Any]]:
        self._require("prime", S.IDLE, S.READY)
        if not self.syringe_capacity_nl:
            raise _Refused(NakCode.NO_SYRINGE, "prime needs a loaded syringe (load_syringe first)")
        volume = int(msg["volume_nl"])
        low = self.config.limits.dose_step_nl
        volume = self._check_range("volume_nl", volume, low, self.syringe_capacity_nl, low)
        if delivered_nl(volume, self.nvm.data.volume_gain) > self.reservoir_nl:
            raise _Refused(NakCode.INSUFFICIENT_VOLUME, f"volume_nl={volume} above reservoir {self.reservoir_nl}")
        self._machine.send(Event.PRIME)
        duration = volume / self.config.physics.prime_rate_nl_s
        self._timers_().at("prime", self._now() + duration, lambda: self._prime_done(volume))
        return "ack", {"command": "prime", "volume_nl": volume}

    def _prime_done(self, volume: int) -> None:
        if self.state is not S.PRIMING:
            return
        self.reservoir_nl = max(self.reservoir_nl - delivered_nl(volume, self.nvm.data.volume_gain), 0)
        self.primed = True
        self._machine.send(Event.PRIMED)

    def _cmd_arm(self, msg: Message) -> tuple[str, dict[str, Any]]:
        if self.state is S.IDLE:
            if not self.syringe_capacity_nl:
                raise _Refused(NakCode.NO_SYRINGE, "arm needs a loaded syringe (load_syringe first)")
            if not self.primed:
                raise _Refused(NakCode.NOT_PRIMED, "arm needs the line primed (prime first)")
        self._require("arm", S.READY)
        if self.reservoir_nl < self.dose_nl:
            raise _Refused(
                NakCode.INSUFFICIENT_VOLUME, f"reservoir {self.reservoir_nl} nL below one dose of {self.dose_nl} nL"
            )
        self._machine.send(Event.ARM)
        return "ack", {"command": "arm"}

    def _cmd_disarm(self, msg: Message) -> tuple[str, dict[str, Any]]:
        self._require("disarm", S.ARMED)
        self._machine.send(Event.DISARM)
        return "ack", {"command": "disarm"}

    def _cmd_fire(self, msg: Message) -> tuple[str, dict[str, Any]]:
        self._require("fire", S.ARMED)
        now = self._now()
        if self._motor.moving(now):
            left_ms = (self._motor.arrival() - now) * 1000
            raise _Refused(NakCode.BUSY, f"depth motor moving to {self.depth_um} µm, arrives in {left_ms:.0f} ms")
        if self.reservoir_nl < self.dose_nl:
            raise _Refused(
                NakCode.INSUFFICIENT_VOLUME, f"reservoir {self.reservoir_nl} nL below one dose of {self.dose_nl} nL"
            )
        count = 1 if self.mode is Mode.SINGLE else int(msg["count"])
        self._fire_seq = msg.seq
        self._shots_remaining = count
        self._unbounded = count == 0
        self._stop_after_stroke = False
        self._machine.send(Event.FIRE)
        self._next_stroke_at = now
        self._timers_().at("stroke", now, self._stroke_start)
        return "ack", {"command": "fire", "count": count}

    def _cmd_stop(self, msg: Message) -> tuple[str, dict[str, Any]]:
        if self.state is S.FIRING:
            if self._in_stroke:
                self._stop_after_stroke = True
            else:
                self._end_firing()
                self._machine.send(Event.BURST_END)
        return "ack", {"command": "stop"}

    def _cmd_emergency_stop(self, msg: Message) -> tuple[str, dict[str, Any]]:
        if self.state is not S.EMERGENCY_STOP:
            self._halt_motion()
            self._machine.send(Event.ESTOP)
            self._raise_alarm(AlarmCode.EMERGENCY_STOP)
        return "ack", {"command": "emergency_stop"}

    def _cmd_clear_alarm(self, msg: Message) -> tuple[str, dict[str, Any]]:
        for code in list(self._alarms):
            if code is not AlarmCode.RESERVOIR_LOW:
                self._clear_alarm(code)
        if self.state in (S.ALARM, S.EMERGENCY_STOP):
            ready = self.syringe_capacity_nl > 0 and self.primed
            self._machine.send(Event.CLEAR_TO_READY if ready else Event.CLEAR_TO_IDLE)
        return "ack", {"command": "clear_alarm"}

    # ------------------------------------------------------------------ firing

    def _stroke_start(self) -> None:
        if self.state is not S.FIRING:
            return
        for index, (spec, left) in enumerate(self._shot_faults):
            if left <= 0:
                del self._shot_faults[index]
                self._apply_fault(spec.name)
                return
        if self.reservoir_nl < delivered_nl(self.dose_nl, self.nvm.data.volume_gain):
            self.reservoir_nl = 0
            self._raise_alarm(AlarmCode.RESERVOIR_EMPTY)
            return
        self._in_stroke = True
        stroke_s = self.config.physics.plunger_s(self.dose_nl, self.config.limits.dose_max_nl)
        self._timers_().at("stroke", self._now() + stroke_s, self._stroke_end)

    def _stroke_end(self) -> None:
        self._in_stroke = False
        gain, offset = self.nvm.data.volume_gain, self.nvm.data.depth_offset_um
        volume = delivered_nl(self.dose_nl, gain)
        self.reservoir_nl -= volume
        self.shots_session += 1
        lifetime = self.shots_lifetime + 1
        self.nvm.update(shots_lifetime=lifetime)  # persisted before the shot is reported
        self._shot_faults = [(spec, left - 1) for spec, left in self._shot_faults]
        depth = self.needle_depth_um
        time_ms = self.device_time_ms
        self.shot_log.append(ShotRecord(lifetime, self._fire_seq, depth, self.dose_nl, depth + offset, volume, time_ms))
        self._emit(
            "shot",
            shot_index=lifetime & 0xFFFF_FFFF,
            fire_seq=self._fire_seq,
            depth_um=depth,
            dose_nl=self.dose_nl,
            device_time_ms=time_ms,
        )
        doses_left = self.reservoir_nl // max(volume, 1)
        if doses_left < self.config.physics.low_reservoir_doses and AlarmCode.RESERVOIR_LOW not in self._alarms:
            self._raise_alarm(AlarmCode.RESERVOIR_LOW)
        if not self._unbounded:
            self._shots_remaining -= 1
        if self._stop_after_stroke or (not self._unbounded and self._shots_remaining <= 0):
            self._end_firing()
            self._machine.send(Event.BURST_END)
            return
        self._next_stroke_at += 1000 / self.rate_mhz
        self._timers_().at("stroke", max(self._next_stroke_at, self._now()), self._stroke_start)

    def _end_firing(self) -> None:
        self._timers_().cancel("stroke")
        self._in_stroke = False
        self._stop_after_stroke = False
        self._shots_remaining = 0
        self._unbounded = False

    def _halt_motion(self) -> None:
        """Stop firing, priming and the depth motor at once (alarm, emergency stop)."""
        self._end_firing()
        self._timers_().cancel("prime")
        self._motor.halt(self._now())

    # ------------------------------------------------------------------ alarms and faults

    def _raise_alarm(self, code: AlarmCode) -> None:
        if code in LATCHING_ALARMS:
            self._halt_motion()
            if self._machine.can(Event.FAULT):
                self._machine.send(Event.FAULT)
        if code in self._alarms:
            return
        priority = ALARM_PRIORITY[code]
        self._alarms[code] = priority
        self._emit("alarm", code=code, priority=priority, raised=True, device_time_ms=self.device_time_ms)

    def _clear_alarm(self, code: AlarmCode) -> None:
        priority = self._alarms.pop(code, None)
        if priority is not None:
            self._emit("alarm", code=code, priority=priority, raised=False, device_time_ms=self.device_time_ms)

    def _apply_fault(self, name: FaultName) -> None:
        if self._closed:
            return
        if name is FaultName.BROWNOUT:
            self._reboot()
        elif name is FaultName.OCCLUSION:
            self._raise_alarm(AlarmCode.OCCLUSION)
        elif name is FaultName.EMPTY:
            self.reservoir_nl = 0
            self._raise_alarm(AlarmCode.RESERVOIR_EMPTY)
        else:
            self._raise_alarm(AlarmCode.MOTOR_STALL)

    def _reboot(self) -> None:
        """Brown-out: RAM state lost, NVM kept, back in idle with ``brownout_reset`` raised."""
        self._timers_().cancel_all()
        self._machine.send(Event.REBOOT)
        self._boot()
        self._decoder = StreamDecoder()
        self._raise_alarm(AlarmCode.BROWNOUT_RESET)

    # ------------------------------------------------------------------ watchdog

    def _on_state_change(self, old: DeviceState, new: DeviceState) -> None:
        guarded = (S.ARMED, S.FIRING)
        if new in guarded and old not in guarded:
            self._arm_watchdog()  # entered from ready by an arm frame, which just set _last_rx
        elif new not in guarded and self._timers is not None:
            self._timers.cancel("watchdog")

    def _arm_watchdog(self) -> None:
        deadline = self._last_rx + self.config.watchdog_ms / 1000
        self._timers_().at("watchdog", deadline, self._watchdog_check)

    def _watchdog_check(self) -> None:
        if self.state not in (S.ARMED, S.FIRING):
            return
        if self._now() - self._last_rx >= self.config.watchdog_ms / 1000 - 1e-9:
            self._raise_alarm(AlarmCode.COMMUNICATION_LOST)
        else:
            self._arm_watchdog()
