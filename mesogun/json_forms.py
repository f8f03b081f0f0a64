"""The JSON form of the boundary types, in user units: one place for what ``--json`` prints and the gun service
sends, so the CLI without a service and the CLI through one (and the tablet, and scripts) see the same fields."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from mesogun.models import (
    AlarmEvent,
    Event,
    FiredShots,
    GunInfo,
    MissedEvents,
    ShotEvent,
    ShotRecord,
    Status,
    StatusEvent,
    TriggerEvent,
)
from mesogun.units import DEPTH, DOSE, RATE, from_wire


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
    }


def status_fields(status: Status) -> dict[str, Any]:
    """What ``status --json`` prints, in user units (shots_lifetime included)."""
    fields: dict[str, Any] = plain(status)
    settings = fields.pop("settings")
    return {"state": fields.pop("state"), **settings, **fields}


def shot_fields(shot: ShotRecord) -> dict[str, Any]:
    """One shot in user units (index, depth_mm, dose_ml, device_time, fire_seq, recovered, source: trigger, pedal
    or remote, partial, delivered_ml, host_id)."""
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
