"""Plain dataclasses at the API boundary, in user units: device info, status, settings, shots, events and
diagnostics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from firmware_protocol import AlarmCode, AlarmPriority, DecoderStats, DeviceState, Message, Mode, ShotSource, views
from firmware_protocol.views import view, view_as
from mesogun.units import DEPTH, DOSE, RATE, WireRange, from_wire, volume

_ML = volume("volume_ml")


@dataclass(frozen=True)
class Limits:
    """The device's hard limits in wire units, exactly as it reported them in ``identity``."""

    depth_um: WireRange
    dose_nl: WireRange
    rate_mhz: WireRange
    modes: tuple[Mode, ...]
    syringe_sizes_nl: tuple[int, ...]


@dataclass(frozen=True)
class GunInfo:
    """Who the device is and what it can do (from its ``identity`` reply)."""

    model: str
    serial_number: str
    hardware_revision: str
    firmware_version: str
    protocol_version: int
    fingerprint: int
    limits: Limits
    watchdog_ms: int
    status_period_ms: int
    hardware_id: str = ""
    """The board's unique id: never changes, never reused (unlike a serial number, which a board may share)."""
    counter_epoch: int = 0
    """The lifetime counter's epoch id: a new one whenever the device's lifetime counter was reset."""
    families: tuple[tuple[int, int], ...] = ()
    """The further message families the device implements: (first type id of the family, its fingerprint)."""
    remote_fire: bool = True
    """The device accepts a host's ``fire`` (a device that fires from its trigger and pedal only refuses it)."""
    burst_count_max: int = 1
    """Most shots one trigger or pedal press may fire in burst mode (``Gun.set_burst_count``)."""
    calibration_id: int = 0
    """The id of the calibration in force on the device (0: factory, never calibrated, or an older device)."""

    @property
    def depth_range_mm(self) -> tuple[float, float]:
        """Shallowest and deepest needle depth, mm."""
        return from_wire(DEPTH, self.limits.depth_um.min), from_wire(DEPTH, self.limits.depth_um.max)

    @property
    def dose_range_ml(self) -> tuple[float, float]:
        """Smallest and largest drop volume, mL."""
        return from_wire(DOSE, self.limits.dose_nl.min), from_wire(DOSE, self.limits.dose_nl.max)

    @property
    def rate_range_hz(self) -> tuple[float, float]:
        """Slowest and fastest firing rate, shots/s."""
        return from_wire(RATE, self.limits.rate_mhz.min), from_wire(RATE, self.limits.rate_mhz.max)

    @property
    def syringe_sizes_ml(self) -> tuple[float, ...]:
        """Syringe capacities the device accepts, mL."""
        return tuple(from_wire(_ML, s) for s in self.limits.syringe_sizes_nl)

    @classmethod
    def from_identity(cls, m: Message) -> GunInfo:
        """Build from an ``identity`` message."""
        return cls.from_view(view_as(m, views.Identity))

    @classmethod
    def from_view(cls, v: views.Identity) -> GunInfo:
        """Build from an ``identity`` view."""
        return cls(
            model=v.model,
            serial_number=v.serial_number,
            hardware_revision=v.hardware_revision,
            firmware_version=v.firmware_version,
            protocol_version=v.protocol_version,
            fingerprint=v.fingerprint,
            limits=Limits(
                depth_um=WireRange(v.depth_min_um, v.depth_max_um, max(1, v.depth_step_um)),
                dose_nl=WireRange(v.dose_min_nl, v.dose_max_nl, max(1, v.dose_step_nl)),
                rate_mhz=WireRange(v.rate_min_mhz, v.rate_max_mhz, max(1, v.rate_step_mhz)),
                modes=tuple(v.modes),
                syringe_sizes_nl=tuple(v.syringe_sizes_nl),
            ),
            watchdog_ms=v.watchdog_ms,
            status_period_ms=v.status_period_ms,
            hardware_id=v.hardware_id,
            counter_epoch=v.counter_epoch,
            families=tuple((f.family, f.fingerprint) for f in v.families),
            remote_fire=bool(v.remote_fire),
            burst_count_max=v.burst_count_max,
            calibration_id=v.calibration_id,
        )


