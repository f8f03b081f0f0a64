"""The metrology of a calibration run, pure (no I/O, no clock): mass to volume (ISO 8655-6's Z factor and an
evaporation blank), a series' statistics against limits (ISO 8655-2), the depth fit, the firing rate from shot
arrival times, the correction written to the device (refused outside plausible bounds), and the expanded
uncertainty (k = 2, propagated with ``uncertainties``). docs/calibration.md explains every formula.

Units are in the names: ``_ul`` µL, ``_mg`` mg, ``_um`` µm, ``_hz`` shots/s, ``_s`` seconds, ``_c`` °C,
``_hpa`` hPa, ``_pct`` percent.

Uncertainty budget of a volume series' mean (standard uncertainties, combined to first order by
``uncertainties``, then U = 2 u):

- repeatability: the readings' standard deviation / √n (type A);
- balance readability d: d / √6 per weighing (a rectangular d/√12 on each of the two readings a net mass takes),
  not reduced by √n (it is partly systematic);
- evaporation: the blank's rate uncertainty (its least-squares slope's standard error, or the readability
  over the blank's span with two points) × the cycle time;
- Z factor: the thermometer's and barometer's standard uncertainties (``u_temperature_c``, default 0.2 °C;
  ``u_pressure_hpa``, default 1 hPa) through the table's slope, plus the table model's own (2·10⁻⁵ µL/mg).

A depth series: repeatability and the gauge's resolution / √12. A rate: the least-squares slope's standard
error and the host clock's resolution over the span.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mesogun.calibration.results import Environment, Limits, SeriesResult
from mesogun.errors import ParameterError

COVERAGE_FACTOR = 2.0
"""k of every expanded uncertainty (≈ 95 % for a normal distribution)."""

# --- ISO 8655-6: mass to volume --------------------------------------------------------------------------

TEMPERATURE_RANGE_C = (15.0, 30.0)
"""ISO 8655-6's Z table and test conditions: water and air between 15 and 30 °C."""
PRESSURE_RANGE_HPA = (800.0, 1060.0)
BALANCE_WEIGHT_DENSITY_KG_M3 = 8000.0
"""The density of the weights a balance is adjusted with (OIML R 111's conventional 8000 kg/m³)."""
TABLE_HUMIDITY_PCT = 50.0
"""The relative humidity the Z table is computed at (its effect is below 10⁻⁵ µL/mg over 15–30 °C)."""
Z_MODEL_UNCERTAINTY_UL_PER_MG = 2e-5
"""The table's own standard uncertainty: how far the published 4-decimal table and this computation may differ
(within one unit of the last decimal everywhere), taken as a rectangular ±3.5·10⁻⁵."""


def water_density_kg_m3(temperature_c: float, pressure_hpa: float = 1013.25) -> float:
    """Density of air-free pure water (Tanaka et al., Metrologia 38 (2001) 301, with its compressibility term)."""
    a1, a2, a3, a4, a5 = -3.983035, 301.797, 522528.9, 69.34881, 999.974950
    t = temperature_c
    density = a5 * (1 - (t + a1) ** 2 * (t + a2) / (a3 * (t + a4)))
    compressibility = 50.74e-11 - 0.326e-11 * t + 0.00416e-11 * t * t  # per Pa
    return density * (1 + compressibility * (pressure_hpa - 1013.25) * 100)


def air_density_kg_m3(temperature_c: float, pressure_hpa: float, humidity_pct: float = TABLE_HUMIDITY_PCT) -> float:
    """Density of moist air (OIML R 111-1:2004, formula E.3: the CIPM formula's approximation, ±2·10⁻⁴ relative)."""
    return (0.34848 * pressure_hpa - 0.009 * humidity_pct * math.exp(0.061 * temperature_c)) / (273.15 + temperature_c)


def z_factor_formula(temperature_c: float, pressure_hpa: float, humidity_pct: float = TABLE_HUMIDITY_PCT) -> float:
    """Z in µL/mg as ISO 8655-6 defines it: 1 / (ρ_water − ρ_air) × (1 − ρ_air / ρ_weights)."""
    air = air_density_kg_m3(temperature_c, pressure_hpa, humidity_pct)
    water = water_density_kg_m3(temperature_c, pressure_hpa)
    return 1000.0 / (water - air) * (1 - air / BALANCE_WEIGHT_DENSITY_KG_M3)


