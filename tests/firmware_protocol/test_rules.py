"""The pure parts of the device rules: rounding to the grid and the reference device model."""

from __future__ import annotations

import pytest

from firmware_protocol.rules import REFERENCE_LIMITS, REFERENCE_MODEL, applied_value


@pytest.mark.parametrize(
    ("value", "applied"),
    [(1000, 1000), (1049, 1000), (1050, 1100), (1051, 1100), (3949, 3900), (3950, 4000), (4000, 4000)],
)
def test_values_round_to_the_nearest_step_from_the_minimum_with_ties_up(value: int, applied: int) -> None:
    assert applied_value(value, 1000, 4000, 100) == applied


def test_a_rounding_that_would_land_above_an_off_grid_maximum_applies_the_largest_step_below_it() -> None:
    assert applied_value(4040, 1000, 4050, 100) == 4000
    assert applied_value(4050, 1000, 4050, 100) == 4000  # 4100 would be above the maximum


def test_an_odd_step_has_no_ties() -> None:
    assert [applied_value(v, 0, 9, 3) for v in range(10)] == [0, 0, 3, 3, 3, 6, 6, 6, 9, 9]


def test_the_reference_stroke_fits_the_shortest_shot_period() -> None:
    """Why the reference device never refuses a dose for the plunger: 60 ms < 1000 / 10 shots/s."""
    longest = REFERENCE_MODEL.stroke_ms(REFERENCE_LIMITS.dose_max_nl, REFERENCE_LIMITS.dose_max_nl)
    assert longest == 60 < 1000 * 1000 / REFERENCE_LIMITS.rate_max_mhz
    assert REFERENCE_MODEL.stroke_ms(10_000, REFERENCE_LIMITS.dose_max_nl) == 22