@dataclass(frozen=True)
class Settings:
    """Firing parameters in user units (what ``configure`` applied, as the device echoed them)."""

    depth_mm: float
    dose_ml: float
    rate_hz: float
    mode: Mode

    @classmethod
    def from_message(cls, m: Message) -> Settings:
        """From an ``ack`` of ``set_parameters`` (the values it echoes) or a ``status``."""
        v = view(m)
        if isinstance(v, views.Ack):
            v = v.echo  # type: ignore[assignment]
        if not isinstance(v, views.SetParameters | views.Status):
            raise TypeError(f"{m.name} message carries no firing parameters")
        return cls.from_view(v)

    @classmethod
    def from_view(cls, v: views.SetParameters | views.Status) -> Settings:
        """From the view of a ``set_parameters`` (or the ack echoing it) or a ``status``."""
        return cls(from_wire(DEPTH, v.depth_um), from_wire(DOSE, v.dose_nl), from_wire(RATE, v.rate_mhz), v.mode)


@dataclass(frozen=True)
class Syringe:
    """A loaded syringe as the device accepted it."""

    capacity_ml: float
    fill_ml: float
    brand: str | None = None
    """The brand declared to the device with the load (``None``: none declared, or a device without the
    calibration family)."""
    warnings: tuple[str, ...] = ()
    """Why its doses go uncorrected (a brand the volume-calibrated gun has no gain for); never a refusal."""


@dataclass(frozen=True)
class Status:
    """The device's state as it last reported it, in user units."""

    state: DeviceState
    settings: Settings
    needle_depth_mm: float
    syringe_capacity_ml: float
    reservoir_ml: float
    primed: bool
    shots_session: int
    shots_lifetime: int
    shots_remaining: int
    device_time: float
    """Seconds since the device powered on."""
    active_alarms: tuple[AlarmCode, ...]
    reservoir_nl: int
    """The reservoir in wire units (for exact comparisons)."""
    depth_um: int
    """The set depth in wire units."""
    dose_nl: int
    """The set dose in wire units."""
    rate_mhz: int
    """The set rate in wire units."""
    needle_depth_um: int
    """Where the needle stop is now, in wire units."""

    @classmethod
    def from_message(cls, m: Message) -> Status:
        """From a ``status`` message."""
        return cls.from_view(view_as(m, views.Status))

    @classmethod
    def from_view(cls, v: views.Status) -> Status:
        """From a ``status`` view."""
        return cls(
            state=v.state,
            settings=Settings(
                from_wire(DEPTH, v.depth_um), from_wire(DOSE, v.dose_nl), from_wire(RATE, v.rate_mhz), v.mode
            ),
            needle_depth_mm=from_wire(DEPTH, v.needle_depth_um),
            syringe_capacity_ml=from_wire(_ML, v.syringe_capacity_nl),
            reservoir_ml=from_wire(_ML, v.reservoir_nl),
            primed=bool(v.primed),
            shots_session=v.shots_session,
            shots_lifetime=v.shots_lifetime,
            shots_remaining=v.shots_remaining,
            device_time=v.device_time_ms / 1000,
            active_alarms=tuple(v.active_alarms),
            reservoir_nl=v.reservoir_nl,
            depth_um=v.depth_um,
            dose_nl=v.dose_nl,
            rate_mhz=v.rate_mhz,
            needle_depth_um=v.needle_depth_um,
        )


def fired_by_other_host(stamp: int, own_host_id: int) -> bool:
    """Whether a shot stamped with host id ``stamp`` was fired by a session of another host than ``own_host_id``
    (0 is no session: a switch pressed while no host was connected, or a device older than host ids)."""
    return stamp != 0 and stamp != own_host_id


