"""The device rules: the one source of truth for what a device does with each command in each state.

The catalog says how messages look on the wire; this module says what a device does with them, and is
not part of the wire layout (so not in the fingerprint):

- :data:`GATES` and :data:`STATE_TABLE`: the order in which a device decides to refuse a command, and
  command × device state → accepted (and the state it leads to) or refused (and the nak code);
- :data:`REFERENCE_LIMITS` / :data:`REFERENCE_IDENTITY`: the reference device's identity and hard limits;
  :data:`REFERENCE_MODEL`: what identity does not carry (power-on values, motion speeds, thresholds);
  :func:`applied_value`: how a value inside the limits is rounded to the grid;
- :data:`CALIBRATION_LIMITS`: the plausible bounds of a device calibration (``write_calibration``);
- :data:`ALARM_PRIORITIES` and :data:`LATCHING_ALARMS`: how each alarm is raised.

docs/protocol.md renders these (``python -m firmware_protocol spec``), the simulator decides its naks
from them, and the host's controller derives which command it may send in which state. Pure data.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

from firmware_protocol.catalog import CATALOG, Direction
from firmware_protocol.enums import AlarmCode, AlarmPriority, DeviceState, Mode, NakCode
from firmware_protocol.families import ALWAYS_OBEYED, BY_NAME, CORE
from firmware_protocol.framing import PROTOCOL_VERSION

_S = DeviceState
_N = NakCode

# ---------------------------------------------------------------------------------------------------
# Identity and hard limits.


@dataclass(frozen=True)
class Limits:
    """A device's hard limits in wire units, as its ``identity`` reports them; defaults: the reference device.

    Depth 1.0–4.0 mm step 0.1 mm, dose 0.001–0.200 mL step 0.001 mL, rate 0.5–10 shots/s step
    0.1 shot/s, syringes of 2, 3, 5 and 10 mL (docs/protocol.md, *Reference device*).
    """

    depth_min_um: int = 1000
    depth_max_um: int = 4000
    depth_step_um: int = 100
    dose_min_nl: int = 1000
    dose_max_nl: int = 200_000
    dose_step_nl: int = 1000
    rate_min_mhz: int = 500
    rate_max_mhz: int = 10_000
    rate_step_mhz: int = 100
    modes: tuple[Mode, ...] = (Mode.SINGLE, Mode.BURST, Mode.CONTINUOUS, Mode.NAPPAGE)
    syringe_sizes_nl: tuple[int, ...] = (2_000_000, 3_000_000, 5_000_000, 10_000_000)
    burst_count_max: int = 20
    """Most shots one trigger or pedal press fires in burst mode (``set_burst_count`` takes 1 to this)."""

    def identity_fields(self) -> dict[str, Any]:
        """The ``identity`` fields these limits fill (lists, as a message holds them)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}


REFERENCE_LIMITS = Limits()
"""The reference device's hard limits."""

REFERENCE_WATCHDOG_MS = 1000
"""The reference device's communication watchdog period while armed or firing (1 s)."""

REFERENCE_STATUS_PERIOD_MS = 100
"""The reference device's period of unsolicited status messages (0.1 s)."""


@dataclass(frozen=True)
class DeviceModel:
    """What a device model does that ``identity`` does not carry: power-on values, motion speeds, thresholds.

    Fixed for a model (in wire units, ms and nL/s); a host predicts timings from them, and the simulator
    takes its defaults from :data:`REFERENCE_MODEL`. docs/protocol.md renders them (*Reference device*).
    """

    power_on_depth_um: int = 2000
    power_on_dose_nl: int = 10_000
    power_on_rate_mhz: int = 2000
    power_on_mode: Mode = Mode.SINGLE
    depth_speed_um_s: int = 5000
    """The depth motor moves the needle stop at this constant speed (5 mm/s)."""
    prime_rate_nl_s: int = 50_000
    """Priming pushes the liquid through the line at this flow (50 µL/s)."""
    stroke_min_ms: int = 20
    """Plunger stroke time of a dose of 0 nL (the stroke's fixed part)."""
    stroke_max_ms: int = 60
    """Plunger stroke time of the largest dose (``dose_max_nl``); between the two, linear in the dose."""
    low_reservoir_doses: int = 10
    """``reservoir_low`` is raised when fewer than this many doses at the set dose are left."""
    power_on_burst_count: int = 3
    """Shots per trigger press in burst mode until a ``set_burst_count``."""

    def stroke_ms(self, dose_nl: int, dose_max_nl: int) -> float:
        """The plunger stroke time of one dose: ``stroke_min_ms + (stroke_max_ms − stroke_min_ms) × dose/max``."""
        fraction = min(max(dose_nl / dose_max_nl, 0.0), 1.0)
        return self.stroke_min_ms + (self.stroke_max_ms - self.stroke_min_ms) * fraction


