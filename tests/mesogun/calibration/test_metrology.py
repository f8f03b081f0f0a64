"""The calibration's metrology on known data: the Z factor against ISO 8655-6's published table, its bounds,
evaporation from a blank, a series' statistics and limits, several shots per reading, the depth fit, the rate
from arrival times, the correction and its plausible bounds, and the expanded uncertainty (k = 2)."""

from __future__ import annotations

import math

import pytest

from mesogun.calibration import metrology
from mesogun.calibration.metrology import (
    Evaporation,
    corrected_depth,
    corrected_rate_gain,
    corrected_volume_gain,
    depth_series,
    evaporation_from_blank,
    fit_depth,
    fit_depth_series,
    iso_8655_2_limits,
    rate_series,
    volume_limits,
    volume_series,
    z_factor,
)
from mesogun.calibration.results import Environment
from mesogun.errors import ParameterError

LAB = Environment(temperature_c=20.0, pressure_hpa=1013.0, humidity_pct=50.0)

# ISO 8655-6:2002 Annex A, Table A.1 (Z in µL/mg), a subset: temperature (°C) → Z at 800, 850, 900, 950, 1000,
# 1013 and 1050 hPa.
ISO_PRESSURES_HPA = (800.0, 850.0, 900.0, 950.0, 1000.0, 1013.0, 1050.0)
ISO_TABLE = {
    15.0: (1.0017, 1.0018, 1.0019, 1.0019, 1.0020, 1.0020, 1.0020),
    17.5: (1.0022, 1.0022, 1.0023, 1.0023, 1.0024, 1.0024, 1.0024),
    20.0: (1.0026, 1.0027, 1.0027, 1.0028, 1.0028, 1.0029, 1.0029),
    21.5: (1.0030, 1.0030, 1.0031, 1.0031, 1.0032, 1.0032, 1.0032),
    23.0: (1.0033, 1.0033, 1.0034, 1.0034, 1.0035, 1.0035, 1.0036),
    25.0: (1.0038, 1.0038, 1.0039, 1.0039, 1.0040, 1.0040, 1.0040),
    27.5: (1.0045, 1.0045, 1.0046, 1.0046, 1.0047, 1.0047, 1.0047),
    30.0: (1.0052, 1.0052, 1.0053, 1.0053, 1.0054, 1.0054, 1.0054),
}


def test_z_factor_at_20_c_and_1013_hpa_is_the_standards_1_0029() -> None:
    assert round(z_factor(20.0, 1013.0), 4) == 1.0029


@pytest.mark.parametrize("temperature_c", sorted(ISO_TABLE))
def test_z_factor_agrees_with_the_published_table_to_its_last_decimal(temperature_c: float) -> None:
    for pressure_hpa, published in zip(ISO_PRESSURES_HPA, ISO_TABLE[temperature_c], strict=True):
        assert z_factor(temperature_c, pressure_hpa) == pytest.approx(published, abs=1.0e-4), pressure_hpa


def test_z_factor_between_table_points_is_the_formula_within_a_millionth() -> None:
    for t, p in ((20.3, 1013.0), (15.1, 801.0), (29.9, 1059.0), (22.25, 987.5)):
        assert z_factor(t, p) == pytest.approx(metrology.z_factor_formula(t, p), abs=1e-6)
    assert z_factor(15.0, 800.0) < z_factor(22.0, 1000.0) < z_factor(30.0, 1060.0)


@pytest.mark.parametrize(
    ("temperature_c", "pressure_hpa", "field", "words"),
    [
        (14.9, 1013.0, "temperature_c", "temperature_c=14.9 °C is outside 15–30 °C (ISO 8655-6's test conditions)"),
        (30.5, 1013.0, "temperature_c", "temperature_c=30.5 °C is outside 15–30 °C (ISO 8655-6's test conditions)"),
        (20.0, 790.0, "pressure_hpa", "pressure_hpa=790 hPa is outside 800–1060 hPa (the Z factor table)"),
        (math.nan, 1013.0, "temperature_c", "temperature_c=nan"),
    ],
)
def test_z_factor_outside_its_table_is_refused_naming_field_value_limit_and_unit(
    temperature_c, pressure_hpa, field, words
) -> None:
    with pytest.raises(ParameterError) as caught:
        z_factor(temperature_c, pressure_hpa)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_a_volume_series_outside_15_to_30_c_is_refused() -> None:
    with pytest.raises(ParameterError, match="temperature_c=31") as caught:
        volume_series(
            nominal_ul=20.0,
            readings_mg=[20.0, 20.1],
            shots_per_reading=1,
            environment=Environment(31.0, 1013.0, 50.0),
            cycle_time_s=10.0,
            readability_mg=0.01,
        )
    assert caught.value.value == 31.0