@dataclass(frozen=True)
class ShotRecord:
    """One delivered shot: its lifetime index, what the device measured, and when (device seconds)."""

    index: int
    depth_mm: float
    dose_ml: float
    device_time: float
    fire_seq: int
    """Sequence number of the ``fire`` command this shot belongs to."""
    recovered: bool = False
    """The shot's event never arrived: its details were read back from the device's shot log."""
    source: ShotSource = ShotSource.REMOTE
    """What fired it: the handpiece trigger, the foot pedal, or a host's ``fire`` (remote; ``fire_seq`` is then
    that command's seq, else 0)."""
    partial: bool = False
    """The stroke was cut short by an alarm (or an emergency stop) after the plunger started moving."""
    delivered_ml: float = -1.0
    """The device's estimate of what left, the volume to add up: :attr:`dose_ml` for a whole shot (a negative
    value given, the default, is replaced by it), less for a partial one."""

    host_id: int = 0
    """The host id the device stamped on it: the session open when it was fired (0: none, or an older device)."""
    calibration_id: int = 0
    """The id of the device calibration in force when it was fired (0: factory, never calibrated, or an older
    device)."""

    def __post_init__(self) -> None:
        if self.delivered_ml < 0:
            object.__setattr__(self, "delivered_ml", self.dose_ml)

    def fired_by_other_host(self, own_host_id: int) -> bool:
        """Whether another host's session fired it (not the host whose id is ``own_host_id``)."""
        return fired_by_other_host(self.host_id, own_host_id)

    @classmethod
    def from_message(cls, m: Message) -> ShotRecord:
        """From a ``shot`` event."""
        return cls.from_view(view_as(m, views.Shot))

    @classmethod
    def from_log_entry(cls, e: views.ShotLogEntry) -> ShotRecord:
        """From an entry of the device's shot log (``recovered``)."""
        return cls._from_wire(e, recovered=True)

    @classmethod
    def from_view(cls, v: views.Shot) -> ShotRecord:
        """From a ``shot`` view."""
        return cls._from_wire(v, recovered=False)

    @classmethod
    def _from_wire(cls, v: views.Shot | views.ShotLogEntry, *, recovered: bool) -> ShotRecord:
        """A shot event and a shot-log entry carry the same fields: one conversion to user units for both."""
        return cls(
            v.shot_index,
            from_wire(DEPTH, v.depth_um),
            from_wire(DOSE, v.dose_nl),
            v.device_time_ms / 1000,
            v.fire_seq,
            recovered=recovered,
            source=v.source,
            partial=v.partial,
            delivered_ml=_delivered_ml(v.partial, v.delivered_nl, v.dose_nl),
            host_id=v.host_id,
            calibration_id=v.calibration_id,
        )


def _delivered_ml(partial: bool, delivered_nl: int, dose_nl: int) -> float:
    """What a shot put in, in mL: its ``delivered_nl`` if partial, else its dose (a whole shot; an older device
    sends no ``delivered_nl``)."""
    return from_wire(DOSE, delivered_nl if partial else dose_nl)


class FiredShots(list[ShotRecord]):
    """What ``fire()`` returns: every shot the device fired for it, in index order, those whose event was lost
    read back from the device's shot log (``recovered``), with the device's own count.

    A plain list of :class:`ShotRecord` to code that only iterates; :attr:`fired` is the device's count, and
    :attr:`unreceived` the shots it fired whose details the host could not get (their event was lost and the
    device's log no longer holds them, or the link went before they could be read). ``fire()`` also warns
    with :class:`~mesogun.errors.ShotsNotReceived` when :attr:`unreceived` is not 0, so it cannot go unnoticed.
    """

    def __init__(self, shots: list[ShotRecord], *, fired: int) -> None:
        super().__init__(shots)
        self.fired = max(fired, len(shots))
        """Shots the device fired for this command (its own count)."""

    @property
    def recovered(self) -> int:
        """Shots whose details came from the device's shot log (their event was lost on the line)."""
        return sum(1 for shot in self if shot.recovered)

    @property
    def unreceived(self) -> int:
        """Shots the device fired for this command whose details the host does not have."""
        return self.fired - len(self)

    def __repr__(self) -> str:
        return f"FiredShots({list.__repr__(self)}, fired={self.fired}, unreceived={self.unreceived})"


@dataclass(frozen=True)
class StatusEvent:
    """The device pushed its status (every status_period_ms)."""

    status: Status


@dataclass(frozen=True)
class ShotEvent:
    """The device delivered a shot."""

    shot: ShotRecord


@dataclass(frozen=True)
class AlarmEvent:
    """An alarm was raised (``raised=True``) or cleared."""

    code: AlarmCode
    priority: AlarmPriority
    raised: bool
    device_time: float

    @classmethod
    def from_message(cls, m: Message) -> AlarmEvent:
        """From an ``alarm`` event."""
        return cls.from_view(view_as(m, views.Alarm))

    @classmethod
    def from_view(cls, v: views.Alarm) -> AlarmEvent:
        """From an ``alarm`` view."""
        return cls(v.code, v.priority, bool(v.raised), v.device_time_ms / 1000)


@dataclass(frozen=True)
class DeviceLinkCounters:
    """The device's side of the link, as it counted it since its last power-on (a brown-out restarts them)."""

    frames_received: int
    frames_sent: int
    crc_errors: int
    framing_errors: int
    """Frames dropped as truncated, of a bad length or oversize."""
    bytes_discarded: int
    """Bytes dropped while resynchronising (noise, a frame whose head was lost)."""
    replays: int
    """Repeated commands (the host's retries) answered from the device's replay cache without acting again."""
    bad_payloads: int
    """Commands the device refused with ``bad_payload``."""