Z_TABLE_TEMPERATURES_C = tuple(15.0 + 0.5 * step for step in range(31))
Z_TABLE_PRESSURES_HPA = tuple(800.0 + 10.0 * step for step in range(27))
Z_TABLE: tuple[tuple[float, ...], ...] = tuple(
    tuple(z_factor_formula(t, p) for p in Z_TABLE_PRESSURES_HPA) for t in Z_TABLE_TEMPERATURES_C
)
"""Z (µL/mg) over 15–30 °C in 0.5 °C steps × 800–1060 hPa in 10 hPa steps, computed from :func:`z_factor_formula`
(ISO 8655-6 Annex A's table agrees with it to its 4 decimals; tests/mesogun/calibration/test_metrology.py)."""


def check_temperature_c(value: float) -> None:
    """A ``ParameterError`` naming ``temperature_c`` outside ISO 8655-6's 15–30 °C."""
    _within("temperature_c", value, TEMPERATURE_RANGE_C, "°C", "ISO 8655-6's test conditions")


def check_pressure_hpa(value: float) -> None:
    """A ``ParameterError`` naming ``pressure_hpa`` outside the Z factor table's 800–1060 hPa."""
    _within("pressure_hpa", value, PRESSURE_RANGE_HPA, "hPa", "the Z factor table")


def check_humidity_pct(value: float) -> None:
    """A ``ParameterError`` naming ``humidity_pct`` outside 0–100 % (a relative humidity)."""
    _within("humidity_pct", value, (0.0, 100.0), "%", "a relative humidity")


def check_environment(environment: Environment) -> None:
    """A ``ParameterError`` naming the field if the temperature or pressure is outside ISO 8655-6's range, or the
    humidity outside 0–100 %."""
    check_temperature_c(environment.temperature_c)
    check_pressure_hpa(environment.pressure_hpa)
    check_humidity_pct(environment.humidity_pct)


def z_factor(temperature_c: float, pressure_hpa: float) -> float:
    """Z in µL/mg at the water's temperature and the air's pressure, interpolated bilinearly in :data:`Z_TABLE`
    (1.0029 at 20 °C and 1013 hPa); a ``ParameterError`` outside 15–30 °C or 800–1060 hPa."""
    _within("temperature_c", temperature_c, TEMPERATURE_RANGE_C, "°C", "ISO 8655-6's test conditions")
    _within("pressure_hpa", pressure_hpa, PRESSURE_RANGE_HPA, "hPa", "the Z factor table")
    return float(_bilinear(temperature_c, pressure_hpa))


def _bilinear(temperature_c: Any, pressure_hpa: Any) -> Any:
    """The table interpolated at (t, p); works on floats and on ``uncertainties`` numbers alike."""
    t_nominal = float(getattr(temperature_c, "nominal_value", temperature_c))
    p_nominal = float(getattr(pressure_hpa, "nominal_value", pressure_hpa))
    i = min(int((t_nominal - Z_TABLE_TEMPERATURES_C[0]) / 0.5), len(Z_TABLE_TEMPERATURES_C) - 2)
    j = min(int((p_nominal - Z_TABLE_PRESSURES_HPA[0]) / 10.0), len(Z_TABLE_PRESSURES_HPA) - 2)
    u = (temperature_c - Z_TABLE_TEMPERATURES_C[i]) / 0.5
    v = (pressure_hpa - Z_TABLE_PRESSURES_HPA[j]) / 10.0
    z00, z01 = Z_TABLE[i][j], Z_TABLE[i][j + 1]
    z10, z11 = Z_TABLE[i + 1][j], Z_TABLE[i + 1][j + 1]
    return z00 * (1 - u) * (1 - v) + z01 * (1 - u) * v + z10 * u * (1 - v) + z11 * u * v


# --- evaporation -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaporation:
    """Mass a vessel loses per second (positive: losing), from a blank, with its standard uncertainty."""

    rate_mg_per_s: float
    u_rate_mg_per_s: float

    def loss_mg(self, duration_s: float) -> float:
        """The mass evaporated over ``duration_s`` (what is added back to a reading)."""
        return self.rate_mg_per_s * duration_s


NO_EVAPORATION = Evaporation(0.0, 0.0)
"""No blank was taken (the certificate says so)."""


