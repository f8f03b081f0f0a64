"""The simulated gun's configuration: hard limits, timing, physics and its hidden physical truth.

Plain frozen dataclasses; every number is in the unit its name says. Defaults are the reference device;
its hard limits, periods, power-on values and motion speeds come from :mod:`firmware_protocol.rules`
(:data:`~firmware_protocol.rules.REFERENCE_LIMITS`, :data:`~firmware_protocol.rules.REFERENCE_MODEL`;
:class:`Limits` is re-exported).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from firmware_protocol import CATALOG, FINGERPRINT, PROTOCOL_VERSION, Mode
from firmware_protocol.families import CORE
from firmware_protocol.rules import REFERENCE_MODEL, REFERENCE_STATUS_PERIOD_MS, REFERENCE_WATCHDOG_MS, Limits

__all__ = ["SIM_FIRMWARE_VERSION", "DeviceConfig", "HiddenTruth", "Limits", "Physics"]

SIM_FIRMWARE_VERSION = "0.1.0"
"""Firmware version the simulated device reports in ``identity``."""


def _further_families() -> dict[str, int]:
    """The catalog's families other than the core, with their fingerprints (the simulator implements them all)."""
    return {name: value for name, value in CATALOG.family_fingerprints.items() if name != CORE.name}


@dataclass(frozen=True)
class Physics:
    """How fast things move: depth motor, plunger and priming flow."""

    motor_speed_um_s: float = float(REFERENCE_MODEL.depth_speed_um_s)
    """Depth motor speed (5 mm/s): firing is refused while the needle stop moves."""
    plunger_min_ms: float = float(REFERENCE_MODEL.stroke_min_ms)
    """Plunger stroke time of a dose of 0 nL."""
    plunger_max_ms: float = float(REFERENCE_MODEL.stroke_max_ms)
    """Plunger stroke time of the largest dose; must fit in the shortest shot period."""
    prime_rate_nl_s: float = float(REFERENCE_MODEL.prime_rate_nl_s)
    """Priming flow (50 µL/s): priming 100 µL takes 2 s."""
    low_reservoir_doses: int = REFERENCE_MODEL.low_reservoir_doses
    """Raise ``reservoir_low`` when fewer than this many doses are left."""

    def plunger_s(self, dose_nl: int, dose_max_nl: int) -> float:
        """Stroke time of one dose, linear in the dose between the min and max stroke times (the formula of
        :meth:`firmware_protocol.rules.DeviceModel.stroke_ms`)."""
        fraction = min(max(dose_nl / dose_max_nl, 0.0), 1.0)
        return (self.plunger_min_ms + (self.plunger_max_ms - self.plunger_min_ms) * fraction) / 1000.0


@dataclass(frozen=True)
class HiddenTruth:
    """The simulated hardware's hidden error: what a calibration must find (the hardware, not NVM).

    The device cannot see it; it applies its own calibration (NVM, :class:`sims.nvm.StoredCalibration`, factory:
    the identity), so an uncalibrated gun delivers +3 % and reaches 80 µm deeper than set.
    """

    volume_gain: float = 1.03
    """True volume / volume pushed, for a brand without an override (and an undeclared brand)."""
    volume_gain_by_brand: Mapping[str, float] = field(default_factory=dict)
    """Per syringe brand (as ``set_syringe_brand`` declares it), overriding :attr:`volume_gain`."""
    depth_offset_um: float = 80.0
    """True depth = :attr:`depth_gain` × motor position + this (µm)."""
    depth_gain: float = 1.0
    """True depth per µm of motor position."""
    rate_gain: float = 1.0
    """True firing rate / the rate the device's timer runs at; the device's clock (``device_time_ms``) runs at the
    same wrong speed, so its own timestamps cannot show it (only a host clock can)."""

    def volume_gain_for(self, brand: str) -> float:
        """The true volume gain of a syringe of ``brand`` ("": undeclared, the default gain)."""
        return self.volume_gain_by_brand.get(brand, self.volume_gain)

    def depth_um(self, motor_um: float) -> float:
        """Where the needle tip truly is for a motor position (µm)."""
        return self.depth_gain * motor_um + self.depth_offset_um


@dataclass(frozen=True)
class DeviceConfig:
    """Everything that makes one simulated gun: identity, limits, timing, physics, its hidden truth."""

    serial_number: str | None = None
    """Serial number of a new NVM; ``None``: derived from the board's random hardware id (distinct per simulator)."""
    model: str = "MG-1 (simulated)"
    hardware_revision: str = "SIM-A"
    firmware_version: str = SIM_FIRMWARE_VERSION
    protocol_version: int = PROTOCOL_VERSION
    fingerprint: int = FINGERPRINT
    """Core family fingerprint the device reports and expects (override to test a mismatch)."""
    family_fingerprints: Mapping[str, int] = field(default_factory=_further_families)
    """Each further family the device implements → the fingerprint it reports in identity.families."""
    limits: Limits = field(default_factory=Limits)
    watchdog_ms: int = REFERENCE_WATCHDOG_MS
    status_period_ms: int = REFERENCE_STATUS_PERIOD_MS
    """Period of unsolicited status messages; 0 turns them off."""
    physics: Physics = field(default_factory=Physics)
    hidden_truth: HiddenTruth = field(default_factory=HiddenTruth)
    """The hardware's hidden error (the device's own calibration is in NVM)."""
    replay_window: int = 128
    """How many recent sequence numbers the exactly-once reply cache remembers."""
    initial_lifetime: int = 0
    """Lifetime counter of a new NVM (a board that has fired before; near 2**32 to test the wrap-around)."""
    shot_log_capacity: int = 10_000
    """How many of its last shots the device's shot log keeps (``get_shot_log``)."""
    boot_depth_um: int = REFERENCE_MODEL.power_on_depth_um
    boot_dose_nl: int = REFERENCE_MODEL.power_on_dose_nl
    boot_rate_mhz: int = REFERENCE_MODEL.power_on_rate_mhz
    boot_mode: Mode = REFERENCE_MODEL.power_on_mode
    boot_burst_count: int = REFERENCE_MODEL.power_on_burst_count
    remote_fire: bool = True
    """Whether the device accepts a host's ``fire`` (``identity.remote_fire``); a clinical configuration that
    fires from its trigger and pedal only refuses it with ``remote_fire_disabled``."""
    firmware_key: bytes | None = None
    """The public key firmware images must be signed with (ed25519: PEM, DER or 32 raw bytes), pinned in the
    bootloader; ``None``: none pinned, so every update is refused (the simulator never generates one)."""
    factory_image: bytes | None = None
    """The signed MCUboot image slot 0 holds on a new board (trusted as flashed); ``None``: an unsigned image of
    :attr:`firmware_version` built by the simulator."""
    firmware_slot_size: int = 128 * 1024
    """Bytes of each of the two image slots (a whole number of flash sectors)."""
    flash_sector_size: int = 4096
    """Bytes of one flash sector: what an erase clears and a swap moves at a time."""
    self_test_ms: int = 500
    """How long after boot the running image's self-test ends: passing, it confirms the image itself."""
