"""Treatment presets by indication: starting points a practitioner adjusts within the device's limits.

Presets keep nappage at or under 2 mm (a soft limit of the technique, not a device limit).
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_protocol import Mode


@dataclass(frozen=True)
class Preset:
    """Depth, dose, rate and mode for one indication, in user units."""

    name: str
    depth_mm: float
    dose_ml: float
    rate_hz: float
    mode: Mode
    description: str


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("face", 1.5, 0.02, 4.0, Mode.BURST, "face: superficial, small drops"),
        Preset("face-nappage", 1.0, 0.005, 8.0, Mode.NAPPAGE, "face, nappage: fast superficial series"),
        Preset("scalp", 2.5, 0.05, 3.0, Mode.BURST, "scalp: medium depth"),
        Preset("body", 4.0, 0.1, 2.0, Mode.BURST, "body: deep, larger drops"),
    )
}
"""The built-in presets, by name."""

NAPPAGE_SOFT_MAX_DEPTH_MM = 2.0
"""Presets never set nappage deeper than this."""
