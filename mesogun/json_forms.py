"""The JSON form of the boundary types, in user units: one place for what ``--json`` prints and the gun service
sends, so the CLI without a service and the CLI through one (and the tablet, and scripts) see the same fields.

Each form has its inverse (``status_from(status_fields(s)) == s``): a client of the service rebuilds the very
objects the Python API returns, and prints them with the same code as without a service."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from firmware_protocol import Mode
from mesogun.models import (
    AlarmEvent,
    Diagnostics,
    Event,
    FiredShots,
    GunInfo,
    Limits,
    MissedEvents,
    Settings,
    ShotEvent,
    ShotRecord,
    Status,
    StatusEvent,
    Syringe,
    TriggerEvent,
)
from mesogun.units import DEPTH, DOSE, RATE, Quantity, WireRange, from_wire, volume

D = TypeVar("D")


def plain(value: Any) -> Any:
    """``value`` with dataclasses, enums and tuples turned into JSON-ready types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def info_fields(info: GunInfo) -> dict[str, Any]:
    """What ``info --json`` prints, in user units (the ranges' steps included)."""
    limits = info.limits
    return {
        "model": info.model,
        "serial_number": info.serial_number,
        "hardware_revision": info.hardware_revision,
        "firmware_version": info.firmware_version,
        "protocol_version": info.protocol_version,
        "fingerprint": f"0x{info.fingerprint:08X}",
        "depth_range_mm": list(info.depth_range_mm),
        "depth_step_mm": from_wire(DEPTH, limits.depth_um.step),
        "dose_range_ml": list(info.dose_range_ml),
        "dose_step_ml": from_wire(DOSE, limits.dose_nl.step),
        "rate_range_hz": list(info.rate_range_hz),
        "rate_step_hz": from_wire(RATE, limits.rate_mhz.step),
        "modes": [m.json_name for m in limits.modes],
        "syringe_sizes_ml": list(info.syringe_sizes_ml),
        "watchdog_ms": info.watchdog_ms,
        "status_period_ms": info.status_period_ms,
        "remote_fire": info.remote_fire,
        "burst_count_max": info.burst_count_max,
        "calibration_id": info.calibration_id,
    }


def status_fields(status: Status) -> dict[str, Any]:
    """What ``status --json`` prints, in user units (shots_lifetime included)."""
    fields: dict[str, Any] = plain(status)
    settings = fields.pop("settings")
    return {"state": fields.pop("state"), **settings, **fields}


def shot_fields(shot: ShotRecord) -> dict[str, Any]:
    """One shot in user units (index, depth_mm, dose_ml, device_time, fire_seq, recovered, source: trigger, pedal
    or remote, partial, delivered_ml, host_id, calibration_id)."""
    return {**dataclasses.asdict(shot), "source": shot.source.json_name}


def alarm_fields(alarm: AlarmEvent) -> dict[str, Any]:
    """One alarm change: code, priority, raised, device_time."""
    return {
        "code": alarm.code.json_name,
        "priority": alarm.priority.json_name,
        "raised": alarm.raised,
        "device_time": alarm.device_time,
    }


def trigger_fields(event: TriggerEvent) -> dict[str, Any]:
    """The handpiece trigger or the pedal pressed or released: source, pressed, device_time."""
    return {"source": event.source.json_name, "pressed": event.pressed, "device_time": event.device_time}


def fired_fields(fired: FiredShots) -> dict[str, Any]:
    """What a ``fire`` did, by the device's count: fired, recovered (details read back from its log), unreceived
    (details lost), and the shots in detail."""
    return {
        "fired": fired.fired,
        "recovered": fired.recovered,
        "unreceived": fired.unreceived,
        "shots": [shot_fields(shot) for shot in fired],
    }


def event_fields(event: Event) -> tuple[str, dict[str, Any]]:
    """An event of :meth:`~mesogun.session.gun.Gun.events` as its kind (``status``, ``shot``, ``alarm``,
    ``trigger``, ``missed``) and its JSON form: what the service's event stream carries."""
    if isinstance(event, StatusEvent):
        return "status", status_fields(event.status)
    if isinstance(event, ShotEvent):
        return "shot", shot_fields(event.shot)
    if isinstance(event, AlarmEvent):
        return "alarm", alarm_fields(event)
    if isinstance(event, TriggerEvent):
        return "trigger", trigger_fields(event)
    assert isinstance(event, MissedEvents)
    return "missed", {"count": event.count}


# ---------------------------------------------------------------------------------------------- the inverses


