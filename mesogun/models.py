"""Plain dataclasses at the API boundary, in user units: device info, status, settings, shots and events."""

from __future__ import annotations

from dataclasses import dataclass

from firmware_protocol import AlarmCode, AlarmPriority, DeviceState, Message, Mode, ShotSource, views
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
    remote_fire: bool = True
    """The device accepts a host's ``fire`` (a device that fires from its trigger and pedal only refuses it)."""
    burst_count_max: int = 1
    """Most shots one trigger or pedal press may fire in burst mode (``Gun.set_burst_count``)."""

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
            remote_fire=bool(v.remote_fire),
            burst_count_max=v.burst_count_max,
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

    @classmethod
    def from_message(cls, m: Message) -> ShotRecord:
        """From a ``shot`` event."""
        return cls.from_view(view_as(m, views.Shot))

    @classmethod
    def from_log_entry(cls, e: views.ShotLogEntry) -> ShotRecord:
        """From an entry of the device's shot log (``recovered``; a partial stroke counts its delivered volume)."""
        dose_nl = e.delivered_nl if e.partial else e.dose_nl
        depth, dose = from_wire(DEPTH, e.depth_um), from_wire(DOSE, dose_nl)
        return cls(e.shot_index, depth, dose, e.device_time_ms / 1000, e.fire_seq, recovered=True, source=e.source)

    @classmethod
    def from_view(cls, v: views.Shot) -> ShotRecord:
        """From a ``shot`` view."""
        return cls(
            v.shot_index,
            from_wire(DEPTH, v.depth_um),
            from_wire(DOSE, v.dose_nl),
            v.device_time_ms / 1000,
            v.fire_seq,
            source=v.source,
        )


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
