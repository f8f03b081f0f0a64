"""The calibration family on the simulated gun, and where the device applies its calibration.

Handlers for ``get_calibration``, ``write_calibration``, ``set_syringe_brand``, ``hold_depth``, ``release_depth``
and ``deliver`` (registered beside the core's, the logs' and the diagnostics' in the device's handler registry);
the state rules come from :mod:`firmware_protocol.rules`, the ``out_of_range`` conditions are checked here, on
the device, whatever the host checked (a host can be bypassed). A write goes to NVM in one atomic replace with
its new id before the reply (:class:`~sims.nvm.StoredCalibration`).

The device's corrections live in :class:`~sims.nvm.StoredCalibration` (depth, gains) and are applied by
:func:`move_needle_stop` (the depth motor) and by :mod:`sims.firing` (volume, rate); the hidden truth it cannot see
is :class:`~sims.config.HiddenTruth`.
"""

from __future__ import annotations

from collections.abc import Callable

from firmware_protocol import Message, NakCode
from firmware_protocol.rules import CALIBRATION_LIMITS, applied_value
from sims.core import DeviceCore
from sims.dispatch import Check, CommandHandler, Reply
from sims.firing import Firing
from sims.nvm import StoredCalibration

_N = NakCode
_MILLI = 1000


def move_needle_stop(core: DeviceCore) -> None:
    """Drive the depth motor to where the device's calibration puts the held depth, or else the set depth."""
    ram = core.ram
    depth = ram.held_depth_um if ram.held_depth_um is not None else ram.depth_um
    target = core.nvm.data.calibration.motor_um(depth)
    if ram.motor.target_um != target:
        ram.motor.move_to(target, core.now())


def believed_needle_depth_um(core: DeviceCore) -> int:
    """Where the device believes the depth stop is now (µm, in set units: after its calibration)."""
    position = core.ram.motor.position(core.now())
    return round(core.nvm.data.calibration.believed_depth_um(position))


def true_needle_depth_um(core: DeviceCore) -> float:
    """Where the needle tip truly is now (µm): the hidden truth a depth gauge reads."""
    return core.config.hidden_truth.depth_um(core.ram.motor.position(core.now()))


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _gain_problem(name: str, ppm: int) -> str | None:
    cal = CALIBRATION_LIMITS
    if ppm < cal.gain_min_ppm:
        return f"{name}={ppm} ppm below min {cal.gain_min_ppm} ppm"
    if ppm > cal.gain_max_ppm:
        return f"{name}={ppm} ppm above max {cal.gain_max_ppm} ppm"
    return None


def calibration_problem(message: Message) -> str | None:
    """Why a ``write_calibration`` is out of the device's bounds (the first problem, worded for a technician:
    field, value, limit, unit), or ``None``."""
    cal = CALIBRATION_LIMITS
    gains = list(message["volume_gains"])
    if len(gains) > cal.brands_max:
        return f"volume_gains has {len(gains)} brands, above max {cal.brands_max}"
    seen: set[str] = set()
    for number, entry in enumerate(gains):
        brand = str(entry["brand"])
        if not brand:
            return f"volume_gains[{number}].brand is empty"
        if _utf8_len(brand) > cal.brand_max_bytes:
            return f"volume_gains[{number}].brand is {_utf8_len(brand)} bytes, above max {cal.brand_max_bytes} bytes"
        if brand in seen:
            return f"volume_gains[{number}].brand={brand!r} is listed twice"
        seen.add(brand)
        problem = _gain_problem(f"volume_gains[{brand}].gain_ppm", int(entry["gain_ppm"]))
        if problem is not None:
            return problem
    offset = int(message["depth_offset_um"])
    if offset > cal.depth_offset_max_um:
        return f"depth_offset_um={offset} µm above max {cal.depth_offset_max_um} µm"
    if offset < -cal.depth_offset_max_um:
        return f"depth_offset_um={offset} µm below min {-cal.depth_offset_max_um} µm"
    for name in ("depth_gain_ppm", "rate_gain_ppm"):
        problem = _gain_problem(name, int(message[name]))
        if problem is not None:
            return problem
    for name in ("technician", "certificate_id"):
        size = _utf8_len(str(message[name]))
        if size > cal.text_max_bytes:
            return f"{name} is {size} bytes, above max {cal.text_max_bytes} bytes"
    return None