REFERENCE_MODEL = DeviceModel()
"""The reference device model (the simulator's defaults)."""


def applied_value(value: int, low: int, high: int, step: int) -> int:
    """The value a device applies for ``value`` inside ``low..high``: the nearest grid value ``low + k × step``.

    The limits are checked on the value as sent, before rounding (the caller refuses a value outside them);
    a tie (exactly half-way between two grid values) rounds up, to the larger one; a rounding that would land
    above ``high`` (possible only when ``high`` is off the grid) applies the largest grid value not above it.
    Integer arithmetic only, as firmware does it.
    """
    k = (value - low + step // 2) // step
    top = (high - low) // step
    return low + min(k, top) * step


FIELD_LIMITS: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        "depth_um": ("depth_min_um", "depth_max_um", "depth_step_um"),
        "dose_nl": ("dose_min_nl", "dose_max_nl", "dose_step_nl"),
        "rate_mhz": ("rate_min_mhz", "rate_max_mhz", "rate_step_mhz"),
    }
)
"""Which identity fields bound a command or status field: (minimum, maximum, step)."""

REFERENCE_IDENTITY: Mapping[str, Any] = MappingProxyType(
    {
        "protocol_version": PROTOCOL_VERSION,
        "fingerprint": CATALOG.fingerprint,
        "model": "MG-1",
        "serial_number": "MG1-000001",
        "hardware_revision": "A",
        "firmware_version": "1.0.0",
        **REFERENCE_LIMITS.identity_fields(),
        "modes": [mode.json_name for mode in REFERENCE_LIMITS.modes],
        "watchdog_ms": REFERENCE_WATCHDOG_MS,
        "status_period_ms": REFERENCE_STATUS_PERIOD_MS,
        "hardware_id": "3f00a1c2e4b5d6978812ab34",
        "counter_epoch": 0x5EED0001,
        "families": [
            {"family": BY_NAME[name].wire_id, "fingerprint": value}
            for name, value in CATALOG.family_fingerprints.items()
            if name != CORE.name
        ],
        "remote_fire": True,
        "calibration_id": 0,
    }
)
"""The reference device's ``identity`` (JSON-ready: enums as names). Model, serial and versions are examples."""

# ---------------------------------------------------------------------------------------------------
# The device calibration's bounds.


@dataclass(frozen=True)
class CalibrationLimits:
    """What a device accepts in ``write_calibration`` (and ``set_syringe_brand``): plausible bounds, so a wrong
    correction is refused rather than written (docs/protocol.md, section 13). Gains in parts per million."""

    gain_min_ppm: int = 800_000
    """Smallest volume, depth or rate gain (0.80)."""
    gain_max_ppm: int = 1_200_000
    """Largest volume, depth or rate gain (1.20)."""
    depth_offset_max_um: int = 500
    """Largest depth offset either way (µm)."""
    brands_max: int = 16
    """Most syringe brands with a volume gain of their own."""
    brand_max_bytes: int = 32
    """Longest syringe brand (UTF-8 bytes)."""
    text_max_bytes: int = 64
    """Longest technician name or certificate id (UTF-8 bytes)."""
    deliver_count_max: int = 0xFFFF
    """Most shots one ``deliver`` fires."""


CALIBRATION_LIMITS = CalibrationLimits()
"""The reference device's calibration bounds."""

GAIN_PPM = 1_000_000
"""Parts per million of a gain of 1.0 (the wire form of every calibration gain)."""

# ---------------------------------------------------------------------------------------------------
# Alarms.

