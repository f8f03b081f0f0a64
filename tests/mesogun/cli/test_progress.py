"""The progress a person sees on a terminal during fire and prime: a bar on stderr with the running totals."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from firmware_protocol import AlarmCode
from mesogun.cli.firing_commands import fire_with_report, prime_with_report
from mesogun.cli.progress import BarFireReport, BarPrimeReport, JsonFireReport, PlainFireReport, Style, choose_style
from mesogun.models import ShotRecord
from mesogun.testing import sim_gun


def terminal() -> tuple[Console, io.StringIO]:
    """A rich console that believes it is a terminal, writing into a buffer."""
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=120, color_system=None), buffer


def test_fire_bar_shows_shots_volume_reservoir_and_elapsed(virtual: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """10 shots of 0.02 mL on a terminal: the bar ends at 10/10 shots, 0.200 mL delivered, the reservoir the
    device reports and the time elapsed; stdout gets only the closing line."""
    console, screen = terminal()

    async def scenario() -> float:
        async with sim_gun() as (gun, _):
            await gun.load_syringe(capacity_ml=5, fill_ml=5)
            await gun.prime(volume_ml=0.1)
            await gun.configure(depth_mm=1.5, dose_ml=0.02, rate_hz=10, mode="burst")
            with BarFireReport(10, console) as report:
                await fire_with_report(gun, 10, report)
                report.finish(None)
            return gun.status.reservoir_ml

    reservoir = virtual(scenario)
    shown = screen.getvalue()
    assert "10/10 shots" in shown and "0.200 mL delivered" in shown
    assert f"{reservoir:.3f} mL left" in shown
    assert "0:00:0" in shown  # the elapsed column
    assert capsys.readouterr().out == "fired 10 shots, 0.200 mL\n"


def test_the_prime_spinner_shows_the_volume_and_what_is_left(virtual: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """prime on a terminal: "priming 0.100 mL" while it runs, then what was primed and what is left."""
    console, screen = terminal()

    async def scenario() -> dict[str, Any]:
        async with sim_gun() as (gun, _):
            await gun.load_syringe(capacity_ml=5, fill_ml=5)
            with BarPrimeReport(console) as report:
                result = await prime_with_report(gun, 0.1, report)
                report.finish(result)
            return result

    result = virtual(scenario)
    shown = screen.getvalue()
    assert "priming 0.100 mL" in shown and "5.000 mL in the syringe" in shown
    assert "primed 0.100 mL" in shown and f"{result['reservoir_ml']:.3f} mL left" in shown
    assert capsys.readouterr().out.splitlines() == ["primed_ml     0.1", f"reservoir_ml  {result['reservoir_ml']}"]


def test_json_lines_carry_running_totals(virtual: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Each shot line carries its place in the acknowledged count and the running volume; the summary adds up."""

    async def scenario() -> None:
        async with sim_gun() as (gun, _):
            await gun.load_syringe(capacity_ml=5, fill_ml=5)
            await gun.prime(volume_ml=0.1)
            await gun.configure(depth_mm=1.5, dose_ml=0.02, rate_hz=10, mode="burst")
            report = JsonFireReport(3)
            await fire_with_report(gun, 3, report)
            report.finish(None)

    virtual(scenario)
    import json

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["event"], e.get("done"), e["count"]) for e in lines] == [
        ("shot", 1, 3),
        ("shot", 2, 3),
        ("shot", 3, 3),
        ("summary", None, 3),
    ]
    assert [e["volume_ml"] for e in lines] == [0.02, 0.04, 0.06, 0.06]
    assert lines[-1]["fired"] == 3 and lines[-1]["reservoir_ml"] < 5


def test_plain_output_when_not_on_a_terminal() -> None:
    """Under pytest stdout is captured, not a terminal: plain lines; --json wins always."""
    assert choose_style(as_json=False) is Style.PLAIN
    assert choose_style(as_json=True) is Style.JSON


def test_a_fire_refused_before_the_ack_leaves_no_bar_behind() -> None:
    """Refused before the device acknowledged (the gun not ready, a count single mode refuses): no bar is drawn."""
    console, screen = terminal()
    with BarFireReport(10, console) as report:
        report.finish(None, "cannot fire: the gun is idle")
    assert screen.getvalue() == ""


def test_a_partial_shot_line_names_the_alarm_even_when_only_the_error_told_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The fire ended with an alarm whose event was not shown (it raced the error): the partial shot's line
    still names it, once; a partial shot's volume is what left, not its dose."""
    report = PlainFireReport(10)
    report.shot(ShotRecord(1, 1.5, 0.02, 0.0, 3), 4.0)
    report.shot(ShotRecord(2, 1.5, 0.02, 0.2, 3, partial=True, delivered_ml=0.009), 3.9)
    report.stopped_by(AlarmCode.OCCLUSION)
    report.finish(None, "fire: occlusion")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[1/10] shot 1: depth 1.50 mm, dose 0.020 mL")
    assert lines[1] == "[2/10] shot 2: partial, 0.009 of 0.020 mL, stopped by occlusion (depth 1.50 mm, t=0.200 s)"
    assert len(lines) == 2
    assert report.totals.summary()["volume_ml"] == 0.029 and report.totals.partial == 1