def test_evaporation_from_a_blank_is_the_loss_per_second() -> None:
    times = [0.0, 30.0, 60.0, 90.0, 120.0]
    masses = [1000.000 - 0.0002 * t for t in times]
    blank = evaporation_from_blank(times, masses, readability_mg=0.01)
    assert blank.rate_mg_per_s == pytest.approx(0.0002)
    assert blank.loss_mg(20.0) == pytest.approx(0.004)
    assert blank.u_rate_mg_per_s == pytest.approx(0.01 / math.sqrt(6) / 120)  # a perfect line: readability rules
    with pytest.raises(ParameterError, match="at least 2 weighings"):
        evaporation_from_blank([0.0], [1.0], readability_mg=0.01)
    with pytest.raises(ParameterError, match="span 0 s"):
        evaporation_from_blank([5.0, 5.0], [1.0, 1.0], readability_mg=0.01)


# Ten weighings of 20 µL shots (mg): mean 20.0 mg, sample standard deviation 0.05 mg.
TEN_MG = (19.95, 20.05, 19.95, 20.05, 19.95, 20.05, 19.95, 20.05, 19.95, 20.05)


def test_series_statistics_on_known_data() -> None:
    series = volume_series(
        nominal_ul=20.0,
        readings_mg=TEN_MG,
        shots_per_reading=1,
        environment=LAB,
        cycle_time_s=0.0,
        readability_mg=0.01,
    )
    z = z_factor(20.0, 1013.0)
    sd_mg = math.sqrt(10 * 0.05**2 / 9)
    assert series.mean == pytest.approx(20.0 * z)
    assert series.systematic_error == pytest.approx(20.0 * z - 20.0)
    assert series.systematic_pct == pytest.approx((z - 1) * 100)
    assert series.random_sd == pytest.approx(sd_mg * z)
    assert series.random_pct == pytest.approx(100 * sd_mg / 20.0)
    assert series.single_shot_spread_pct is None
    assert series.values == pytest.approx([m * z for m in TEN_MG])
    assert series.readings == TEN_MG
    assert series.unit == "µL" and series.raw_unit == "mg"
    assert series.passed  # +0.29 % within ±1 %, 0.26 % within 0.5 %


def test_evaporation_is_added_back_to_each_reading() -> None:
    dry = volume_series(
        nominal_ul=20.0,
        readings_mg=TEN_MG,
        shots_per_reading=1,
        environment=LAB,
        cycle_time_s=30.0,
        readability_mg=0.01,
    )
    wet = volume_series(
        nominal_ul=20.0,
        readings_mg=TEN_MG,
        shots_per_reading=1,
        environment=LAB,
        cycle_time_s=30.0,
        readability_mg=0.01,
        evaporation=Evaporation(0.001, 0.0001),
    )
    assert wet.mean - dry.mean == pytest.approx(0.03 * z_factor(20.0, 1013.0))
    assert wet.expanded_uncertainty > dry.expanded_uncertainty


def test_several_shots_per_reading_give_volume_per_shot_and_the_single_shot_spread() -> None:
    readings = [10 * 2.0 * (1 + d) for d in (-0.002, 0.002, -0.002, 0.002, -0.002, 0.002, -0.002, 0.002, -0.002, 0.002)]
    series = volume_series(
        nominal_ul=2.0,
        readings_mg=readings,
        shots_per_reading=10,
        environment=LAB,
        cycle_time_s=0.0,
        readability_mg=0.01,
    )
    assert series.mean == pytest.approx(2.0 * z_factor(20.0, 1013.0))
    assert series.shots_per_reading == 10
    assert series.single_shot_spread_pct == pytest.approx(series.random_pct * math.sqrt(10))
    assert series.random_pct == pytest.approx(100 * math.sqrt(10 * 0.002**2 / 9))