ALARM_PRIORITIES: Mapping[AlarmCode, AlarmPriority] = MappingProxyType(
    {
        AlarmCode.OCCLUSION: AlarmPriority.HIGH,
        AlarmCode.RESERVOIR_EMPTY: AlarmPriority.HIGH,
        AlarmCode.MOTOR_STALL: AlarmPriority.HIGH,
        AlarmCode.COMMUNICATION_LOST: AlarmPriority.HIGH,
        AlarmCode.BROWNOUT_RESET: AlarmPriority.MEDIUM,
        AlarmCode.EMERGENCY_STOP: AlarmPriority.HIGH,
        AlarmCode.RESERVOIR_LOW: AlarmPriority.LOW,
    }
)
"""The priority a device raises each alarm with (IEC 60601-1-8); hosts use the priority the event carries."""

LATCHING_ALARMS = frozenset(
    {AlarmCode.OCCLUSION, AlarmCode.RESERVOIR_EMPTY, AlarmCode.MOTOR_STALL, AlarmCode.COMMUNICATION_LOST}
)
"""Alarms that stop the device and put it in ``alarm`` until ``clear_alarm``.

``brownout_reset`` and ``reservoir_low`` are notices: listed in ``active_alarms``, the device keeps working;
``emergency_stop`` has its own state.
"""

# ---------------------------------------------------------------------------------------------------
# The order of checks and the state table.


class GateKind(enum.Enum):
    """The checks a device makes on every command before its state rule, in :data:`GATES` order."""

    UNKNOWN_TYPE = "unknown_type"
    FRAME_VERSION = "frame_version"
    BAD_PAYLOAD = "bad_payload"
    SESSION = "session"


@dataclass(frozen=True)
class Gate:
    """One check made before the state table: when it holds, the command is refused with :attr:`code`."""

    kind: GateKind
    code: NakCode
    when: str
    """The condition in words (docs/protocol.md, section 3.2)."""
    exempt: frozenset[str] = frozenset()
    """Commands this check never refuses."""


GATES: tuple[Gate, ...] = (
    Gate(GateKind.UNKNOWN_TYPE, _N.UNKNOWN_TYPE, "the type id is not in the catalog, or is a device→host message"),
    Gate(
        GateKind.FRAME_VERSION,
        _N.INCOMPATIBLE_VERSION,
        "the frame header's protocol version differs from the device's",
        frozenset({"hello"}),
    ),
    Gate(GateKind.BAD_PAYLOAD, _N.BAD_PAYLOAD, "the payload does not parse as this message type"),
    Gate(
        GateKind.SESSION,
        _N.INCOMPATIBLE_VERSION,
        "the last hello had another protocol version or core fingerprint",
        frozenset({"hello"}) | ALWAYS_OBEYED,
    ),
)
"""Checks made on every command, in this order, before its :data:`STATE_TABLE` cell (a repeat of a cached
command is answered from the reply cache before any of them)."""


@dataclass(frozen=True)
class Outcome:
    """What one command does in one device state: carried out (and where it leads), or refused."""

    accepted: bool
    to: tuple[DeviceState, ...] = ()
    """States an accepted command leads to (empty: the state does not change)."""
    naks: tuple[NakCode, ...] = ()
    """Refused: the nak codes; the first whose condition holds applies (the last always does).
    Accepted: conditions checked next, in order, each refusing with its own code."""
    host_refuses: bool = False
    """Accepted and acknowledged by the device, but it changes nothing: a host refuses it before sending, as
    it can only be a mistake. No cell is marked so today: ``clear_alarm`` with no latched alarm still clears
    notices (``brownout_reset``), and a safe-making command is never refused for the gun being safe already."""

    @property
    def host_sends(self) -> bool:
        """Whether a host sends the command in this state (otherwise it refuses it locally)."""
        return self.accepted and not self.host_refuses


def _ok(*to: DeviceState, checks: tuple[NakCode, ...] = ()) -> Outcome:
    return Outcome(True, to, checks)


def _nak(*codes: NakCode) -> Outcome:
    return Outcome(False, (), codes)


def _rule(default: Outcome, **by_state: Outcome) -> Mapping[DeviceState, Outcome]:
    table = dict.fromkeys(DeviceState, default)
    for name, outcome in by_state.items():
        table[DeviceState[name.upper()]] = outcome
    return MappingProxyType(table)