def from_plain(cls: type[D], data: Mapping[str, Any]) -> D:
    """The dataclass ``cls`` from its :func:`plain` form: nested dataclasses, enums by their lowercase name,
    tuples; a field missing from ``data`` keeps its default."""
    hints = typing.get_type_hints(cls)
    values = {f.name: _from_plain(hints[f.name], data[f.name]) for f in dataclasses.fields(cls) if f.name in data}  # type: ignore[arg-type]
    return cls(**values)


def _from_plain(kind: Any, value: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        present = [k for k in typing.get_args(kind) if k is not type(None)]
        return _from_plain(present[0], value) if len(present) == 1 else value
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_plain(args[0], v) for v in value)
        return tuple(_from_plain(k, v) for k, v in zip(args, value, strict=True))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind[str(value).upper()]
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return from_plain(kind, value)
    return value


def status_from(fields: Mapping[str, Any]) -> Status:
    """The :class:`Status` whose :func:`status_fields` are ``fields``."""
    data = dict(fields)
    names = [f.name for f in dataclasses.fields(Settings)]
    data["settings"] = {name: data.pop(name) for name in names}
    return from_plain(Status, data)


def settings_from(fields: Mapping[str, Any]) -> Settings:
    """The :class:`Settings` in a status's (or a settings') fields."""
    return Settings(fields["depth_mm"], fields["dose_ml"], fields["rate_hz"], Mode[str(fields["mode"]).upper()])


def _wire(q: Quantity, value: float) -> int:
    return round(value * q.scale)


def _range(q: Quantity, bounds: list[float], step: float) -> WireRange:
    return WireRange(_wire(q, bounds[0]), _wire(q, bounds[1]), _wire(q, step))


def info_from(fields: Mapping[str, Any]) -> GunInfo:
    """The :class:`GunInfo` whose :func:`info_fields` are ``fields`` (what the form leaves out, the hardware id,
    counter epoch and families, keeps its default)."""
    millilitre = volume("syringe_ml")
    limits = Limits(
        depth_um=_range(DEPTH, fields["depth_range_mm"], fields["depth_step_mm"]),
        dose_nl=_range(DOSE, fields["dose_range_ml"], fields["dose_step_ml"]),
        rate_mhz=_range(RATE, fields["rate_range_hz"], fields["rate_step_hz"]),
        modes=tuple(Mode[str(m).upper()] for m in fields["modes"]),
        syringe_sizes_nl=tuple(_wire(millilitre, ml) for ml in fields["syringe_sizes_ml"]),
    )
    return GunInfo(
        model=fields["model"],
        serial_number=fields["serial_number"],
        hardware_revision=fields["hardware_revision"],
        firmware_version=fields["firmware_version"],
        protocol_version=fields["protocol_version"],
        fingerprint=int(str(fields["fingerprint"]), 16),
        limits=limits,
        watchdog_ms=fields["watchdog_ms"],
        status_period_ms=fields["status_period_ms"],
        remote_fire=fields["remote_fire"],
        burst_count_max=fields["burst_count_max"],
        calibration_id=int(fields.get("calibration_id", 0)),  # a service older than calibration ids: factory
    )


def shot_from(fields: Mapping[str, Any]) -> ShotRecord:
    """The :class:`ShotRecord` whose :func:`shot_fields` are ``fields``."""
    return from_plain(ShotRecord, fields)


def fired_from(fields: Mapping[str, Any]) -> FiredShots:
    """The :class:`FiredShots` whose :func:`fired_fields` are ``fields`` (the device's count included)."""
    return FiredShots([shot_from(shot) for shot in fields["shots"]], fired=fields["fired"])


def syringe_from(fields: Mapping[str, Any]) -> Syringe:
    """The :class:`Syringe` in its plain form."""
    return from_plain(Syringe, fields)


def diagnostics_from(fields: Mapping[str, Any]) -> Diagnostics:
    """The :class:`Diagnostics` in its plain form (what ``diagnostics --json`` prints)."""
    return from_plain(Diagnostics, fields)


def event_from(kind: str, data: Mapping[str, Any]) -> Event | None:
    """The event whose :func:`event_fields` are ``(kind, data)``; ``None`` for a kind that is not a gun event (the
    service's ``connection`` and ``failsafe`` events)."""
    if kind == "status":
        return StatusEvent(status_from(data))
    if kind == "shot":
        return ShotEvent(shot_from(data))
    if kind == "alarm":
        return from_plain(AlarmEvent, data)
    if kind == "trigger":
        return from_plain(TriggerEvent, data)
    if kind == "missed":
        return MissedEvents(int(data["count"]))
    return None