def evaporation_from_blank(
    times_s: Sequence[float], masses_mg: Sequence[float], *, readability_mg: float
) -> Evaporation:
    """The evaporation rate from a blank: the vessel weighed at ``times_s`` with nothing delivered (ISO 8655-6
    §8.3: the loss per test cycle is added back to each reading). The rate is minus the least-squares slope;
    its uncertainty the slope's standard error (three points or more) or, with two, the readability over the
    span, whichever is larger."""
    if len(times_s) != len(masses_mg):
        raise ParameterError(
            f"the blank has {len(times_s)} times and {len(masses_mg)} masses; each weighing needs both",
            field="masses_mg",
            value=len(masses_mg),
        )
    if len(times_s) < 2:
        raise ParameterError(
            f"an evaporation blank needs at least 2 weighings, not {len(times_s)}",
            field="masses_mg",
            value=len(masses_mg),
        )
    span = max(times_s) - min(times_s)
    if span <= 0:
        raise ParameterError(
            f"the blank's weighings span {span:g} s; it must be longer than 0 s", field="times_s", value=span
        )
    slope, _, slope_se, _ = _least_squares(times_s, masses_mg)
    u_readability = readability_mg / math.sqrt(6) / span
    return Evaporation(-slope, max(slope_se, u_readability))


# --- limits ------------------------------------------------------------------------------------------------

ISO_8655_2_PISTON_PIPETTES: tuple[tuple[float, float, float], ...] = (
    (2.0, 0.08, 0.04),
    (10.0, 0.12, 0.08),
    (20.0, 0.20, 0.10),
    (50.0, 0.50, 0.20),
    (100.0, 0.80, 0.30),
    (200.0, 1.60, 0.60),
    (500.0, 4.0, 1.5),
    (1000.0, 8.0, 3.0),
    (2000.0, 16.0, 6.0),
    (5000.0, 40.0, 15.0),
    (10000.0, 60.0, 30.0),
)
"""ISO 8655-2:2002 Table 1 (air-displacement piston pipettes): nominal volume (µL), maximum permissible
systematic error (± µL) and random error (µL, a standard deviation)."""

ACCEPTANCE_SYSTEMATIC_PCT = 1.0
ACCEPTANCE_RANDOM_PCT = 0.5
"""The issue's acceptance for delivered volume: at least as tight as a 20 µL pipette's limits (±1 %, 0.5 %)."""
DEPTH_LIMIT_UM = 50.0
"""Needle depth within ±0.05 mm of the set depth."""
RATE_LIMIT_PCT = 1.0
"""Firing rate within ±1 % of the set rate."""


def iso_8655_2_limits(volume_ul: float) -> Limits:
    """ISO 8655-2's limits at ``volume_ul``, in percent of it: those of the smallest listed nominal volume at or
    above it, in µL (how ISO 8655-2 applies a pipette's nominal limits to its smaller test volumes)."""
    if not 0 < volume_ul <= ISO_8655_2_PISTON_PIPETTES[-1][0]:
        raise ParameterError(
            f"volume_ul={volume_ul} is outside ISO 8655-2's table, 0–{ISO_8655_2_PISTON_PIPETTES[-1][0]:g} µL",
            field="volume_ul",
            value=volume_ul,
        )
    nominal, systematic_ul, random_ul = next(row for row in ISO_8655_2_PISTON_PIPETTES if row[0] >= volume_ul)
    return Limits(
        systematic_pct=100 * systematic_ul / volume_ul,
        random_pct=100 * random_ul / volume_ul,
        source=f"ISO 8655-2:2002, {nominal:g} µL piston pipette",
    )


def volume_limits(volume_ul: float) -> Limits:
    """The default acceptance of a volume series: ISO 8655-2's limits at ``volume_ul``, never looser than the
    issue's ±1 % systematic and 0.5 % random (a 20 µL pipette's)."""
    iso = iso_8655_2_limits(volume_ul)
    assert iso.systematic_pct is not None and iso.random_pct is not None
    systematic = min(iso.systematic_pct, ACCEPTANCE_SYSTEMATIC_PCT)
    random = min(iso.random_pct, ACCEPTANCE_RANDOM_PCT)
    tighter = systematic < iso.systematic_pct or random < iso.random_pct
    source = f"{iso.source}; capped at ±1 % / 0.5 % (issue 16)" if tighter else iso.source
    return Limits(systematic_pct=systematic, random_pct=random, source=source)


DEPTH_LIMITS = Limits(systematic_abs=DEPTH_LIMIT_UM, source="issue 16: ±0.05 mm (21 CFR 878.4430)")
RATE_LIMITS = Limits(systematic_pct=RATE_LIMIT_PCT, source="issue 16: ±1 % (21 CFR 878.4430)")


