"""The simulated gun's physical model: the depth motor (needle stop), what is really in the syringe, and the
line pressure and supply voltage its sensors read.

Positions are computed from the event loop's clock at the moment they are asked for, so no task ticks.
The device itself never measures volume: it reports what it commanded (its own estimate, from its
calibration). The hidden truth - what a balance or a depth gauge would measure - lives only here and in the
ground-truth shot records, for tests and simulated instruments; it never reaches ``status`` or a shot event.
Line pressure and supply voltage are different: the device has sensors for them and reports their readings in
``diagnostics``, consistent with the faults (an occlusion traps pressure in the line, a brown-out is a dip in the
supply).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class DepthMotor:
    """The needle-stop motor: moves at a constant speed from where it is to its target."""

    speed_um_s: float
    start_um: float
    target_um: float
    start_time: float = 0.0

    def position(self, now: float) -> float:
        """Where the stop is at loop time ``now`` (µm)."""
        travelled = self.speed_um_s * max(now - self.start_time, 0.0)
        distance = self.target_um - self.start_um
        if travelled >= abs(distance):
            return self.target_um
        return self.start_um + (travelled if distance > 0 else -travelled)

    def arrival(self) -> float:
        """Loop time at which the stop reaches its target."""
        return self.start_time + abs(self.target_um - self.start_um) / self.speed_um_s

    def moving(self, now: float) -> bool:
        """Whether the stop is still on its way (firing is refused meanwhile).

        Within half a micrometre counts as arrived: status reports whole µm, and a host that saw the reported
        depth equal its target must not then be refused as busy.
        """
        return round(self.position(now)) != round(self.target_um)

    def move_to(self, target_um: float, now: float) -> None:
        """Start moving to ``target_um`` from wherever the stop is now."""
        self.start_um = self.position(now)
        self.target_um = target_um
        self.start_time = now

    def halt(self, now: float) -> None:
        """Stop where it is (emergency stop, stall, power loss)."""
        here = self.position(now)
        self.start_um = self.target_um = here
        self.start_time = now


def delivered_nl(dose_nl: int, volume_gain: float) -> int:
    """Volume really pushed out for a commanded volume, given the hidden calibration gain."""
    return round(dose_nl * volume_gain)


@dataclass
class Syringe:
    """What is physically in the syringe (nL), as a balance would weigh it: the hidden truth, never reported.

    It drains by the *delivered* volume (commanded x hidden gain), while the device's own reservoir estimate
    drains by the commanded volume. A brown-out does not change it (the liquid stays where it is).
    """

    contents_nl: int = 0
    outflow: list[Callable[[int], None]] = field(default_factory=list)
    """Called with the true volume (nL) each time liquid leaves the needle (a shot, a partial one, priming), at
    the moment it leaves: how a simulated vessel on a simulated balance receives what the gun truly delivered."""

    def load(self, fill_nl: int) -> None:
        """A syringe holding ``fill_nl`` was loaded."""
        self.contents_nl = fill_nl

    def holds(self, commanded_nl: int, volume_gain: float) -> bool:
        """Whether the plunger can push out ``commanded_nl`` before it bottoms out."""
        return self.contents_nl >= delivered_nl(commanded_nl, volume_gain)

    def push(self, commanded_nl: int, volume_gain: float) -> int:
        """Push ``commanded_nl`` (as the device commands it); return the volume really delivered."""
        delivered = min(delivered_nl(commanded_nl, volume_gain), self.contents_nl)
        self.contents_nl -= delivered
        for listener in tuple(self.outflow):
            listener(delivered)
        return delivered

    def empty(self) -> None:
        """The syringe ran dry (an injected ``empty`` fault)."""
        self.contents_nl = 0


LINE_PRESSURE_STROKE_KPA = 60
"""Line pressure while the plunger pushes a dose through an open needle (gauge, kPa)."""
LINE_PRESSURE_OCCLUDED_KPA = 420
"""Line pressure trapped behind a blocked needle: above the occlusion threshold, until the needle is cleared."""


@dataclass
class FluidLine:
    """The line from the syringe to the needle, as its pressure sensor reads it (gauge, kPa)."""

    occluded: bool = False
    """The needle is blocked (an ``occlusion`` fault); cleared with the occlusion alarm."""

    def pressure_kpa(self, *, stroking: bool) -> int:
        """The pressure now: trapped high while occluded, raised during a stroke, else 0 (atmospheric)."""
        if self.occluded:
            return LINE_PRESSURE_OCCLUDED_KPA
        return LINE_PRESSURE_STROKE_KPA if stroking else 0


SUPPLY_NOMINAL_MV = 5000
"""The supply voltage (the gun is powered from its USB port)."""
SUPPLY_STROKE_SAG_MV = 150
"""How far the supply sags while the plunger motor draws current."""
SUPPLY_BROWNOUT_MV = 4100
"""Where a brown-out leaves the supply: below the device's 4.3 V reset threshold, so it reboots."""
SUPPLY_RECOVERY_S = 2.0
"""Seconds the supply takes to climb back from a brown-out dip to nominal (linearly)."""


@dataclass
class Supply:
    """The power supply, as the device's voltage sensor reads it (mV)."""

    dip_at: float | None = None
    """Loop time of the last brown-out dip, if any."""

    def dip(self, now: float) -> None:
        """A brown-out: the supply drops to :data:`SUPPLY_BROWNOUT_MV` now and recovers from there."""
        self.dip_at = now

    def voltage_mv(self, now: float, *, stroking: bool) -> int:
        """The supply voltage at loop time ``now``."""
        level = float(SUPPLY_NOMINAL_MV)
        if self.dip_at is not None and now - self.dip_at < SUPPLY_RECOVERY_S:
            recovered = max(now - self.dip_at, 0.0) / SUPPLY_RECOVERY_S
            level = SUPPLY_BROWNOUT_MV + (SUPPLY_NOMINAL_MV - SUPPLY_BROWNOUT_MV) * recovered
        return round(level - (SUPPLY_STROKE_SAG_MV if stroking else 0))