@dataclass(frozen=True)
class HostLinkCounters:
    """The host's side of the link, as this connection counted it since it opened."""

    frames_received: int
    frames_sent: int
    crc_errors: int
    framing_errors: int
    bytes_discarded: int
    retries: int
    """Commands re-sent because no reply came in time."""
    timeouts: int
    """Commands that got no reply after every attempt."""
    bad_messages: int
    """Valid frames whose message did not decode."""

    @classmethod
    def from_link(cls, frames_sent: int, retries: int, timeouts: int, bad_messages: int, stats: DecoderStats) -> Self:
        """From a link's counters and its stream decoder's."""
        return cls(
            frames_received=stats.frames,
            frames_sent=frames_sent,
            crc_errors=stats.crc_errors,
            framing_errors=stats.truncated + stats.bad_length + stats.oversize,
            bytes_discarded=stats.garbage_bytes,
            retries=retries,
            timeouts=timeouts,
            bad_messages=bad_messages,
        )


@dataclass(frozen=True)
class PlungerHealth:
    """The plunger's strokes since the device's power-on, as it timed them, and its stalls over its life."""

    strokes: int
    last_stroke_ms: float
    mean_stroke_ms: float
    max_stroke_ms: float
    stalls: int
    """Motor stalls over the device's life (non-volatile)."""


@dataclass(frozen=True)
class AlarmChange:
    """One entry of the device's alarm log: an alarm raised or cleared, during which boot, at what device time."""

    code: AlarmCode
    priority: AlarmPriority
    raised: bool
    boot: int
    """The device's boot count then: ``device_time`` is on that power-on's clock."""
    device_time: float
    """Seconds since that power-on."""


@dataclass(frozen=True)
class Diagnostics:
    """What a technician reads: both sides' link counters, plunger health, line pressure, supply, uptime, boots
    and the device's last alarms, in user units (s, ms, kPa, V). Every figure but :attr:`host_link` is the
    device's own."""

    uptime: float
    """Seconds since the device's last power-on."""
    boot_count: int
    """Power-ons over the device's life, brown-outs included."""
    line_pressure_kpa: int
    """Line pressure now, gauge (above atmospheric)."""
    supply_v: float
    """Supply voltage now."""
    plunger: PlungerHealth
    device_link: DeviceLinkCounters
    host_link: HostLinkCounters
    alarms: tuple[AlarmChange, ...]
    """The device's last alarm changes, oldest first."""

    @classmethod
    def from_view(cls, v: views.Diagnostics, host_link: HostLinkCounters) -> Diagnostics:
        """From a ``diagnostics`` view and the host link's own counters."""
        return cls(
            uptime=v.uptime_ms / 1000,
            boot_count=v.boot_count,
            line_pressure_kpa=v.line_pressure_kpa,
            supply_v=v.supply_mv / 1000,
            plunger=PlungerHealth(
                v.strokes, v.stroke_last_us / 1000, v.stroke_mean_us / 1000, v.stroke_max_us / 1000, v.plunger_stalls
            ),
            device_link=DeviceLinkCounters(
                v.frames_received,
                v.frames_sent,
                v.crc_errors,
                v.framing_errors,
                v.bytes_discarded,
                v.replays,
                v.bad_payloads,
            ),
            host_link=host_link,
            alarms=tuple(AlarmChange(a.code, a.priority, a.raised, a.boot, a.device_time_ms / 1000) for a in v.alarms),
        )


@dataclass(frozen=True)
class TriggerEvent:
    """The handpiece trigger or the foot pedal was pressed (and the device fires for it) or released."""

    source: ShotSource
    pressed: bool
    device_time: float
    """Device seconds since power-on."""

    @classmethod
    def from_message(cls, m: Message) -> TriggerEvent:
        """From a ``trigger`` event."""
        v = view_as(m, views.Trigger)
        return cls(v.source, bool(v.pressed), v.device_time_ms / 1000)


@dataclass(frozen=True)
class MissedEvents:
    """This subscriber fell behind and ``count`` older events were dropped for it (others were not affected)."""

    count: int


Event = StatusEvent | ShotEvent | AlarmEvent | TriggerEvent | MissedEvents
"""Everything :meth:`mesogun.session.gun.Gun.events` yields."""
