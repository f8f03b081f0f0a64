"""The procedure's one door to the metrology (:mod:`mesogun.calibration.metrology`): every figure a run computes
(Z factor, evaporation, statistics against limits, corrections within plausible bounds) is asked for here, so the
procedure does no arithmetic, plus the two rules of the procedure's own: how many small drops make one reading,
and how fine a balance must read for it (ISO 8655-6).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from firmware_protocol.rules import CALIBRATION_LIMITS, GAIN_PPM
from mesogun.calibration.metrology import (
    MIN_RATE_SPAN_S,
    Evaporation,
    check_environment,
    check_humidity_pct,
    check_pressure_hpa,
    check_temperature_c,
    corrected_depth,
    corrected_rate_gain,
    corrected_volume_gain,
    depth_series,
    evaporation_from_blank,
    fit_depth_series,
    rate_series,
    volume_series,
    z_factor,
)
from mesogun.errors import ParameterError

MULTI_SHOT_BELOW_UL = 10.0
"""Drops under this volume are weighed several to a reading (at least this much liquid per weighing)."""


def shots_per_reading(dose_ul: float) -> int:
    """Shots weighed together per reading: 1, or enough drops under 10 µL to make at least 10 µL."""
    return 1 if dose_ul >= MULTI_SHOT_BELOW_UL else math.ceil(MULTI_SHOT_BELOW_UL / dose_ul - 1e-9)


def required_readability_mg(reading_ul: float) -> float:
    """The coarsest readability that weighs ``reading_ul`` of water (ISO 8655-6 table 1), mg."""
    if reading_ul < 10:
        return 0.001
    if reading_ul < 100:
        return 0.01
    return 0.1


def depth_reading_check(set_mm: float) -> Callable[[float], None]:
    """The check of a gauge reading typed in with the needle held at ``set_mm``: within what a gun can read there
    under any plausible depth correction (gain 0.80–1.20, offset ±500 µm), so a slipped digit (15 for 1.5) is
    refused naming the range, not taken into the fit."""
    cal = CALIBRATION_LIMITS
    offset_mm = cal.depth_offset_max_um / 1000
    low = max(0.0, cal.gain_min_ppm / GAIN_PPM * set_mm - offset_mm)
    high = cal.gain_max_ppm / GAIN_PPM * set_mm + offset_mm

    def check(reading_mm: float) -> None:
        if not low <= reading_mm <= high:
            raise ParameterError(
                f"depth_reading={reading_mm:g} mm is outside {low:.2f}–{high:.2f} mm (what the gauge can read with "
                f"the needle held at {set_mm:g} mm, for any plausible depth correction)",
                field="depth_reading",
                value=reading_mm,
            )

    return check


__all__ = [
    "MIN_RATE_SPAN_S",
    "Evaporation",
    "check_environment",
    "check_humidity_pct",
    "check_pressure_hpa",
    "check_temperature_c",
    "corrected_depth",
    "corrected_rate_gain",
    "corrected_volume_gain",
    "depth_reading_check",
    "depth_series",
    "evaporation_from_blank",
    "fit_depth_series",
    "rate_series",
    "required_readability_mg",
    "shots_per_reading",
    "volume_series",
    "z_factor",
]