def within_limits(limits: Limits, *, systematic_error: float, systematic_pct: float, random_pct: float) -> bool:
    """Whether a series' statistics are within ``limits`` (a limit left ``None`` is not judged; no guard band)."""
    if limits.systematic_pct is not None and abs(systematic_pct) > limits.systematic_pct:
        return False
    if limits.systematic_abs is not None and abs(systematic_error) > limits.systematic_abs:
        return False
    return not (limits.random_pct is not None and random_pct > limits.random_pct)


# --- series ------------------------------------------------------------------------------------------------


def volume_series(
    *,
    nominal_ul: float,
    readings_mg: Sequence[float],
    shots_per_reading: int,
    environment: Environment,
    cycle_time_s: float,
    readability_mg: float,
    evaporation: Evaporation = NO_EVAPORATION,
    limits: Limits | None = None,
    u_temperature_c: float = 0.2,
    u_pressure_hpa: float = 1.0,
) -> SeriesResult:
    """A gravimetric series (ISO 8655-6): each reading the net mass of ``shots_per_reading`` shots of
    ``nominal_ul``, weighed ``cycle_time_s`` after the previous one. Each reading has the evaporation of one cycle
    added back, is converted with Z and divided by the shots: µL per shot. Judged against ``limits`` (default
    :func:`volume_limits`). The expanded uncertainty is of the mean per shot (the module's budget)."""
    _positive("nominal_ul", nominal_ul, "µL")
    _whole("shots_per_reading", shots_per_reading)
    _enough("readings_mg", readings_mg)
    _positive("readability_mg", readability_mg, "mg")
    if cycle_time_s < 0:
        raise ParameterError(
            f"cycle_time_s={cycle_time_s} must not be negative", field="cycle_time_s", value=cycle_time_s
        )
    check_environment(environment)
    z = z_factor(environment.temperature_c, environment.pressure_hpa)
    loss_mg = evaporation.loss_mg(cycle_time_s)
    values = tuple((mass + loss_mg) * z / shots_per_reading for mass in readings_mg)
    n = len(readings_mg)
    mass_mean = _uncertain(statistics.fmean(readings_mg), statistics.stdev(readings_mg) / math.sqrt(n), "repeatability")
    mass_mean = mass_mean + _uncertain(0.0, readability_mg / math.sqrt(6), "readability")
    evaporated = _uncertain(evaporation.rate_mg_per_s, evaporation.u_rate_mg_per_s, "evaporation") * cycle_time_s
    z_u = _bilinear(
        _uncertain(environment.temperature_c, u_temperature_c, "temperature"),
        _uncertain(environment.pressure_hpa, u_pressure_hpa, "pressure"),
    ) + _uncertain(0.0, Z_MODEL_UNCERTAINTY_UL_PER_MG, "z table")
    per_shot = (mass_mean + evaporated) * z_u / shots_per_reading
    return _series(
        nominal=nominal_ul,
        unit="µL",
        raw_unit="mg",
        readings=readings_mg,
        values=values,
        shots_per_reading=shots_per_reading,
        limits=limits if limits is not None else volume_limits(nominal_ul),
        standard_uncertainty=_std_dev(per_shot),
    )


def depth_series(
    *,
    set_depth_um: float,
    gauge_readings_um: Sequence[float],
    gauge_resolution_um: float,
    limits: Limits = DEPTH_LIMITS,
) -> SeriesResult:
    """A depth test point: the needle held at ``set_depth_um``, read on a gauge several times (µm)."""
    _positive("set_depth_um", set_depth_um, "µm")
    _enough("gauge_readings_um", gauge_readings_um)
    _positive("gauge_resolution_um", gauge_resolution_um, "µm")
    n = len(gauge_readings_um)
    mean = _uncertain(statistics.fmean(gauge_readings_um), statistics.stdev(gauge_readings_um) / math.sqrt(n))
    mean = mean + _uncertain(0.0, gauge_resolution_um / math.sqrt(12), "resolution")
    return _series(
        nominal=set_depth_um,
        unit="µm",
        raw_unit="µm",
        readings=gauge_readings_um,
        values=tuple(gauge_readings_um),
        shots_per_reading=1,
        limits=limits,
        standard_uncertainty=_std_dev(mean),
    )


MIN_RATE_SPAN_S = 60.0
"""The shortest span of shot arrivals a rate is measured over (issue 16: at least 60 s)."""


