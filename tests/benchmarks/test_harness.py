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


def test_estop_simulator_prefers_the_snapshot_time_and_falls_back_to_its_shim(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Mark:
        monotonic = 12.5

    class Snapshot:
        last_emergency_stop = Mark()

    class WithSnapshot:
        def snapshot(self) -> Snapshot:
            return Snapshot()

    estop_sim._report(WithSnapshot(), 99.0)
    estop_sim._report(object(), 99.0)
    assert capsys.readouterr().out.split("\n")[:2] == ["ESTOP 12.500000000", "ESTOP 99.000000000"]


def test_estop_simulator_reports_each_executed_stop_after_the_handler_ran(
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls: list[str] = []

    class State:
        name = "FIRING"

    class Device:
        state = State()

        def _cmd_emergency_stop(self, msg: object) -> str:
            calls.append("halted")
            return "ack"

    async def stop_twice() -> list[str]:
        device = estop_sim.hook(Device())
        replies = [device._cmd_emergency_stop(None), device._cmd_emergency_stop(None)]
        assert capsys.readouterr().out == ""  # reported on the next loop turn, after the ack went out
        await asyncio.sleep(0)
        return replies

    assert asyncio.run(stop_twice()) == ["ack", "ack"]
    assert calls == ["halted", "halted"]
    lines = capsys.readouterr().out.split()
    assert lines[0::2] == ["ESTOP", "ESTOP"] and float(lines[1]) <= float(lines[3])


def test_estop_simulator_reads_the_snapshot_time_when_the_device_has_one(capsys: pytest.CaptureFixture[str]) -> None:
    class Mark:
        def __init__(self, when: float) -> None:
            self.monotonic = when

    class Snapshot:
        def __init__(self, when: float | None) -> None:
            self.last_emergency_stop = None if when is None else Mark(when)

    class Device:
        when: float | None = None

        def snapshot(self) -> Snapshot:
            return Snapshot(self.when)

    async def stop_once() -> None:
        device = estop_sim.hook(Device())
        await asyncio.sleep(estop_sim.POLL_S * 2)
        device.when = 7.25  # the device executed an emergency stop
        await asyncio.sleep(estop_sim.POLL_S * 3)

    asyncio.run(stop_once())
    assert capsys.readouterr().out == "ESTOP 7.250000000\n"