def test_a_series_out_of_its_limits_fails_and_one_reading_is_not_a_series() -> None:
    short = volume_series(
        nominal_ul=20.0,
        readings_mg=[m * 1.03 for m in TEN_MG],
        shots_per_reading=1,
        environment=LAB,
        cycle_time_s=0.0,
        readability_mg=0.01,
    )
    assert not short.passed and short.systematic_pct == pytest.approx(3.3, abs=0.05)
    scattered = volume_series(
        nominal_ul=20.0,
        readings_mg=[19.8, 20.2] * 5,
        shots_per_reading=1,
        environment=LAB,
        cycle_time_s=0.0,
        readability_mg=0.01,
    )
    assert not scattered.passed and scattered.random_pct > 0.5 and abs(scattered.systematic_pct) < 1
    with pytest.raises(ParameterError, match="at least 2") as caught:
        volume_series(
            nominal_ul=20.0,
            readings_mg=[20.0],
            shots_per_reading=1,
            environment=LAB,
            cycle_time_s=0,
            readability_mg=0.01,
        )
    assert caught.value.field == "readings_mg"


def test_limits_are_iso_8655_2s_never_looser_than_the_issues_1_and_0_5_percent() -> None:
    assert iso_8655_2_limits(20.0).systematic_pct == pytest.approx(1.0)
    assert iso_8655_2_limits(20.0).random_pct == pytest.approx(0.5)
    assert iso_8655_2_limits(100.0).systematic_pct == pytest.approx(0.8)
    assert iso_8655_2_limits(15.0).systematic_pct == pytest.approx(100 * 0.2 / 15)  # the 20 µL row, in µL
    assert iso_8655_2_limits(2.0).systematic_pct == pytest.approx(4.0)
    twenty, two, hundred = volume_limits(20.0), volume_limits(2.0), volume_limits(100.0)
    assert (twenty.systematic_pct, twenty.random_pct) == pytest.approx((1.0, 0.5))
    assert (two.systematic_pct, two.random_pct) == pytest.approx((1.0, 0.5))
    assert "capped" in two.source and "capped" not in twenty.source
    assert (hundred.systematic_pct, hundred.random_pct) == pytest.approx((0.8, 0.3))
    with pytest.raises(ParameterError, match="volume_ul=0"):
        iso_8655_2_limits(0.0)


def test_the_expanded_uncertainty_is_twice_the_combined_standard_uncertainty() -> None:
    series = volume_series(
        nominal_ul=20.0, readings_mg=TEN_MG, shots_per_reading=1, environment=LAB, cycle_time_s=0.0, readability_mg=0.01
    )
    z = z_factor(20.0, 1013.0)
    repeatability = math.sqrt(10 * 0.05**2 / 9) / math.sqrt(10) * z
    readability = 0.01 / math.sqrt(6) * z
    z_part = 20.0 * math.hypot(2.5e-4 * 0.2, metrology.Z_MODEL_UNCERTAINTY_UL_PER_MG)  # dZ/dT ≈ 2.5e-4 /°C
    expected = 2 * math.sqrt(repeatability**2 + readability**2 + z_part**2)
    assert series.coverage_factor == 2.0
    assert series.expanded_uncertainty == pytest.approx(expected, rel=0.05)
    assert series.expanded_uncertainty < 0.2 * 0.2  # well under the ±0.2 µL limit: the test can tell pass from fail
    coarse = volume_series(
        nominal_ul=20.0, readings_mg=TEN_MG, shots_per_reading=1, environment=LAB, cycle_time_s=0.0, readability_mg=0.1
    )
    assert coarse.expanded_uncertainty > series.expanded_uncertainty


def test_depth_fit_finds_offset_and_gain_with_residuals() -> None:
    fit = fit_depth([1000.0, 2000.0, 3000.0, 4000.0], [1081.0, 2079.0, 3081.0, 4079.0])
    assert fit.gain == pytest.approx(0.9996)
    assert fit.offset_um == pytest.approx(81.0)
    assert fit.residuals_um == pytest.approx([0.4, -1.2, 1.2, -0.4], abs=1e-9)
    assert fit.max_residual_um == pytest.approx(1.2)
    with pytest.raises(ParameterError, match="2 different set depths"):
        fit_depth([2000.0, 2000.0], [2080.0, 2081.0])


def test_depth_series_judge_the_needle_within_50_um_and_their_means_fit() -> None:
    points = [
        depth_series(set_depth_um=s, gauge_readings_um=[s + 80, s + 81, s + 79], gauge_resolution_um=1.0)
        for s in (1000.0, 2500.0, 4000.0)
    ]
    assert [p.systematic_error for p in points] == pytest.approx([80.0, 80.0, 80.0])
    assert not any(p.passed for p in points)
    assert points[0].expanded_uncertainty == pytest.approx(2 * math.hypot(1 / math.sqrt(3), 1 / math.sqrt(12)))
    fit = fit_depth_series(points)
    assert (fit.gain, fit.offset_um) == pytest.approx((1.0, 80.0))
    assert corrected_depth(0, 1.0, fit) == (80, pytest.approx(1.0))
    good = depth_series(set_depth_um=2000.0, gauge_readings_um=[2010.0, 2012.0], gauge_resolution_um=1.0)
    assert good.passed