class CalibrationHandlers:
    """The calibration family's handlers over the device's core and firing (``fire_checks``: the core's own
    conditions of ``fire``, which ``deliver`` shares)."""

    def __init__(
        self,
        core: DeviceCore,
        firing: Firing,
        fire_checks: dict[NakCode, Check],
        on_hold: Callable[[], None] = lambda: None,
    ) -> None:
        self._core = core
        self._firing = firing
        self._fire_checks = fire_checks
        self._on_hold = on_hold
        """Called when a hold begins (the watchdog then releases it if the host goes silent)."""

    def registry(self) -> dict[str, CommandHandler]:
        """Message name → handler: the calibration family's commands."""
        fire = self._fire_checks
        return {
            "get_calibration": CommandHandler(self._get),
            "write_calibration": CommandHandler(self._write, {_N.OUT_OF_RANGE: calibration_problem}),
            "set_syringe_brand": CommandHandler(self._set_brand, {_N.OUT_OF_RANGE: self._brand_problem}),
            "hold_depth": CommandHandler(self._hold, {_N.OUT_OF_RANGE: self._hold_problem}),
            "release_depth": CommandHandler(self._release),
            "deliver": CommandHandler(
                self._deliver,
                {
                    _N.REMOTE_FIRE_DISABLED: fire[_N.REMOTE_FIRE_DISABLED],
                    _N.OUT_OF_RANGE: self._deliver_problem,
                    _N.BUSY: fire[_N.BUSY],
                    _N.INSUFFICIENT_VOLUME: self._deliver_volume_problem,
                },
            ),
        }

    # ------------------------------------------------------------------ checks

    @staticmethod
    def _brand_problem(message: Message) -> str | None:
        size, top = _utf8_len(str(message["brand"])), CALIBRATION_LIMITS.brand_max_bytes
        return f"brand is {size} bytes, above max {top} bytes" if size > top else None

    def _range(self, name: str, value: int, low: int, high: int) -> str | None:
        if value < low:
            return f"{name}={value} below min {low}"
        if value > high:
            return f"{name}={value} above max {high}"
        return None

    def _hold_problem(self, message: Message) -> str | None:
        lim = self._core.config.limits
        return self._range("depth_um", int(message["depth_um"]), lim.depth_min_um, lim.depth_max_um)

    def _deliver_values(self, message: Message) -> tuple[int, int, int]:
        """The count, dose and rate a ``deliver`` applies (dose and rate rounded to their steps)."""
        lim = self._core.config.limits
        dose = applied_value(int(message["dose_nl"]), lim.dose_min_nl, lim.dose_max_nl, lim.dose_step_nl)
        rate = applied_value(int(message["rate_mhz"]), lim.rate_min_mhz, lim.rate_max_mhz, lim.rate_step_mhz)
        return int(message["count"]), dose, rate

    def _deliver_problem(self, message: Message) -> str | None:
        lim = self._core.config.limits
        problems = (
            self._range("count", int(message["count"]), 1, CALIBRATION_LIMITS.deliver_count_max),
            self._range("dose_nl", int(message["dose_nl"]), lim.dose_min_nl, lim.dose_max_nl),
            self._range("rate_mhz", int(message["rate_mhz"]), lim.rate_min_mhz, lim.rate_max_mhz),
        )
        problem = next((p for p in problems if p is not None), None)
        if problem is not None:
            return problem
        _, dose, rate = self._deliver_values(message)
        period_ms = _MILLI * _MILLI / rate
        stroke_ms = self._core.config.physics.plunger_s(dose, lim.dose_max_nl) * _MILLI
        if stroke_ms > period_ms:
            return f"dose_nl={dose} takes {stroke_ms:.0f} ms, longer than the {period_ms:.0f} ms shot period"
        return None

    def _deliver_volume_problem(self, message: Message) -> str | None:
        count, dose, _ = self._deliver_values(message)
        reservoir = self._core.ram.reservoir_nl
        if reservoir < count * dose:
            return f"reservoir {reservoir} nL below {count} doses of {dose} nL"
        return None

    # ------------------------------------------------------------------ handlers

    def _get(self, message: Message) -> Reply:
        return "calibration", self._core.nvm.data.calibration.wire_fields()

    def _write(self, message: Message) -> Reply:
        nvm = self._core.nvm
        new_id = nvm.data.next_calibration_id
        calibration = StoredCalibration(
            calibration_id=new_id,
            volume_gains=tuple((str(e["brand"]), int(e["gain_ppm"])) for e in message["volume_gains"]),
            depth_offset_um=int(message["depth_offset_um"]),
            depth_gain_ppm=int(message["depth_gain_ppm"]),
            rate_gain_ppm=int(message["rate_gain_ppm"]),
            calibrated_at=int(message["calibrated_at"]),
            due_at=int(message["due_at"]),
            technician=str(message["technician"]),
            certificate_id=str(message["certificate_id"]),
        )
        following = new_id + 1 if new_id < 0xFFFF_FFFF else new_id  # a u32: the last id is kept, never reused as 0
        nvm.update(calibration=calibration, next_calibration_id=following)  # one atomic write, before the reply
        move_needle_stop(self._core)  # the stop goes where the new correction puts the depth
        return "calibration", calibration.wire_fields()

    def _set_brand(self, message: Message) -> Reply:
        self._core.ram.syringe_brand = str(message["brand"])
        return "ack", {"command": "set_syringe_brand"}

    def _hold(self, message: Message) -> Reply:
        lim = self._core.config.limits
        depth = applied_value(int(message["depth_um"]), lim.depth_min_um, lim.depth_max_um, lim.depth_step_um)
        self._core.ram.held_depth_um = depth
        move_needle_stop(self._core)
        self._on_hold()
        return "ack", {"command": "hold_depth", "depth_um": depth}

    def _release(self, message: Message) -> Reply:
        release(self._core)
        return "ack", {"command": "release_depth"}

    def _deliver(self, message: Message) -> Reply:
        count, dose, rate = self._deliver_values(message)
        self._firing.begin(count, message.seq, dose_nl=dose, rate_mhz=rate)
        return "ack", {"command": "deliver", "count": count, "dose_nl": dose, "rate_mhz": rate}


def release(core: DeviceCore) -> None:
    """End a ``hold_depth`` (``release_depth``, ``arm``, ``set_parameters``, the host silent past the watchdog
    period or its connection gone): the stop back to the set depth."""
    if core.ram.held_depth_um is not None:
        core.ram.held_depth_um = None
        move_needle_stop(core)
