"""Faults one can inject into the simulated gun, from the API or as ``--fault NAME:key=value``.

``occlusion``, ``empty`` (the syringe runs out), ``stall`` (motor stall) and ``brownout`` (reboot).
Trigger with ``after_shots=N`` (the fault hits when the plunger next pushes after N more shots, so
exactly N shots are delivered first, and no stroke is cut), ``mid_stroke=N`` (N whole shots, then the fault
hits halfway through the next stroke: a partial shot) or ``at_s=T`` (T device seconds from now, whatever
the state).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from firmware_protocol import AlarmCode
from sims.errors import SimConfigError


class FaultName(enum.StrEnum):
    """The injectable faults."""

    OCCLUSION = "occlusion"
    EMPTY = "empty"
    STALL = "stall"
    BROWNOUT = "brownout"


FAULT_ALARMS: dict[FaultName, AlarmCode] = {
    FaultName.OCCLUSION: AlarmCode.OCCLUSION,
    FaultName.EMPTY: AlarmCode.RESERVOIR_EMPTY,
    FaultName.STALL: AlarmCode.MOTOR_STALL,
    FaultName.BROWNOUT: AlarmCode.BROWNOUT_RESET,
}
"""The alarm each fault raises."""

_NAMES = ", ".join(f.value for f in FaultName)
_MAX_SHOTS = 10_000_000
_MAX_S = 86_400.0


@dataclass(frozen=True)
class FaultSpec:
    """One fault to inject: exactly one of ``after_shots``, ``mid_stroke`` and ``at_s`` is set."""

    name: FaultName
    after_shots: int | None = None
    at_s: float | None = None
    mid_stroke: int | None = None
    """Whole shots delivered first; the fault then hits halfway through the next stroke."""

    def __str__(self) -> str:
        if self.after_shots is not None:
            trigger = f"after_shots={self.after_shots}"
        elif self.mid_stroke is not None:
            trigger = f"mid_stroke={self.mid_stroke}"
        else:
            trigger = f"at_s={self.at_s}"
        return f"{self.name.value}:{trigger}"


def make_fault(name: str, **params: object) -> FaultSpec:
    """Check a fault name and its one trigger parameter; :class:`SimConfigError` if anything is off."""
    try:
        fault = FaultName(name)
    except ValueError:
        raise SimConfigError("fault", name, f"one of {_NAMES}", reason="is not a known fault") from None
    if len(params) != 1 or next(iter(params)) not in ("after_shots", "mid_stroke", "at_s"):
        given = ",".join(f"{k}={v}" for k, v in params.items()) or "nothing"
        raise SimConfigError(
            "fault",
            f"{name}:{given}",
            "exactly one of after_shots=N, mid_stroke=N or at_s=T",
            reason="needs one trigger",
        )
    key, raw = next(iter(params.items()))
    if key in ("after_shots", "mid_stroke"):
        shots = _number(raw, int, f"fault {key}")
        if not 0 <= shots <= _MAX_SHOTS:
            raise SimConfigError(f"fault {key}", raw, f"0 to {_MAX_SHOTS}", "shots", "is out of range")
        if key == "mid_stroke":
            return FaultSpec(fault, mid_stroke=int(shots))
        return FaultSpec(fault, after_shots=int(shots))
    seconds = _number(raw, float, "fault at_s")
    if not (math.isfinite(seconds) and 0 <= seconds <= _MAX_S):
        raise SimConfigError("fault at_s", raw, f"0 to {_MAX_S:g}", "device seconds from now", "is out of range")
    return FaultSpec(fault, at_s=float(seconds))


def parse_fault(text: str) -> FaultSpec:
    """Parse ``NAME:key=value`` (as on the command line and in ``sim://?fault=…``)."""
    name, sep, rest = text.partition(":")
    key, eq, value = rest.partition("=")
    if not sep or not eq or not key:
        raise SimConfigError(
            "fault",
            text,
            f"NAME:after_shots=N, NAME:mid_stroke=N or NAME:at_s=T with NAME one of {_NAMES}",
            reason="is malformed",
        )
    return make_fault(name.strip(), **{key.strip(): value.strip()})


def _number(raw: object, kind: type[int] | type[float], option: str) -> float:
    if isinstance(raw, bool):
        raise SimConfigError(option, raw, "a number", reason="is not a number")
    if isinstance(raw, int | float):
        value: float = raw
    else:
        try:
            value = kind(str(raw))
        except ValueError:
            wanted = "an integer" if kind is int else "a number"
            raise SimConfigError(option, raw, wanted, reason="is not a number") from None
    if kind is int and value != int(value):
        raise SimConfigError(option, raw, "an integer", reason="is not an integer")
    return value
