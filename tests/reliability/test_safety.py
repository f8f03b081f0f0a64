"""Fault → firing stopped, on the device's clock: within one shot period (host silence: watchdog + one)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from mesogun.testing.reliability.safety import FAULTS, trial

Runner = Callable[[Callable[[], Any]], Any]


@pytest.mark.parametrize("rate_mhz", [500, 2000, 10_000])
@pytest.mark.parametrize("fault", FAULTS)
def test_firing_stops_within_the_allowed_device_time_after_the_fault(
    fault: str, rate_mhz: int, virtual: Runner
) -> None:
    """Injected at a random moment of continuous firing, the fault stops the gun in time and raises its alarm."""
    rng = random.Random(f"{fault}-{rate_mhz}")
    for _ in range(2):
        result = virtual(lambda: trial(fault, rate_mhz, rng))
        assert result.alarm_ms is not None, f"{fault}: no alarm raised"
        assert result.stop_latency_ms <= result.limit_ms, result
        assert result.state_after != "firing"
        if fault != "host_silence":
            assert result.shots_after_fault == 0, result
        assert result.ok
