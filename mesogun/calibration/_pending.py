"""Stand-in for the part of issue 16 not yet on main: the device API (``mesogun/calibration/device.py``),
declared exactly as DESIGN-16 names it, so the procedure is written and tested against its seam.

TODO(merge): goes once protosim is on main; :mod:`mesogun.calibration.seams` is the one place that imports from
here, so the swap is one import line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

# ---------------------------------------------------------- TODO(merge): protosim, mesogun/calibration/device.py


@dataclass(frozen=True)
class DeviceCalibration:
    """The constants a technician writes to the device, and their metadata (DESIGN-16)."""

    calibration_id: int
    volume_gain_by_brand: Mapping[str, float]
    depth_offset_um: int
    depth_gain: float
    rate_gain: float
    calibrated_at: datetime | None
    due_at: datetime | None
    technician: str
    certificate_id: str


FACTORY = DeviceCalibration(0, {}, 0, 1.0, 1.0, None, None, "", "")
"""The identity calibration a device leaves the factory with (id 0)."""
