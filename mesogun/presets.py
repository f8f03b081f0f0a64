"""Treatment presets by indication (kept importable from here for ``mesogun set`` and API users): they live in
:mod:`mesogun.clinic.presets` with their soft limits, checked by :mod:`mesogun.clinic.limits`."""

from __future__ import annotations

from firmware_protocol import Mode
from mesogun.clinic.limits import breaches
from mesogun.clinic.presets import NAPPAGE_SOFT_MAX_DEPTH_MM, PRESETS, Preset

__all__ = ["NAPPAGE_SOFT_MAX_DEPTH_MM", "PRESETS", "Preset", "soft_limit_breach"]


def soft_limit_breach(mode: Mode, depth_mm: float) -> str | None:
    """What is beyond a soft limit in these settings (one line naming the value and the limit), or ``None``:
    :func:`mesogun.clinic.limits.breaches` for a mode and depth, with no preset."""
    found = breaches(None, mode, depth_mm)
    return found[0].message if found else None
