"""A read-only snapshot of the simulated gun's state, for tests and benchmarks (instead of private attributes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from firmware_protocol import AlarmCode, DeviceState, Mode
from sims.core import CommandRecord, StopMark, WatchdogTrip
from sims.nvm import FACTORY_CALIBRATION, StoredCalibration


@dataclass(frozen=True)
class FiringSnapshot:
    """The burst in progress."""

    fire_seq: int
    """Seq of the last fire command executed."""
    shots_remaining: int
    """Shots left in a bounded burst (0 if none)."""
    unbounded: bool
    """The burst fires until stop."""
    in_stroke: bool
    """A plunger stroke is under way."""
    stroke_scheduled: bool
    """A stroke timer is pending (only while firing, if the device is consistent)."""


@dataclass(frozen=True)
class DeviceSnapshot:
    """What the device holds at one instant: state, parameters, motor, syringe, counters, alarms, stops."""

    state: DeviceState
    depth_um: int
    dose_nl: int
    rate_mhz: int
    mode: Mode
    needle_depth_um: int
    """Where the depth stop is now (as the device believes: after its calibration, without the hidden error)."""
    motor_target_um: int
    motor_moving: bool
    syringe_capacity_nl: int
    reservoir_nl: int
    """What the device believes the syringe holds (its estimate, as ``status`` reports it)."""
    true_reservoir_nl: int
    """What is really in the syringe (the simulator's hidden truth, as a balance would weigh it; never reported)."""
    primed: bool
    shots_session: int
    shots_lifetime: int
    active_alarms: tuple[AlarmCode, ...]
    """Alarms latched now, in the order they were raised."""
    incompatible_session: bool
    """The last hello's version or fingerprint differed: only hello and emergency_stop are carried out."""
    firing: FiringSnapshot
    monotonic: float
    """``time.monotonic()`` when the snapshot was taken."""
    loop_time: float
    """The device's (event loop's) clock when the snapshot was taken."""
    boot_loop_time: float
    """The device's clock at the last power-on."""
    device_time_ms: int
    """Milliseconds since the last power-on."""
    last_stop: StopMark | None
    """The last ``stop`` executed, if any."""
    last_emergency_stop: StopMark | None
    """The last ``emergency_stop`` that halted the device, if any."""
    last_watchdog_trip: WatchdogTrip | None
    """The last time the communication watchdog tripped, if any."""
    executions: tuple[CommandRecord, ...]
    """Every state-changing command executed since this object was created, in order (replays excluded): how
    many times each command the host sent really ran (for exactly-once audits; never on the wire)."""
    replays: tuple[CommandRecord, ...]
    """Every repeat answered from the replay cache without executing, in order."""
    executed: Mapping[str, int]
    """Commands executed and acknowledged, by name (duplicates answered from the cache not counted)."""
    refused: Mapping[str, int]
    """Commands refused by their state rule or a check, by name."""
    frames_in: int
    duplicates: int
    boots: int
    calibration: StoredCalibration = FACTORY_CALIBRATION
    """The device calibration in force (NVM)."""
    next_calibration_id: int = 1
    """The id the next write_calibration gets (NVM)."""
    syringe_brand: str = ""
    """The loaded syringe's declared brand (RAM; "": unknown)."""
    held_depth_um: int | None = None
    """The depth a hold_depth holds the needle at (``None``: no hold)."""
    true_needle_depth_um: float = 0.0
    """Where the needle tip truly is (the hidden truth a depth gauge reads; never reported)."""
