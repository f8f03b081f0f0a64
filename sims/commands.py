"""The simulated gun's command handlers, their checks, and why a refused command is refused.

Which command is allowed in which state, and which checks run in which order, is not decided here but by
:mod:`firmware_protocol.rules` (via :class:`~sims.dispatch.Dispatcher`); this module supplies, for each nak
code the rules name, the device's condition and the detail a technician reads.

Value rounding: values inside the hard limits but off the resolution step are rounded to the nearest step
(ties up, never above the maximum: :func:`firmware_protocol.rules.applied_value`) and the ack echoes the
applied value. Values outside the limits are refused with ``out_of_range`` and a
detail such as ``depth_um=5000 above max 4000``; a refused command changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from firmware_protocol import AlarmCode, DeviceState, Message, Mode, NakCode
from firmware_protocol.rules import accepting_states, applied_value
from sims.alarms import Alarms
from sims.calibration import believed_needle_depth_um, move_needle_stop, release
from sims.core import DeviceCore
from sims.dispatch import CommandHandler, Refusals, Reply
from sims.firing import Firing
from sims.statemachine import Event

S = DeviceState
_N = NakCode
_MILLI = 1000
"""Milli-units per unit (ms per s, mHz per Hz)."""


class _OutOfRange(Exception):
    """A value outside the limits (becomes an ``out_of_range`` detail)."""


def _rounded(name: str, value: int, low: int, high: int, step: int) -> int:
    """``value`` as applied (:func:`firmware_protocol.rules.applied_value`: limits checked on the value as
    sent, then rounded to the grid); raises :class:`_OutOfRange` outside ``low..high``."""
    if value < low:
        raise _OutOfRange(f"{name}={value} below min {low}")
    if value > high:
        raise _OutOfRange(f"{name}={value} above max {high}")
    return applied_value(value, low, high, step)


def _detail_of(compute: Callable[[Message], object]) -> Callable[[Message], str | None]:
    """A check from a computation that raises :class:`_OutOfRange`."""

    def check(message: Message) -> str | None:
        try:
            compute(message)
        except _OutOfRange as exc:
            return str(exc)
        return None

    return check


class Commands:
    """The core command handlers of the reference device, over the shared core, firing and alarms."""

    def __init__(self, core: DeviceCore, firing: Firing, alarms: Alarms, identity: Callable[[], dict[str, Any]]):
        self._core = core
        self._firing = firing
        self._alarms = alarms
        self._identity = identity

    # ------------------------------------------------------------------ registry

    def fire_checks(self) -> dict[NakCode, Callable[[Message], str | None]]:
        """The conditions ``fire`` is checked against, by nak code (``deliver`` shares them)."""
        return {
            _N.REMOTE_FIRE_DISABLED: self._check_remote_fire,
            _N.BUSY: self._check_motor,
            _N.INSUFFICIENT_VOLUME: self._check_one_dose,
        }

    def registry(self) -> dict[str, CommandHandler]:
        """Message name → handler: the commands this device implements."""
        insufficient_for_a_dose = self._check_one_dose
        return {
            "hello": CommandHandler(self._hello),
            "heartbeat": CommandHandler(lambda m: ("ack", {"command": "heartbeat"})),
            "get_status": CommandHandler(lambda m: ("status", self.status_fields())),
            "set_parameters": CommandHandler(
                self._set_parameters, {_N.OUT_OF_RANGE: _detail_of(self._applied_parameters)}
            ),
            "load_syringe": CommandHandler(self._load_syringe, {_N.OUT_OF_RANGE: _detail_of(self._checked_syringe)}),
            "prime": CommandHandler(
                self._prime,
                {
                    _N.NO_SYRINGE: lambda m: None if self._core.ram.syringe_capacity_nl else self._no_syringe("prime"),
                    _N.OUT_OF_RANGE: _detail_of(self._prime_volume),
                    _N.INSUFFICIENT_VOLUME: self._check_prime_volume,
                },
            ),
            "arm": CommandHandler(self._arm, {_N.INSUFFICIENT_VOLUME: insufficient_for_a_dose}),
            "disarm": CommandHandler(self._disarm),
            "fire": CommandHandler(self._fire, self.fire_checks()),
            "set_burst_count": CommandHandler(
                self._set_burst_count, {_N.OUT_OF_RANGE: _detail_of(self._applied_burst_count)}
            ),
            "stop": CommandHandler(self._stop),
            "emergency_stop": CommandHandler(self._emergency_stop),
            "clear_alarm": CommandHandler(self._clear_alarm, {_N.ALARM_ACTIVE: self._check_alarm_cause}),
        }

    def refusals(self) -> Refusals:
        """Why a command is refused in a state the rules refuse it in."""
        return Refusals(
            details={
                _N.WRONG_STATE: self._wrong_state,
                _N.BUSY: lambda command: f"{command} refused while priming",
                _N.ALARM_ACTIVE: self._alarm_latched,
                _N.NO_SYRINGE: self._no_syringe,
                _N.NOT_PRIMED: lambda command: f"{command} needs the line primed (prime first)",
            },
            conditions={
                _N.NO_SYRINGE: lambda: not self._core.ram.syringe_capacity_nl,
                _N.NOT_PRIMED: lambda: not self._core.ram.primed,
            },
        )

    # ------------------------------------------------------------------ refusal details

    def _wrong_state(self, command: str) -> str:
        wanted = " or ".join(s.json_name for s in accepting_states(command))
        return f"{command} needs state {wanted}; device is {self._core.state.json_name}"

    def _alarm_latched(self, command: str) -> str:
        names = ", ".join(a.json_name for a in self._core.ram.alarms) or self._core.state.json_name
        return f"{command} refused: {names} latched; clear_alarm first"

    @staticmethod
    def _no_syringe(command: str) -> str:
        return f"{command} needs a loaded syringe (load_syringe first)"

    # ------------------------------------------------------------------ checks

    def _check_one_dose(self, message: Message) -> str | None:
        ram = self._core.ram
        if ram.reservoir_nl < ram.dose_nl:
            return f"reservoir {ram.reservoir_nl} nL below one dose of {ram.dose_nl} nL"
        return None

    def _check_remote_fire(self, message: Message) -> str | None:
        if not self._core.config.remote_fire:
            command = message.name
            return f"{command} refused: this device fires from its trigger and pedal only (remote fire disabled)"
        return None

    def _applied_burst_count(self, message: Message) -> int:
        top = self._core.config.limits.burst_count_max
        return _rounded("burst_count", int(message["burst_count"]), 1, top, 1)

    def _check_motor(self, message: Message) -> str | None:
        core = self._core
        now = core.now()
        motor = core.ram.motor
        if motor.moving(now):
            left_ms = (motor.arrival() - now) * _MILLI
            return f"depth motor moving to {core.ram.depth_um} µm, arrives in {left_ms:.0f} ms"
        return None

    def _check_alarm_cause(self, message: Message) -> str | None:
        """A latched alarm whose cause persists refuses the whole ``clear_alarm``: nothing is cleared."""
        present = [code.json_name for code in self._core.ram.alarms if code in self._alarms.persisting]
        if present:
            return f"clear_alarm refused: {', '.join(present)} still present; nothing cleared"
        return None

    def _applied_parameters(self, message: Message) -> tuple[int, int, int, Mode]:
        lim = self._core.config.limits
        depth = _rounded("depth_um", message["depth_um"], lim.depth_min_um, lim.depth_max_um, lim.depth_step_um)
        dose = _rounded("dose_nl", message["dose_nl"], lim.dose_min_nl, lim.dose_max_nl, lim.dose_step_nl)
        rate = _rounded("rate_mhz", message["rate_mhz"], lim.rate_min_mhz, lim.rate_max_mhz, lim.rate_step_mhz)
        mode = Mode(message["mode"])
        if mode not in lim.modes:
            supported = ", ".join(m.json_name for m in lim.modes)
            raise _OutOfRange(f"mode={mode.json_name} not supported; supported: {supported}")
        period_ms = _MILLI * _MILLI / rate
        stroke_ms = self._core.config.physics.plunger_s(dose, lim.dose_max_nl) * _MILLI
        if stroke_ms > period_ms:
            raise _OutOfRange(
                f"dose_nl={dose} takes {stroke_ms:.0f} ms, longer than the {period_ms:.0f} ms shot period"
            )
        return depth, dose, rate, mode

    def _checked_syringe(self, message: Message) -> tuple[int, int]:
        sizes = self._core.config.limits.syringe_sizes_nl
        capacity, fill = int(message["capacity_nl"]), int(message["fill_nl"])
        if capacity not in sizes:
            raise _OutOfRange(f"capacity_nl={capacity} not one of {', '.join(str(s) for s in sizes)}")
        if fill > capacity:
            raise _OutOfRange(f"fill_nl={fill} above capacity_nl {capacity}")
        return capacity, fill

    def _prime_volume(self, message: Message) -> int:
        low = self._core.config.limits.dose_step_nl
        return _rounded("volume_nl", int(message["volume_nl"]), low, self._core.ram.syringe_capacity_nl, low)

    def _check_prime_volume(self, message: Message) -> str | None:
        volume, ram = self._prime_volume(message), self._core.ram
        if volume > ram.reservoir_nl:  # by the device's own estimate (it cannot weigh the syringe)
            return f"volume_nl={volume} above reservoir {ram.reservoir_nl}"
        return None

    # ------------------------------------------------------------------ handlers

    def status_fields(self) -> dict[str, Any]:
        """The fields of a ``status`` message now."""
        core, ram, firing = self._core, self._core.ram, self._firing
        return {
            "state": core.state,
            "depth_um": ram.depth_um,
            "dose_nl": ram.dose_nl,
            "rate_mhz": ram.rate_mhz,
            "mode": ram.mode,
            "needle_depth_um": believed_needle_depth_um(core),
            "syringe_capacity_nl": ram.syringe_capacity_nl,
            "reservoir_nl": ram.reservoir_nl,
            "primed": ram.primed,
            "shots_session": ram.shots_session,
            "shots_lifetime": core.nvm.data.shots_lifetime,
            "shots_remaining": 0 if firing.unbounded or core.state is not S.FIRING else firing.shots_remaining,
            "device_time_ms": core.device_time_ms(),
            "active_alarms": list(ram.alarms),
        }

    def _hello(self, message: Message) -> Reply:
        config = self._core.config
        host_fp = int(message["fingerprint"])
        mismatch = message["protocol_version"] != config.protocol_version
        self._core.ram.incompatible = mismatch or (host_fp != 0 and host_fp != config.fingerprint)
        self._core.ram.host_id = int(message.get("host_id", 0))  # a new session: its shots are stamped with it
        return "identity", self._identity()

    def _set_parameters(self, message: Message) -> Reply:
        depth, dose, rate, mode = self._applied_parameters(message)
        core, ram = self._core, self._core.ram
        ram.depth_um, ram.dose_nl, ram.rate_mhz, ram.mode = depth, dose, rate, mode
        ram.held_depth_um = None  # a new depth ends a hold_depth
        move_needle_stop(core)  # to where the device's calibration puts the set depth
        return "ack", {"command": "set_parameters", "depth_um": depth, "dose_nl": dose, "rate_mhz": rate, "mode": mode}

    def _set_burst_count(self, message: Message) -> Reply:
        self._core.ram.burst_count = count = self._applied_burst_count(message)
        return "ack", {"command": "set_burst_count", "burst_count": count}

    def _load_syringe(self, message: Message) -> Reply:
        capacity, fill = self._checked_syringe(message)
        ram = self._core.ram
        ram.syringe_capacity_nl, ram.reservoir_nl, ram.primed = capacity, fill, False
        ram.syringe_brand = ""  # a new syringe: its brand is declared anew (set_syringe_brand)
        self._core.syringe.load(fill)
        self._alarms.clear_alarm(AlarmCode.RESERVOIR_LOW)
        self._core.machine.send(Event.LOAD)
        return "ack", {"command": "load_syringe", "capacity_nl": capacity, "fill_nl": fill}

    def _prime(self, message: Message) -> Reply:
        volume = self._prime_volume(message)
        self._firing.start_priming(volume)
        return "ack", {"command": "prime", "volume_nl": volume}

    def _arm(self, message: Message) -> Reply:
        release(self._core)  # arming ends a hold_depth
        self._core.machine.send(Event.ARM)
        return "ack", {"command": "arm"}

    def _disarm(self, message: Message) -> Reply:
        self._core.machine.send(Event.DISARM)
        return "ack", {"command": "disarm"}

    def _fire(self, message: Message) -> Reply:
        count = self._firing.begin(int(message["count"]), message.seq)
        return "ack", {"command": "fire", "count": count}

    def _stop(self, message: Message) -> Reply:
        self._core.mark_stop()
        self._firing.stop()
        return "ack", {"command": "stop"}

    def _emergency_stop(self, message: Message) -> Reply:
        core = self._core
        if core.state is not S.EMERGENCY_STOP:
            self._firing.halt()
            core.mark_emergency_stop()
            core.machine.send(Event.ESTOP)
            self._alarms.raise_alarm(AlarmCode.EMERGENCY_STOP)
        return "ack", {"command": "emergency_stop"}

    def _clear_alarm(self, message: Message) -> Reply:
        core, ram = self._core, self._core.ram
        for code in list(ram.alarms):
            if code is not AlarmCode.RESERVOIR_LOW:
                self._alarms.clear_alarm(code)
        if core.state in (S.ALARM, S.EMERGENCY_STOP):
            ready = ram.syringe_capacity_nl > 0 and ram.primed
            core.machine.send(Event.CLEAR_TO_READY if ready else Event.CLEAR_TO_IDLE)
        return "ack", {"command": "clear_alarm"}
