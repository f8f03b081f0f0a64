"""The benchmark harness's own rules: ratio direction, percentiles, skip lines (no timing is asserted)."""

from __future__ import annotations

import asyncio
import math

import pytest

from benchmarks import estop_sim, processes, runner, service_load
from benchmarks.errors import Unavailable
from benchmarks.record import Better, Result, ratio_for
from benchmarks.report import table
from benchmarks.service import process_cpu_seconds
from benchmarks.settings import Mode, Settings
from benchmarks.sse import SseParser, Tally
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
        assert settings.service_estop_tries >= 50
        assert settings.load_clients >= 20
    full = Settings.for_mode(Mode.FULL)
    assert full.load_seconds >= 300  # issue 13: 20 clients for 5 minutes
    assert (full.scale_shots, full.scale_visits) == (1_000_000, 10_000)  # issue 14: 1,000,000 shots, 10,000 sessions
    assert full.scale_fire_shots >= 100  # a p99 of the shot commit over at least 100 shots per record
    assert full.slow_stall_seconds < full.load_baseline_seconds + full.load_seconds  # it reads again mid-burst


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


def test_the_event_stream_parser_yields_kind_and_json_data_and_skips_comments() -> None:
    parser = SseParser()
    lines = [": keep-alive", "event: shot", 'data: {"index": 7}', "", "", 'data: {"a": 1}', ""]
    events = [event for event in map(parser.line, lines) if event is not None]
    assert events == [("shot", {"index": 7}), ("message", {"a": 1})]


def test_cpu_seconds_from_proc_follow_this_process_s_own_cpu_time() -> None:
    import os
    import time

    before, own = process_cpu_seconds(os.getpid()), time.process_time()
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    spent, own_spent = process_cpu_seconds(os.getpid()) - before, time.process_time() - own
    assert abs(spent - own_spent) < 0.05  # clock ticks of 10 ms on either side


def _load_figures(prompt: list[Tally], slow: Tally, recorded: list[int]) -> dict[str, object]:
    burst = {"cpu_s": 1.0, "wall_s": 10.0, "clients_cpu_s": 0.5}
    return {
        "baseline": burst,
        "main": burst,
        "before": 10,
        "after": 15,
        "prompt": prompt,
        "slow": slow,
        "recorded": recorded,
        "slow_stalled_s": 5.0,
        "slow_told_after_s": 5.1,
    }


def test_the_load_verdict_counts_a_client_with_a_gap_a_repeat_or_a_missed_notice_as_incomplete() -> None:
    settings = Settings.for_mode(Mode.SMOKE)
    shots = [11, 12, 13, 14, 15]
    good = [Tally(f"client {i}", shots=[9, 10, *shots]) for i in range(settings.load_clients - 3)]  # earlier shots ok
    gap = Tally("gap", shots=[11, 12, 14, 15])
    repeat = Tally("repeat", shots=[11, 12, 12, 13, 14, 15])
    told = Tally("told", shots=list(shots), missed=3)  # every shot, but some status was dropped for it
    slow = Tally("slow", shots=[14, 15], missed=3)
    lines = {r.name: r for r in service_load.evaluate(_load_figures([*good, gap, repeat, told], slow, shots), settings)}
    complete = lines["service_sse_clients_complete"]
    assert complete.ours == round((settings.load_clients - 3) / settings.load_clients, 4) and complete.met is False
    assert complete.extra["clients_incomplete"] == {"gap": 1, "repeat": 0, "told": 0}
    assert lines["service_sse_slow_client_told"].met is True  # told of 3, lacks 3 shots
    assert lines["service_record_shots_vs_device"].met is True


def test_a_slow_client_told_of_fewer_events_than_the_shots_it_lacks_was_not_told() -> None:
    settings = Settings.for_mode(Mode.SMOKE)
    shots = [11, 12, 13, 14, 15]
    prompt = [Tally(f"client {i}", shots=list(shots)) for i in range(settings.load_clients)]
    quiet = service_load.evaluate(_load_figures(prompt, Tally("slow", shots=[15], missed=2), shots[:-1]), settings)
    lines = {r.name: r for r in quiet}
    assert lines["service_sse_clients_complete"].met is True
    assert lines["service_sse_slow_client_told"].met is False  # lacks 4 shots, told of 2 events
    assert lines["service_record_shots_vs_device"].ours == 0.8  # the record lacks the last shot


def test_a_child_s_two_announcement_lines_written_at_once_are_both_read() -> None:
    """``mesogun sim --control`` prints CONTROL and SERIAL back to back: the second must not be lost in a buffer."""
    import sys

    script = "import sys, time; sys.stdout.write('CONTROL x\\nSERIAL y\\n'); sys.stdout.flush(); time.sleep(10)"
    with processes.child([sys.executable, "-c", script], stdout=True) as announcer:
        assert announcer.read_line(10, "announcer") == "CONTROL x"
        assert announcer.read_line(2, "announcer") == "SERIAL y"