def rate_series(
    *,
    set_rate_hz: float,
    arrival_times_s: Sequence[float],
    clock_resolution_s: float = 1e-3,
    min_span_s: float = MIN_RATE_SPAN_S,
    limits: Limits = RATE_LIMITS,
) -> SeriesResult:
    """The true firing rate from the shots' arrival times on the host clock (the device's own clock runs at its
    error): the least-squares slope of shot number against time, over at least ``min_span_s``; the random
    error is the spread of the intervals' rates. A shorter span is refused (``ParameterError``, field span_s)."""
    _positive("set_rate_hz", set_rate_hz, "Hz")
    if len(arrival_times_s) < 3:
        raise ParameterError(
            f"a rate needs at least 3 shot arrivals, not {len(arrival_times_s)}",
            field="arrival_times_s",
            value=len(arrival_times_s),
        )
    times = sorted(arrival_times_s)
    span = times[-1] - times[0]
    if span < min_span_s:
        raise ParameterError(
            f"span_s={span:.3f} is shorter than the {min_span_s:g} s a rate is measured over; fire for longer",
            field="span_s",
            value=span,
        )
    slope, _, slope_se, _ = _least_squares(times, [float(index) for index in range(len(times))])
    intervals = [later - earlier for earlier, later in itertools.pairwise(times)]
    if min(intervals) <= 0:
        raise ParameterError("two shots arrived at the same time; arrival times must differ", field="arrival_times_s")
    clock = slope * math.sqrt(2) * clock_resolution_s / math.sqrt(12) / span
    return _series(
        nominal=set_rate_hz,
        unit="Hz",
        raw_unit="s",
        readings=times,
        values=tuple(1.0 / interval for interval in intervals),
        shots_per_reading=1,
        limits=limits,
        standard_uncertainty=math.hypot(slope_se, clock),
        mean=slope,
    )


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
    return SeriesResult(
        nominal=nominal,
        unit=unit,
        raw_unit=raw_unit,
        readings=tuple(float(reading) for reading in readings),
        values=tuple(float(value) for value in values),
        shots_per_reading=shots_per_reading,
        mean=average,
        systematic_error=systematic,
        systematic_pct=systematic_pct,
        random_sd=sd,
        random_pct=random_pct,
        single_shot_spread_pct=random_pct * math.sqrt(shots_per_reading) if shots_per_reading > 1 else None,
        limits=limits,
        expanded_uncertainty=COVERAGE_FACTOR * standard_uncertainty,
        passed=within_limits(limits, systematic_error=systematic, systematic_pct=systematic_pct, random_pct=random_pct),
        coverage_factor=COVERAGE_FACTOR,
    )


# --- depth fit ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepthFit:
    """The least-squares line through gauge readings against set depths: measured = gain × set + offset_um;
    ``residuals_um`` (measured − line) per point, in the order given."""

    gain: float
    offset_um: float
    set_depths_um: tuple[float, ...]
    measured_um: tuple[float, ...]
    residuals_um: tuple[float, ...]

    @property
    def max_residual_um(self) -> float:
        return max(abs(residual) for residual in self.residuals_um)


def fit_depth(set_depths_um: Sequence[float], measured_um: Sequence[float]) -> DepthFit:
    """Offset (µm) and gain of the needle's true depth against its set depth, from at least two distinct set
    depths (each point one gauge reading, or a series' mean)."""
    if len(set_depths_um) != len(measured_um):
        raise ParameterError(
            f"{len(set_depths_um)} set depths but {len(measured_um)} gauge readings; each depth needs one",
            field="measured_um",
            value=len(measured_um),
        )
    if len(set(set_depths_um)) < 2:
        raise ParameterError(
            f"a depth fit needs at least 2 different set depths, not {len(set(set_depths_um))}",
            field="set_depths_um",
            value=len(set(set_depths_um)),
        )
    gain, offset, _, residuals = _least_squares(set_depths_um, measured_um)
    return DepthFit(gain, offset, tuple(set_depths_um), tuple(measured_um), tuple(residuals))


def fit_depth_series(series: Sequence[SeriesResult]) -> DepthFit:
    """:func:`fit_depth` through the means of depth series (one per set depth)."""
    return fit_depth([item.nominal for item in series], [item.mean for item in series])


# --- the correction ----------------------------------------------------------------------------------------

