"""Unit conversions against the device's limits: user units to wire units, and the errors a user reads."""

from __future__ import annotations

from typing import Any

import pytest

from mesogun.errors import ParameterError
from mesogun.units import DEPTH, DOSE, RATE, WireRange, to_wire, to_wire_int, volume

DEPTH_RANGE = WireRange(1000, 4000, 100)


@pytest.mark.parametrize(
    ("q", "value", "limits", "wire"),
    [
        (DEPTH, 1.5, DEPTH_RANGE, 1500),
        (DEPTH, 4, DEPTH_RANGE, 4000),
        (DOSE, 0.02, WireRange(1000, 200_000, 1000), 20_000),
        (DOSE, 0.1 * 3, WireRange(1000, 400_000, 1000), 300_000),  # float noise is tolerated
        (RATE, 0.5, WireRange(500, 10_000, 100), 500),
    ],
)
def test_user_values_convert_to_wire_units(q: Any, value: float, limits: WireRange, wire: int) -> None:
    assert to_wire(q, value, limits) == wire


def test_limits_come_from_the_device_not_from_hard_coded_copies() -> None:
    """A device reporting a 2–6 mm range accepts 5 mm, which the reference device would refuse."""
    assert to_wire(DEPTH, 5.0, WireRange(2000, 6000, 500)) == 5000
    with pytest.raises(ParameterError, match=r"depth_mm=1.5 is outside the device's range 2.0–6.0 mm"):
        to_wire(DEPTH, 1.5, WireRange(2000, 6000, 500))
    with pytest.raises(ParameterError, match=r"resolution 0.5 mm \(nearest settings: 2.5 or 3.0 mm\)"):
        to_wire(DEPTH, 2.7, WireRange(2000, 6000, 500))


def test_parameter_error_names_field_and_value() -> None:
    with pytest.raises(ParameterError) as caught:
        to_wire(DEPTH, 4.05, DEPTH_RANGE)
    assert str(caught.value) == "depth_mm=4.05 is outside the device's range 1.0–4.0 mm"
    assert (caught.value.field, caught.value.value) == ("depth_mm", 4.05)


def test_values_finer_than_a_wire_unit_are_refused() -> None:
    with pytest.raises(ParameterError, match=r"finer than the wire resolution"):
        to_wire_int(DEPTH, 1.0004)


@pytest.mark.parametrize(
    ("q", "value", "limits", "message"),
    [
        (DEPTH, 1e308, DEPTH_RANGE, "depth_mm=1e+308 is outside the device's range 1.0–4.0 mm"),
        (DOSE, 1e306, WireRange(1000, 200_000, 1000), "dose_ml=1e+306 is outside the device's range 0.001–0.200 mL"),
        (DOSE, -1e308, WireRange(1000, 200_000, 1000), "dose_ml=-1e+308 is outside the device's range 0.001–0.200 mL"),
        (RATE, 1e308, WireRange(500, 10_000, 100), "rate_hz=1e+308 is outside the device's range 0.5–10.0 Hz"),
        (DEPTH, 10**400, DEPTH_RANGE, "is outside the device's range 1.0–4.0 mm"),
    ],
    ids=["depth-1e308", "dose-1e306", "dose-minus-1e308", "rate-1e308", "depth-int-10e400"],
)
def test_absurd_finite_values_are_out_of_range_not_an_overflow(
    q: Any, value: float, limits: WireRange, message: str
) -> None:
    """1e308 mm overflows to infinity once scaled to µm: it is refused as out of range (ParameterError)."""
    with pytest.raises(ParameterError) as caught:
        to_wire(q, value, limits)
    assert message in str(caught.value)
    assert caught.value.field == q.field


def test_absurd_volumes_convert_exactly_for_the_callers_range_check() -> None:
    """load --capacity 1e308 / prime --volume 1e308: a whole number of nL the caller refuses, never OverflowError."""
    assert to_wire_int(volume("capacity_ml"), 1e308) == int(1e308) * 1_000_000
    assert to_wire_int(volume("volume_ml"), -1e308) < 0
