"""SIGKILL of a firing host (real processes): the next host's record agrees with the device counter."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesogun.testing.reliability.crash import run_crash

pytestmark = [pytest.mark.realio, pytest.mark.slow]


def test_killed_host_loses_and_duplicates_no_shot_and_the_watchdog_stops_the_gun(tmp_path: Path) -> None:
    summary = run_crash(rounds=2, seed=3, max_kill_after_s=0.8, workdir=tmp_path)
    assert summary["failures"] == []
    assert summary["rounds"] == 2
    assert summary["watchdog_tripped"] == 2
    assert summary["shots_duplicated"] == 0
    assert summary["printed_not_recorded"] == 0
    assert summary["shots_fired"] == summary["shots_received"] + summary["shots_unreceived"]
    # counted on the device (reported by the simulator process): each round's fire ran exactly once
    assert summary["fire_commands_sent"] == summary["fire_commands_executed_on_device"] == 2
    assert summary["commands_executed_on_device"]["ok"]
    assert all(r["watchdog_silence_ms"] is not None for r in summary["per_round"])