_IN_ALARM = {"alarm": _nak(_N.ALARM_ACTIVE), "emergency_stop": _nak(_N.ALARM_ACTIVE)}

STATE_TABLE: Mapping[str, Mapping[DeviceState, Outcome]] = MappingProxyType(
    {
        "hello": _rule(_ok()),
        "heartbeat": _rule(_ok()),
        "get_status": _rule(_ok()),
        "set_parameters": _rule(
            _nak(_N.WRONG_STATE),
            idle=_ok(checks=(_N.OUT_OF_RANGE,)),
            ready=_ok(checks=(_N.OUT_OF_RANGE,)),
            armed=_ok(checks=(_N.OUT_OF_RANGE,)),
            priming=_nak(_N.BUSY),
            **_IN_ALARM,
        ),
        "load_syringe": _rule(
            _nak(_N.WRONG_STATE),
            idle=_ok(_S.IDLE, checks=(_N.OUT_OF_RANGE,)),
            ready=_ok(_S.IDLE, checks=(_N.OUT_OF_RANGE,)),
            priming=_nak(_N.BUSY),
            **_IN_ALARM,
        ),
        "prime": _rule(
            _nak(_N.WRONG_STATE),
            idle=_ok(_S.PRIMING, checks=(_N.NO_SYRINGE, _N.OUT_OF_RANGE, _N.INSUFFICIENT_VOLUME)),
            ready=_ok(_S.PRIMING, checks=(_N.OUT_OF_RANGE, _N.INSUFFICIENT_VOLUME)),
            priming=_nak(_N.BUSY),
            **_IN_ALARM,
        ),
        "arm": _rule(
            _nak(_N.WRONG_STATE),
            idle=_nak(_N.NO_SYRINGE, _N.NOT_PRIMED),
            ready=_ok(_S.ARMED, checks=(_N.INSUFFICIENT_VOLUME,)),
            priming=_nak(_N.BUSY),
            **_IN_ALARM,
        ),
        # disarm while priming: wrong_state, not busy. Priming ends in ready, where disarm is refused all the
        # same: busy ("retry later") would invite a retry that can never succeed; the gun is not armed.
        "disarm": _rule(_nak(_N.WRONG_STATE), armed=_ok(_S.READY), **_IN_ALARM),
        # A device configured to fire from its trigger and pedal only refuses fire where it would take it.
        "fire": _rule(
            _nak(_N.WRONG_STATE),
            armed=_ok(_S.FIRING, checks=(_N.REMOTE_FIRE_DISABLED, _N.BUSY, _N.INSUFFICIENT_VOLUME)),
            priming=_nak(_N.BUSY),
            **_IN_ALARM,
        ),
        "stop": _rule(_ok(), firing=_ok(_S.ARMED)),
        # A parameter of its own (commands never gain fields, docs/protocol.md section 7): where set_parameters.
        "set_burst_count": _rule(
            _nak(_N.WRONG_STATE),
            idle=_ok(checks=(_N.OUT_OF_RANGE,)),
            ready=_ok(checks=(_N.OUT_OF_RANGE,)),
            armed=_ok(checks=(_N.OUT_OF_RANGE,)),
            priming=_nak(_N.BUSY),
            **_IN_ALARM,
        ),
        "emergency_stop": _rule(_ok(_S.EMERGENCY_STOP)),
        # clear_alarm outside alarm and emergency_stop changes no state but clears notices (brownout_reset):
        # a host sends it, so a notice can be acknowledged and clearing is idempotent.
        "clear_alarm": _rule(
            _ok(),
            alarm=_ok(_S.READY, _S.IDLE, checks=(_N.ALARM_ACTIVE,)),
            emergency_stop=_ok(_S.READY, _S.IDLE, checks=(_N.ALARM_ACTIVE,)),
        ),
        # The logs family: a read, allowed in every state (a technician reads the log of a gun in alarm); the
        # page it asks for is checked (count 1..SHOT_LOG_PAGE_MAX, from_index not past the newest shot).
        "get_shot_log": _rule(_ok(checks=(_N.OUT_OF_RANGE,))),
        # A read for a technician, allowed in every state (the gun in alarm is the one to diagnose); no checks.
        "get_diagnostics": _rule(_ok()),
        # The calibration family. A read, allowed in every state.
        "get_calibration": _rule(_ok()),
        # A write only while nothing moves or can fire: refused armed, firing (wrong_state) and priming (busy).
        "write_calibration": _rule(
            _nak(_N.WRONG_STATE),
            idle=_ok(checks=(_N.OUT_OF_RANGE,)),
            ready=_ok(checks=(_N.OUT_OF_RANGE,)),
            priming=_nak(_N.BUSY),
            **_IN_ALARM,
        ),
        # Where load_syringe is (the brand belongs to the syringe loaded), without its change of state.
        "set_syringe_brand": _rule(
            _nak(_N.WRONG_STATE),
            idle=_ok(checks=(_N.OUT_OF_RANGE,)),
            ready=_ok(checks=(_N.OUT_OF_RANGE,)),
            priming=_nak(_N.BUSY),
            **_IN_ALARM,
        ),
        # A measurement move while disarmed (the needle held out for a gauge); arm and fire end it.
        "hold_depth": _rule(
            _nak(_N.WRONG_STATE),
            idle=_ok(checks=(_N.OUT_OF_RANGE,)),
            ready=_ok(checks=(_N.OUT_OF_RANGE,)),
            priming=_nak(_N.BUSY),
            **_IN_ALARM,
        ),
        # Retracting the needle is never refused (without a hold it changes nothing).
        "release_depth": _rule(_ok()),
        # A measurement move where fire is, with fire's checks and the range of its own dose, rate and count.
        "deliver": _rule(
            _nak(_N.WRONG_STATE),
            armed=_ok(_S.FIRING, checks=(_N.REMOTE_FIRE_DISABLED, _N.OUT_OF_RANGE, _N.BUSY, _N.INSUFFICIENT_VOLUME)),
            priming=_nak(_N.BUSY),
            **_IN_ALARM,
        ),
        # The firmware update family: an SMP frame is carried in every state; the SMP server answers what it
        # refuses with SMP's own error (an image upload while armed or firing: MGMT_ERR_EBUSY), never a nak.
        "smp_request": _rule(_ok()),
    }
)
"""Command × device state → outcome: the device's state rules (docs/protocol.md, "State rules").

``stop`` while firing leads to ``armed`` at the end of the shot in progress; ``clear_alarm`` leads to
``ready`` when a primed syringe is loaded, else ``idle``.
"""

