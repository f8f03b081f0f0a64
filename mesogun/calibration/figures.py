"""The procedure's one door to the metrology: every figure a run computes (Z factor, evaporation, statistics
against limits, corrections within plausible bounds) is asked for here, so the procedure does no arithmetic.

TODO(merge): metrology. Until ``mesogun/calibration/metrology.py`` is on main these are minimal private versions
with its names and signatures (the Z factor from Tanaka's water density and a simple air density; the expanded
uncertainty from the mean's standard error and the instrument's resolution, without ``uncertainties``); then
each name here becomes the metrology's and nothing else changes.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from mesogun.calibration.seams import Environment, Limits, SeriesResult
from mesogun.errors import ParameterError

COVERAGE_FACTOR = 2.0
TEMPERATURE_RANGE_C = (15.0, 30.0)
"""The laboratory temperatures a run accepts (ISO 8655-6's Z-factor table)."""
PRESSURE_RANGE_HPA = (800.0, 1060.0)
HUMIDITY_RANGE_PCT = (0.0, 100.0)
GAIN_BOUNDS = (0.80, 1.20)
"""Plausible gains (volume, depth, rate): a correction outside is a fault to find, not a constant to write."""
OFFSET_LIMIT_UM = 500
"""Largest plausible depth offset, µm either way."""
MULTI_SHOT_BELOW_UL = 10.0
"""Drops under this volume are weighed several to a reading (at least this much liquid per weighing)."""
MIN_RATE_SPAN_S = 60.0
"""A rate is measured over at least this long on the host's clock."""
REFERENCE_DENSITY_KG_M3 = 8000.0
"""Density of the balance's adjustment weights (steel), in the Z factor's buoyancy term."""
VOLUME_LIMITS = Limits(systematic_pct=1.0, random_pct=0.5, source="issue 16: a 20 µL pipette's ±1 % / 0.5 %")
DEPTH_LIMITS = Limits(systematic_abs=50.0, source="issue 16: ±0.05 mm")
RATE_LIMITS = Limits(systematic_pct=1.0, source="issue 16: ±1 %")


def _within(name: str, value: float, bounds: tuple[float, float], unit: str) -> None:
    low, high = bounds
    if not (math.isfinite(value) and low <= value <= high):
        raise ParameterError(
            f"{name}={value:g} {unit} is outside the limit {low:g}–{high:g} {unit}", field=name, value=value
        )


def check_environment(environment: Environment) -> None:
    """:class:`ParameterError` naming the field outside its limit (15–30 °C, 800–1060 hPa, 0–100 %)."""
    _within("temperature_c", environment.temperature_c, TEMPERATURE_RANGE_C, "°C")
    _within("pressure_hpa", environment.pressure_hpa, PRESSURE_RANGE_HPA, "hPa")
    _within("humidity_pct", environment.humidity_pct, HUMIDITY_RANGE_PCT, "%")


def water_density_kg_m3(temperature_c: float) -> float:
    """Air-free water (Tanaka et al., 2001)."""
    t = temperature_c
    return 999.97495 * (1 - (t - 3.983035) ** 2 * (t + 301.797) / (522528.9 * (t + 69.34881)))


def air_density_kg_m3(temperature_c: float, pressure_hpa: float, humidity_pct: float = 50.0) -> float:
    """Moist air (the CIPM formula's usual approximation)."""
    t = temperature_c
    return (0.34848 * pressure_hpa - 0.009 * humidity_pct * math.exp(0.061 * t)) / (273.15 + t)


def z_factor(temperature_c: float, pressure_hpa: float) -> float:
    """µL per mg of water weighed (ISO 8655-6; 1.0029 at 20 °C, 1013 hPa)."""
    check_environment(Environment(temperature_c, pressure_hpa, 50.0))
    rho_w, rho_a = water_density_kg_m3(temperature_c), air_density_kg_m3(temperature_c, pressure_hpa)
    return 1000.0 / (rho_w - rho_a) * (1 - rho_a / REFERENCE_DENSITY_KG_M3)


def shots_per_reading(dose_ul: float) -> int:
    """Shots weighed together per reading: 1, or enough drops under 10 µL to make at least 10 µL.

    TODO(merge): the procedure's own rule (the metrology takes the count it is given)."""
    return 1 if dose_ul >= MULTI_SHOT_BELOW_UL else math.ceil(MULTI_SHOT_BELOW_UL / dose_ul - 1e-9)


def required_readability_mg(reading_ul: float) -> float:
    """The coarsest readability that weighs ``reading_ul`` of water (ISO 8655-6 table 1), mg.

    TODO(merge): the procedure's own rule."""
    if reading_ul < 10:
        return 0.001
    if reading_ul < 100:
        return 0.01
    return 0.1


@dataclass(frozen=True)
class Evaporation:
    """Mass a vessel loses per second (positive: losing), from a blank, with its standard uncertainty."""

    rate_mg_per_s: float
    u_rate_mg_per_s: float

    def loss_mg(self, duration_s: float) -> float:
        return self.rate_mg_per_s * duration_s


NO_EVAPORATION = Evaporation(0.0, 0.0)


def evaporation_from_blank(
    times_s: Sequence[float], masses_mg: Sequence[float], *, readability_mg: float
) -> Evaporation:
    """The evaporation rate from a blank: minus the least-squares slope of mass against time."""
    slope, _ = statistics.linear_regression(times_s, masses_mg)
    span = max(times_s) - min(times_s)
    return Evaporation(-slope, readability_mg / math.sqrt(6) / span)


def _series(
    *,
    nominal: float,
    unit: str,
    raw_unit: str,
    readings: Sequence[float],
    values: Sequence[float],
    shots_per_reading: int,
    limits: Limits,
    standard_uncertainty: float,
    mean: float | None = None,
) -> SeriesResult:
    average = statistics.fmean(values) if mean is None else mean
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    random_pct = 100 * sd / abs(statistics.fmean(values))
    systematic = average - nominal
    systematic_pct = 100 * systematic / nominal
    passed = not (
        (limits.systematic_pct is not None and abs(systematic_pct) > limits.systematic_pct)
        or (limits.systematic_abs is not None and abs(systematic) > limits.systematic_abs)
        or (limits.random_pct is not None and random_pct > limits.random_pct)
    )
    return SeriesResult(
        nominal=nominal,
        unit=unit,
        raw_unit=raw_unit,
        readings=tuple(readings),
        values=tuple(values),
        shots_per_reading=shots_per_reading,
        mean=average,
        systematic_error=systematic,
        systematic_pct=systematic_pct,
        random_sd=sd,
        random_pct=random_pct,
        single_shot_spread_pct=random_pct * math.sqrt(shots_per_reading) if shots_per_reading > 1 else None,
        limits=limits,
        expanded_uncertainty=COVERAGE_FACTOR * standard_uncertainty,
        passed=passed,
    )


def volume_series(
    *,
    nominal_ul: float,
    readings_mg: Sequence[float],
    shots_per_reading: int,
    environment: Environment,
    cycle_time_s: float,
    readability_mg: float,
    evaporation: Evaporation = NO_EVAPORATION,
) -> SeriesResult:
    """A gravimetric series: each reading the net mass of ``shots_per_reading`` shots; one cycle's evaporation
    added back, times Z, divided by the shots: µL per shot."""
    z = z_factor(environment.temperature_c, environment.pressure_hpa)
    loss = evaporation.loss_mg(cycle_time_s)
    values = [(mass + loss) * z / shots_per_reading for mass in readings_mg]
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    u = math.hypot(sd / math.sqrt(len(values)), readability_mg * z / shots_per_reading / math.sqrt(6))
    return _series(
        nominal=nominal_ul,
        unit="µL",
        raw_unit="mg",
        readings=readings_mg,
        values=values,
        shots_per_reading=shots_per_reading,
        limits=VOLUME_LIMITS,
        standard_uncertainty=u,
    )


def depth_series(
    *, set_depth_um: float, gauge_readings_um: Sequence[float], gauge_resolution_um: float
) -> SeriesResult:
    """A depth test point: the needle held at ``set_depth_um``, read on a gauge several times (µm)."""
    sd = statistics.stdev(gauge_readings_um) if len(gauge_readings_um) > 1 else 0.0
    u = math.hypot(sd / math.sqrt(len(gauge_readings_um)), gauge_resolution_um / math.sqrt(12))
    return _series(
        nominal=set_depth_um,
        unit="µm",
        raw_unit="µm",
        readings=gauge_readings_um,
        values=gauge_readings_um,
        shots_per_reading=1,
        limits=DEPTH_LIMITS,
        standard_uncertainty=u,
    )


def rate_series(*, set_rate_hz: float, arrival_times_s: Sequence[float]) -> SeriesResult:
    """The firing rate from the shots' arrival times on the host clock, over at least 60 s."""
    times = sorted(arrival_times_s)
    span = times[-1] - times[0]
    if span < MIN_RATE_SPAN_S:
        raise ParameterError(
            f"span_s={span:.3f} is shorter than the {MIN_RATE_SPAN_S:g} s a rate is measured over; fire for longer",
            field="span_s",
            value=span,
        )
    slope, _ = statistics.linear_regression(times, [float(i) for i in range(len(times))])
    intervals = [b - a for a, b in itertools.pairwise(times)]
    return _series(
        nominal=set_rate_hz,
        unit="Hz",
        raw_unit="s",
        readings=times,
        values=[1.0 / i for i in intervals],
        shots_per_reading=1,
        limits=RATE_LIMITS,
        standard_uncertainty=slope * 1e-3 / span,
        mean=slope,
    )


@dataclass(frozen=True)
class DepthFit:
    """measured = gain × set + offset_um, through the series' means."""

    gain: float
    offset_um: float


def fit_depth_series(series: Sequence[SeriesResult]) -> DepthFit:
    gain, offset = statistics.linear_regression([s.nominal for s in series], [s.mean for s in series])
    return DepthFit(gain, offset)


def check_gain(field: str, value: float) -> float:
    low, high = GAIN_BOUNDS
    if not (math.isfinite(value) and low <= value <= high):
        raise ParameterError(
            f"{field}={value:.6f} is outside the plausible {low:.2f}–{high:.2f}; not written "
            "(check the measurement and the hardware)",
            field=field,
            value=value,
        )
    return value


def check_offset(field: str, value_um: float) -> int:
    if not (math.isfinite(value_um) and abs(value_um) <= OFFSET_LIMIT_UM):
        raise ParameterError(
            f"{field}={value_um:.1f} is outside the plausible ±{OFFSET_LIMIT_UM} µm; not written "
            "(check the gauge and the needle)",
            field=field,
            value=value_um,
        )
    return round(value_um)


def _ratio(series: Sequence[SeriesResult]) -> float:
    return sum(s.mean * s.nominal for s in series) / sum(s.nominal**2 for s in series)


def corrected_volume_gain(old_gain: float, as_found: Sequence[SeriesResult], *, brand: str = "") -> float:
    return check_gain(f"volume_gain_by_brand.{brand}" if brand else "volume_gain", old_gain * _ratio(as_found))


def corrected_rate_gain(old_gain: float, as_found: Sequence[SeriesResult]) -> float:
    return check_gain("rate_gain", old_gain * _ratio(as_found))


def corrected_depth(old_offset_um: float, old_gain: float, fit: DepthFit) -> tuple[int, float]:
    gain = check_gain("depth_gain", fit.gain * old_gain)
    return check_offset("depth_offset_um", fit.offset_um + fit.gain * old_offset_um), gain