GAIN_BOUNDS = (0.80, 1.20)
"""A plausible gain: outside, the measurement (or the hardware) is wrong, and nothing is written."""
OFFSET_LIMIT_UM = 500
"""A plausible depth offset: |offset| at most this."""


def check_gain(field: str, value: float) -> float:
    """``value`` if it is a plausible gain, else a ``ParameterError`` naming ``field``."""
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
    """``value_um`` rounded to the device's whole µm if plausible (|offset| ≤ 500 µm), else a ``ParameterError``."""
    if not (math.isfinite(value_um) and abs(value_um) <= OFFSET_LIMIT_UM):
        raise ParameterError(
            f"{field}={value_um:.1f} is outside the plausible ±{OFFSET_LIMIT_UM} µm; not written "
            "(check the gauge and the needle)",
            field=field,
            value=value_um,
        )
    return round(value_um)


def _ratio(series: Sequence[SeriesResult]) -> float:
    """measured / nominal over the test points: the least-squares line through the origin (Σ m·n / Σ n²)."""
    if not series:
        raise ParameterError("a correction needs at least one measured test point", field="as_found", value=0)
    return sum(item.mean * item.nominal for item in series) / sum(item.nominal**2 for item in series)


def corrected_volume_gain(old_gain: float, as_found: Sequence[SeriesResult], *, brand: str = "") -> float:
    """The syringe brand's new volume gain: old gain × measured / nominal (the device pushes dose / gain, so what
    it delivered is truth × dose / old gain); refused outside :data:`GAIN_BOUNDS`."""
    field = f"volume_gain_by_brand.{brand}" if brand else "volume_gain"
    return check_gain(field, old_gain * _ratio(as_found))


def corrected_rate_gain(old_gain: float, as_found: Sequence[SeriesResult]) -> float:
    """The new rate gain: old gain × measured / set rate; refused outside :data:`GAIN_BOUNDS`."""
    return check_gain("rate_gain", old_gain * _ratio(as_found))


def corrected_depth(old_offset_um: float, old_gain: float, fit: DepthFit) -> tuple[int, float]:
    """The new (depth_offset_um, depth_gain): the device drives the motor to (set − old offset) / old gain, so a fit
    measured = a × set + b means true depth = a·old gain × motor + (b + a × old offset); refused outside the
    plausible bounds."""
    gain = check_gain("depth_gain", fit.gain * old_gain)
    offset = check_offset("depth_offset_um", fit.offset_um + fit.gain * old_offset_um)
    return offset, gain


# --- helpers -----------------------------------------------------------------------------------------------


def _uncertain(value: float, std_dev: float, tag: str = "repeatability") -> Any:
    """``value`` ± ``std_dev`` as an ``uncertainties`` number (a plain float when it is exact)."""
    if std_dev <= 0:
        return value
    from uncertainties import ufloat  # numpy and all: ~0.15 s, paid when a run computes, not by every CLI start

    return ufloat(value, std_dev, tag)


def _std_dev(value: Any) -> float:
    return float(getattr(value, "std_dev", 0.0))


def _least_squares(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float, list[float]]:
    """(slope, intercept, the slope's standard error, residuals) of y = slope × x + intercept."""
    n = len(xs)
    x_mean, y_mean = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - x_mean) ** 2 for x in xs)
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = y_mean - slope * x_mean
    residuals = [y - (slope * x + intercept) for x, y in zip(xs, ys, strict=True)]
    slope_se = math.sqrt(sum(r * r for r in residuals) / (n - 2) / sxx) if n > 2 else 0.0
    return slope, intercept, slope_se, residuals


def _within(field: str, value: float, bounds: tuple[float, float], unit: str, what: str) -> None:
    low, high = bounds
    if not (math.isfinite(value) and low <= value <= high):
        raise ParameterError(
            f"{field}={value:g} {unit} is outside {low:g}–{high:g} {unit} ({what})", field=field, value=value
        )


def _positive(field: str, value: float, unit: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(f"{field}={value:g} must be more than 0 {unit}", field=field, value=value)


def _whole(field: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{field}={value!r} must be a whole number of 1 or more", field=field, value=value)


def _enough(field: str, values: Sequence[float]) -> None:
    if len(values) < 2:
        raise ParameterError(
            f"{field} has {len(values)} readings; a series needs at least 2 (ISO 8655-6 takes 10)",
            field=field,
            value=len(values),
        )
    if not all(math.isfinite(value) for value in values):
        raise ParameterError(f"{field} holds a reading that is not a number", field=field, value=list(values))
