"""User units (mm, mL, Hz) ⇄ wire units (µm, nL, milli-shots/s), validated against device-reported limits.

Policy: a value off the device's resolution is an error, not silently rounded (a dose that is not what
the practitioner typed must be noticed). Floating-point noise below a millionth of a wire unit is
tolerated, so ``0.1 * 3`` mL is accepted as 0.3 mL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mesogun.errors import ParameterError
from mesogun.i18n import N_
from mesogun.wording import Number, Wording, shown


@dataclass(frozen=True)
class Quantity:
    """A user-facing quantity: its argument name, user unit, and wire units per user unit."""

    field: str
    unit: str
    scale: int


DEPTH = Quantity("depth_mm", "mm", 1000)
"""Needle depth: mm for users, µm on the wire."""
DOSE = Quantity("dose_ml", "mL", 1_000_000)
"""Drop volume: mL for users, nL on the wire."""
RATE = Quantity("rate_hz", "Hz", 1000)
"""Firing rate: shots/s for users, milli-shots/s on the wire."""


def volume(field: str) -> Quantity:
    """A volume argument named ``field`` (mL for users, nL on the wire)."""
    return Quantity(field, "mL", 1_000_000)


@dataclass(frozen=True)
class WireRange:
    """A device-reported range in wire units: ``min``..``max`` in steps of ``step`` from ``min``."""

    min: int
    max: int
    step: int = 1


def from_wire(q: Quantity, wire: int) -> float:
    """The user-unit value of a wire integer."""
    return wire / q.scale


def decimals_for(q: Quantity, step: int) -> int:
    """Decimals needed to show multiples of ``step`` wire units in user units (at least one)."""
    d = 0
    while d < 9 and (step * 10**d) % q.scale:
        d += 1
    return max(d, 1)


def fmt(q: Quantity, wire: int, decimals: int) -> str:
    """``wire`` in user units with ``decimals`` decimals."""
    return f"{wire / q.scale:.{decimals}f}"


def _number(q: Quantity, wire: int, decimals: int) -> Number:
    """``wire`` in user units with ``decimals`` decimals, as a message says it (:func:`fmt`)."""
    return Number(wire / q.scale, f".{decimals}f")


def to_wire_int(q: Quantity, value: object) -> int:
    """Convert a user value to a wire integer; :class:`ParameterError` if it is not a finite number or not whole
    wire units. A finite value too large for floating point in wire units (``1e308`` mm) converts exactly, so the
    caller's range check refuses it with the same message as any other out-of-range value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(
            Wording(N_("{field}={value} must be a number in {unit}"), field=q.field, value=repr(value), unit=q.unit),
            field=q.field,
            value=value,
        )
    if isinstance(value, int):
        return value * q.scale  # exact, however large: the caller's range check names the limits
    if not math.isfinite(value):
        raise ParameterError(
            Wording(
                N_("{field}={value} must be a finite number in {unit}"), field=q.field, value=shown(value), unit=q.unit
            ),
            field=q.field,
            value=value,
        )
    exact = value * q.scale
    if not math.isfinite(exact):  # a finite but absurd value (1e308 mm): a whole number, far out of any range
        return int(value) * q.scale
    wire = round(exact)
    if abs(exact - wire) > 1e-6 * max(1.0, abs(exact)):
        raise ParameterError(
            Wording(
                N_("{field}={value} {unit} is finer than the wire resolution 1/{scale} {unit}"),
                field=q.field,
                value=shown(value),
                unit=q.unit,
                scale=q.scale,
            ),
            field=q.field,
            value=value,
        )
    return int(wire)


def to_wire(q: Quantity, value: object, limits: WireRange) -> int:
    """Convert and check a user value against the device's ``limits``; raise :class:`ParameterError` naming
    field, value, limit and unit (e.g. "depth_mm=4.05 is outside the device's range 1.0–4.0 mm")."""
    wire = to_wire_int(q, value)
    d = decimals_for(q, limits.step)
    if not limits.min <= wire <= limits.max:
        raise ParameterError(
            Wording(
                N_("{field}={value} is outside the device's range {low}–{high} {unit}"),
                field=q.field,
                value=shown(value),
                low=_number(q, limits.min, d),
                high=_number(q, limits.max, d),
                unit=q.unit,
            ),
            field=q.field,
            value=value,
        )
    if limits.step > 1 and (wire - limits.min) % limits.step:
        below = wire - (wire - limits.min) % limits.step
        raise ParameterError(
            Wording(
                N_(
                    "{field}={value} is not a multiple of the device's resolution {step} {unit} "
                    "(nearest settings: {below} or {above} {unit})"
                ),
                field=q.field,
                value=shown(value),
                step=_number(q, limits.step, d),
                below=_number(q, below, d),
                above=_number(q, below + limits.step, d),
                unit=q.unit,
            ),
            field=q.field,
            value=value,
        )
    return wire


def check_count(field: str, value: object, *, minimum: int = 0, maximum: int = 0xFFFF_FFFF) -> int:
    """A whole count (shots) within ``minimum``..``maximum``; :class:`ParameterError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(
            Wording(N_("{field}={value} must be a whole number of shots"), field=field, value=repr(value)),
            field=field,
            value=value,
        )
    if not minimum <= value <= maximum:
        raise ParameterError(
            Wording(
                N_("{field}={value} is outside {minimum}–{maximum} shots"),
                field=field,
                value=value,
                minimum=minimum,
                maximum=maximum,
            ),
            field=field,
            value=value,
        )
    return value
