"""Treatment presets by indication: starting points a practitioner adjusts within the device's limits.

Presets keep nappage at or under :data:`NAPPAGE_SOFT_MAX_DEPTH_MM` (2 mm): a soft limit of the technique,
not a device limit. ``mesogun set`` warns and asks before going deeper in nappage mode, with a preset or
without, and enters a confirmed override and its reason in the treatment record.
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
"""The soft limit of nappage depth, mm: nappage is a superficial technique (a fast series of shallow drops;
the face-nappage preset uses 1.0 mm), so deeper than this is treated as a likely mistake. It is this project's
choice, stated in the protocol reference's Mode table (docs/protocol.md), not a device limit: the device
accepts its full depth range; ``set --yes --reason`` overrides it, on record."""


def soft_limit_breach(mode: Mode, depth_mm: float) -> str | None:
    """What is beyond a soft limit in these settings (one line naming the value and the limit), or ``None``."""
    if mode is Mode.NAPPAGE and depth_mm > NAPPAGE_SOFT_MAX_DEPTH_MM:
        return (
            f"nappage at depth_mm={depth_mm:g} is deeper than its soft limit of {NAPPAGE_SOFT_MAX_DEPTH_MM:g} mm "
            "(nappage is superficial)"
        )
    return None
