"""The simulated gun's physical model: the depth motor (needle stop) and what is really in the syringe.

Positions are computed from the event loop's clock at the moment they are asked for, so no task ticks.
The device itself never measures volume: it reports what it commanded (its own estimate, from its
calibration). The hidden truth - what a balance or a depth gauge would measure - lives only here and in the
ground-truth shot records, for tests and simulated instruments; it never reaches ``status`` or a shot event.
"""

from __future__ import annotations

from dataclasses import dataclass


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
        return delivered

    def empty(self) -> None:
        """The syringe ran dry (an injected ``empty`` fault)."""
        self.contents_nl = 0