COMMANDS: tuple[str, ...] = tuple(m.name for m in CATALOG if m.direction is Direction.HOST_TO_DEVICE)
"""Every host→device command of the catalog, in type id order."""


def outcome(command: str, state: DeviceState) -> Outcome:
    """The rule for ``command`` in ``state``; ``KeyError`` for a command the table has no row for."""
    return STATE_TABLE[command][state]


def accepting_states(command: str) -> tuple[DeviceState, ...]:
    """The device states in which ``command`` is accepted (in :class:`DeviceState` order)."""
    return tuple(state for state, rule in STATE_TABLE[command].items() if rule.accepted)


def expected_state(command: str) -> DeviceState | None:
    """The one state every accepted ``command`` leads to, or ``None`` (unchanged, or it depends)."""
    targets = {rule.to for rule in STATE_TABLE[command].values() if rule.host_sends}
    if len(targets) == 1:
        (to,) = targets
        if len(to) == 1:
            return to[0]
    return None


__all__ = [
    "ALARM_PRIORITIES",
    "CALIBRATION_LIMITS",
    "COMMANDS",
    "FIELD_LIMITS",
    "GAIN_PPM",
    "GATES",
    "LATCHING_ALARMS",
    "REFERENCE_IDENTITY",
    "REFERENCE_LIMITS",
    "REFERENCE_MODEL",
    "REFERENCE_STATUS_PERIOD_MS",
    "REFERENCE_WATCHDOG_MS",
    "STATE_TABLE",
    "CalibrationLimits",
    "DeviceModel",
    "Gate",
    "GateKind",
    "Limits",
    "Outcome",
    "accepting_states",
    "applied_value",
    "expected_state",
    "outcome",
]
