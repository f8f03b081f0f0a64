"""The procedure's one door to the metrology: every figure a run computes (Z factor, evaporation, statistics
against limits, corrections within plausible bounds) is asked for here, so the procedure never does arithmetic.

TODO(merge): metrology. Until ``mesogun/calibration/metrology.py`` lands these are minimal private versions
(ISO 8655-6's Z factor from the water density (Tanaka) and a simple air density, CV as the random error, the
expanded uncertainty from the mean's standard error and the balance's readability); then each becomes a call
into the metrology and nothing else changes.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from mesogun.calibration.seams import DeviceCalibration, Environment, SeriesResult
from mesogun.errors import ParameterError

TEMPERATURE_C = (15.0, 30.0)
"""The laboratory temperatures a run accepts (ISO 8655-6's Z-factor table)."""
PRESSURE_HPA = (800.0, 1060.0)
HUMIDITY_PCT = (0.0, 100.0)
GAIN_BOUNDS = (0.80, 1.20)
"""Plausible gains (volume, depth, rate): a correction outside is a fault to find, not a constant to write."""
OFFSET_BOUND_UM = 500
"""Largest plausible depth offset, µm either way."""
MULTI_SHOT_BELOW_UL = 10.0
"""Drops under this volume are weighed several to a reading (at least this much liquid per weighing)."""
VOLUME_LIMITS_PCT = (1.0, 0.5)
"""Systematic and random limits, % (at least as tight as ISO 8655-2's for a 20 µL pipette)."""
DEPTH_LIMITS_MM = (0.05, 0.02)
"""Depth: largest error and largest spread at each test depth, mm."""
RATE_LIMITS_PCT = (1.0, 1.0)
"""Rate: largest error and largest spread of the windows' rates, %."""
RATE_MIN_SECONDS = 60.0
"""A rate is measured over at least this long on the host's clock."""
BALANCE_BUOYANCY_DENSITY = 8000.0
"""Density of the balance's reference weights, kg/m³ (steel), in the Z factor's buoyancy term."""


def _within(name: str, value: float, bounds: tuple[float, float], unit: str) -> float:
    low, high = bounds
    if not (math.isfinite(value) and low <= value <= high):
        raise ParameterError(
            f"{name}={value:g} {unit} is outside the limit {low:g}–{high:g} {unit}", field=name, value=value
        )
    return value


def check_environment(environment: Environment) -> Environment:
    """The environment, or :class:`ParameterError` naming the field outside its limit (15–30 °C…)."""
    _within("temperature_c", environment.temperature_c, TEMPERATURE_C, "°C")
    _within("pressure_hpa", environment.pressure_hpa, PRESSURE_HPA, "hPa")
    _within("humidity_pct", environment.humidity_pct, HUMIDITY_PCT, "%")
    return environment


def water_density(temperature_c: float) -> float:
    """Air-free water, kg/m³ (Tanaka et al., 2001)."""
    t = temperature_c
    return 999.97495 * (1 - (t - 3.983035) ** 2 * (t + 301.797) / (522528.9 * (t + 69.34881)))


def air_density(environment: Environment) -> float:
    """Moist air, kg/m³ (the CIPM formula's usual approximation)."""
    t, p, h = environment.temperature_c, environment.pressure_hpa, environment.humidity_pct
    return (0.34848 * p - 0.009 * h * math.exp(0.061 * t)) / (273.15 + t)


def z_factor(environment: Environment) -> float:
    """µL per mg of water weighed at this temperature and pressure (ISO 8655-6; 1.0029 at 20 °C, 1013 hPa)."""
    check_environment(environment)
    rho_w, rho_a = water_density(environment.temperature_c), air_density(environment)
    return 1000.0 / (rho_w - rho_a) * (1 - rho_a / BALANCE_BUOYANCY_DENSITY)


def shots_per_reading(dose_ul: float) -> int:
    """Shots weighed together per reading: 1, or enough drops under 10 µL to make at least 10 µL."""
    return 1 if dose_ul >= MULTI_SHOT_BELOW_UL else math.ceil(MULTI_SHOT_BELOW_UL / dose_ul - 1e-9)


def required_readability_g(reading_ul: float) -> float:
    """The coarsest readability that weighs ``reading_ul`` of water (ISO 8655-6 table 1), grams."""
    if reading_ul < 10:
        return 1e-6
    if reading_ul < 100:
        return 1e-5
    return 1e-4


def evaporation_rate_mg_s(loss_mg: float, seconds: float) -> float:
    """Mass the vessel loses per second from the blank (a loss ≥ 0; a gain, e.g. noise, counts as none)."""
    return max(loss_mg, 0.0) / seconds if seconds > 0 else 0.0


def reading_volume_ul(mass_mg: float, *, z: float, evaporation_mg_s: float, cycle_s: float) -> float:
    """The volume one weighing stands for: its mass plus what evaporated during its cycle, times Z."""
    return (mass_mg + evaporation_mg_s * cycle_s) * z


@dataclass(frozen=True)
class _Stats:
    mean: float
    sd: float


def _stats(values: Sequence[float]) -> _Stats:
    return _Stats(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)


def volume_series(
    nominal_ul: float, per_shot_ul: Sequence[float], *, shots_per_reading: int, readability_ul: float
) -> SeriesResult:
    """One volume's statistics: ``per_shot_ul`` is each reading divided by its shots."""
    s = _stats(per_shot_ul)
    systematic, random = VOLUME_LIMITS_PCT
    sys_pct = (s.mean - nominal_ul) / nominal_ul * 100
    rand_pct = s.sd / s.mean * 100 if s.mean else 0.0
    u = math.hypot(s.sd / math.sqrt(len(per_shot_ul)), readability_ul / shots_per_reading / math.sqrt(12))
    return SeriesResult(
        nominal=nominal_ul,
        unit="µL",
        readings=tuple(per_shot_ul),
        shots_per_reading=shots_per_reading,
        mean=s.mean,
        systematic_pct=sys_pct,
        random_pct=rand_pct,
        systematic_limit_pct=systematic,
        random_limit_pct=random,
        expanded_uncertainty=2 * u,
        passed=abs(sys_pct) <= systematic and rand_pct <= random,
        single_shot_random_pct=rand_pct * math.sqrt(shots_per_reading) if shots_per_reading > 1 else None,
    )


def _bounded_gain(name: str, value: float) -> float:
    low, high = GAIN_BOUNDS
    if not (math.isfinite(value) and low <= value <= high):
        raise ParameterError(
            f"{name}={value:.4f} is outside the plausible bounds {low:.2f}–{high:.2f} (a gain, delivered/set): "
            "refused, not written; look for the fault (wrong syringe brand, air in the line, a leak)",
            field=name,
            value=value,
        )
    return value


def volume_correction(old: DeviceCalibration, brand: str, series: Sequence[SeriesResult]) -> DeviceCalibration:
    """``old`` with the brand's volume gain corrected by what was weighed (the mean delivered/set over the test
    points); a gain outside the plausible bounds is refused (:class:`ParameterError`, nothing written)."""
    ratio = statistics.fmean(s.mean / s.nominal for s in series)
    gain = _bounded_gain(f"volume_gain.{brand or 'default'}", old.volume_gain_by_brand.get(brand, 1.0) * ratio)
    return _with(old, volume_gain_by_brand={**old.volume_gain_by_brand, brand: round(gain, 6)})


def depth_series(nominal_mm: float, readings_mm: Sequence[float]) -> SeriesResult:
    """One test depth's statistics: the error and spread of the gauge's readings, against ±0.05 mm."""
    s = _stats(readings_mm)
    error, spread = DEPTH_LIMITS_MM
    return SeriesResult(
        nominal=nominal_mm,
        unit="mm",
        readings=tuple(readings_mm),
        shots_per_reading=1,
        mean=s.mean,
        systematic_pct=(s.mean - nominal_mm) / nominal_mm * 100,
        random_pct=s.sd / s.mean * 100 if s.mean else 0.0,
        systematic_limit_pct=error / nominal_mm * 100,
        random_limit_pct=spread / nominal_mm * 100,
        expanded_uncertainty=2 * math.hypot(s.sd / math.sqrt(len(readings_mm)), 0.01 / math.sqrt(12)),
        passed=abs(s.mean - nominal_mm) <= error and s.sd <= spread,
    )


def depth_correction(old: DeviceCalibration, series: Sequence[SeriesResult]) -> DeviceCalibration:
    """``old`` with the depth gain and offset refitted from the gauge's readings (true = gain × set + offset
    fitted by least squares, then composed with the constants in force); outside the bounds: refused."""
    xs = [s.nominal for s in series for _ in s.readings]
    ys = [r for s in series for r in s.readings]
    slope, intercept = statistics.linear_regression(xs, ys)
    gain = _bounded_gain("depth_gain", old.depth_gain * slope)
    offset_um = round(intercept * 1000 + slope * old.depth_offset_um)
    if abs(offset_um) > OFFSET_BOUND_UM:
        raise ParameterError(
            f"depth_offset_um={offset_um} µm is outside the plausible bounds ±{OFFSET_BOUND_UM} µm: refused, not "
            "written; check the gauge's zero and its mounting",
            field="depth_offset_um",
            value=offset_um,
        )
    return _with(old, depth_gain=round(gain, 6), depth_offset_um=offset_um)


def window_rates(arrivals_s: Sequence[float], windows: int = 10) -> list[float]:
    """Shots per second in ``windows`` consecutive stretches of the arrival times (host clock)."""
    n = len(arrivals_s)
    edges = [round(i * (n - 1) / windows) for i in range(windows + 1)]
    return [(b - a) / (arrivals_s[b] - arrivals_s[a]) for a, b in itertools.pairwise(edges) if b > a]


def rate_series(nominal_hz: float, arrivals_s: Sequence[float]) -> SeriesResult:
    """The rate measured from shot arrivals on the host's clock (over ≥ 60 s), its windows' spread."""
    span = arrivals_s[-1] - arrivals_s[0]
    if span < RATE_MIN_SECONDS * (len(arrivals_s) - 1) / len(arrivals_s) - 1e-9:
        raise ParameterError(
            f"rate measured over {span:.1f} s: needs at least {RATE_MIN_SECONDS:g} s", field="duration_s", value=span
        )
    windows = window_rates(arrivals_s)
    mean = (len(arrivals_s) - 1) / span
    sd = statistics.stdev(windows) if len(windows) > 1 else 0.0
    error, spread = RATE_LIMITS_PCT
    sys_pct = (mean - nominal_hz) / nominal_hz * 100
    return SeriesResult(
        nominal=nominal_hz,
        unit="Hz",
        readings=tuple(windows),
        shots_per_reading=1,
        mean=mean,
        systematic_pct=sys_pct,
        random_pct=sd / mean * 100,
        systematic_limit_pct=error,
        random_limit_pct=spread,
        expanded_uncertainty=2 * sd / math.sqrt(len(windows)),
        passed=abs(sys_pct) <= error and sd / mean * 100 <= spread,
    )


def rate_correction(old: DeviceCalibration, series: Sequence[SeriesResult]) -> DeviceCalibration:
    """``old`` with the rate gain corrected by the measured/set rate; outside the bounds: refused."""
    ratio = statistics.fmean(s.mean / s.nominal for s in series)
    return _with(old, rate_gain=round(_bounded_gain("rate_gain", old.rate_gain * ratio), 6))


def _with(old: DeviceCalibration, **changes: object) -> DeviceCalibration:
    from dataclasses import replace

    return replace(old, **changes)  # type: ignore[arg-type]
