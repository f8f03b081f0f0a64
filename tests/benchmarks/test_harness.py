"""The benchmark harness's own rules: ratio direction, percentiles, skip lines (no timing is asserted)."""

from __future__ import annotations

import asyncio
import math

import pytest

from benchmarks import estop_sim, processes, runner
from benchmarks.errors import Unavailable
from benchmarks.record import Better, Result, ratio_for
from benchmarks.report import table
from benchmarks.settings import Mode, Settings
from benchmarks.stats import median, percentile
from firmware_protocol import make, to_wire
from sims.device import SimulatedGun


def test_throughput_ratio_is_ours_over_peer_and_time_ratio_is_peer_over_ours() -> None:
    assert ratio_for(300.0, 100.0, Better.HIGHER) == 3.0
    assert ratio_for(0.5, 2.0, Better.LOWER) == 4.0
    assert ratio_for(0.0, 2.0, Better.LOWER) == math.inf


def test_goal_is_met_when_the_ratio_reaches_it_and_informational_lines_have_no_verdict() -> None:
    met = Result("x", 1.0, "peer", 4.0, "ms", Better.LOWER, 4.0)
    missed = Result("x", 2.0, "peer", 4.0, "ms", Better.LOWER, 4.0)
    info = Result("x", 2.0, "peer", 4.0, "ms", Better.LOWER, None)
    assert (met.met, missed.met, info.met) == (True, False, None)
    assert met.as_json()["ratio"] == 4.0


def test_percentile_is_nearest_rank_and_median_ignores_one_outlier() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
    assert median([1.0, 1.1, 50.0]) == 1.1


def test_socat_missing_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(Unavailable, match="apt-get install socat"), processes.socat_pair():
        pass


def test_an_unavailable_prerequisite_becomes_skipped_lines_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def needs_socat(settings: Settings) -> list[Result]:
        raise Unavailable(processes.SOCAT_HINT)

    bench = runner.Benchmark("fake", needs_socat, (("fake_p50", "peer", "ms", Better.LOWER, 4.0),))
    monkeypatch.setattr(runner, "registry", lambda: [bench])
    (line,) = runner.run_all(Settings.for_mode(Mode.SMOKE))
    assert line.skipped is not None and "apt-get install socat" in line.skipped
    assert line.as_json()["ratio"] is None
    assert "skipped fake_p50: socat is not installed" in table([line])


def test_quick_and_full_runs_take_enough_samples_for_the_goals_they_report() -> None:
    for mode in (Mode.QUICK, Mode.FULL):
        settings = Settings.for_mode(mode)
        assert settings.estop_tries >= 50  # p99 over at least 50 emergency stops
        assert settings.session_repeats >= 3  # the virtual-time speedup is a median, not one sample


def test_estop_simulator_reports_each_emergency_stop_the_device_executed_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The child prints the device's own halt time for each e-stop it executed, once; a repeat halts nothing."""

    async def scenario() -> list[str]:
        device = SimulatedGun()
        await device.start()
        device.attach(lambda _bytes: None)
        try:
            estop_sim.report_stops(device)
            for seq in (1, 2):  # the second one finds the device already stopped
                device.receive(to_wire(make("emergency_stop", seq=seq)))
                await asyncio.sleep(3 * estop_sim.POLL_S)
        finally:
            await device.close()
        return capsys.readouterr().out.split()

    lines = asyncio.run(scenario())
    assert lines[0::2] == ["ESTOP"]
    assert float(lines[1]) > 0