def test_the_depth_correction_composes_with_the_old_one() -> None:
    # Truth: depth = 1.02 × motor + 80. Old calibration offset 30, gain 1.01: the device drives (S − 30) / 1.01.
    def measured(s: float) -> float:
        return 1.02 * (s - 30) / 1.01 + 80

    sets = [1000.0, 2000.0, 3000.0, 4000.0]
    fit = fit_depth(sets, [measured(s) for s in sets])
    offset, gain = corrected_depth(30, 1.01, fit)
    assert (offset, gain) == (80, pytest.approx(1.02))


def test_rate_from_arrival_times_over_60_s() -> None:
    # Set 2 shots/s; the gun truly fires 1 % fast: every 1 / 2.02 s, with a ±1 ms jitter on the host clock.
    times = [n / 2.02 + (0.001 if n % 2 else -0.001) for n in range(130)]
    series = rate_series(set_rate_hz=2.0, arrival_times_s=times)
    assert series.mean == pytest.approx(2.02, rel=1e-4)
    assert series.systematic_pct == pytest.approx(1.0, abs=0.01)
    assert series.raw_unit == "s" and len(series.readings) == 130 and len(series.values) == 129
    assert 0 < series.expanded_uncertainty < 0.001
    assert corrected_rate_gain(1.0, [series]) == pytest.approx(1.01, rel=1e-4)


def test_a_rate_over_less_than_60_s_is_refused() -> None:
    with pytest.raises(ParameterError) as caught:
        rate_series(set_rate_hz=2.0, arrival_times_s=[n / 2 for n in range(100)])  # 49.5 s
    assert caught.value.field == "span_s"
    assert "span_s=49.500 is shorter than the 60 s" in str(caught.value)


def test_the_volume_correction_is_old_gain_times_measured_over_nominal() -> None:
    runs = [
        volume_series(
            nominal_ul=v,
            readings_mg=[v * 1.03 / z_factor(20, 1013) * f for f in (0.999, 1.001)],
            shots_per_reading=1,
            environment=LAB,
            cycle_time_s=0.0,
            readability_mg=0.01,
        )
        for v in (20.0, 10.0, 2.0)
    ]
    assert corrected_volume_gain(1.0, runs, brand="BD") == pytest.approx(1.03)
    assert corrected_volume_gain(1.01, runs, brand="BD") == pytest.approx(1.01 * 1.03)


@pytest.mark.parametrize(
    ("call", "field", "words"),
    [
        (
            lambda runs: corrected_volume_gain(1.0, runs(1.25), brand="Terumo"),
            "volume_gain_by_brand.Terumo",
            "1.250000",
        ),
        (lambda runs: corrected_volume_gain(1.0, runs(0.79)), "volume_gain", "0.790000"),
        (lambda runs: corrected_rate_gain(1.15, runs(1.1)), "rate_gain", "1.265000"),
    ],
)
def test_a_correction_outside_plausible_bounds_is_refused(call, field, words) -> None:
    def runs(ratio: float):
        return [
            volume_series(
                nominal_ul=20.0,
                readings_mg=[20.0 * ratio / z_factor(20, 1013)] * 2,
                shots_per_reading=1,
                environment=LAB,
                cycle_time_s=0.0,
                readability_mg=0.01,
            )
        ]

    with pytest.raises(ParameterError) as caught:
        call(runs)
    assert caught.value.field == field
    assert f"{field}={words} is outside the plausible 0.80–1.20; not written" in str(caught.value)


def test_a_depth_offset_beyond_500_um_is_refused() -> None:
    fit = fit_depth([1000.0, 3000.0], [1600.0, 3600.0])
    with pytest.raises(ParameterError, match=r"depth_offset_um=600.0 is outside the plausible ±500 µm") as caught:
        corrected_depth(0, 1.0, fit)
    assert caught.value.field == "depth_offset_um"
    steep = fit_depth([1000.0, 3000.0], [1300.0, 3900.0])
    with pytest.raises(ParameterError, match=r"depth_gain=1\.300000"):
        corrected_depth(0, 1.0, steep)
