"""The calibration procedure end to end against a gun with a hidden error: what the ground truth shows after
calibrating (issue 16 item 5), and every bad input refused or aborted with the old calibration kept (item 8).

These run on fakes (fakes.py), where each fault is one switch; test_accuracy.py runs the accuracy on sim:// and
sim-balance://.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from mesogun.calibration.errors import CalibrationAborted, CalibrationRefused
from mesogun.calibration.procedure import DepthPlan, Procedure, RatePlan, VolumePlan
from mesogun.calibration.prompts import ScriptedPrompter
from mesogun.calibration.seams import (
    BalanceError,
    BalanceIdentity,
    CalibrationRun,
    Environment,
    RunOutcome,
    WrongBalanceModel,
)
from mesogun.errors import DeviceRefused, ParameterError
from tests.conftest import Runner
from tests.mesogun.calibration.fakes import (
    BalanceFaults,
    FakeBalance,
    FakeGauge,
    FakeGun,
    Truth,
    gun_info,
)

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ANSWERS: dict[str, object] = {
    "technician": "T. Tech",
    "syringe_brand": "BD",
    "balance_due": "2025-12-31",
    "temperature_c": 20.0,
    "pressure_hpa": 1013.25,
    "humidity_pct": 50.0,
    "check_weight_g": 100.0,
    "check_weight_id": "F1 100 g S/N W77",
}


class Recorder:
    """A reporter that keeps what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []
        self.readings: list[dict[str, object]] = []
        self.runs: list[CalibrationRun] = []

    def step(self, step: str, status: str, **fields: object) -> None:
        self.events.append((step, status))

    def reading(self, series: str, **fields: object) -> None:
        self.readings.append({"series": series, **fields})

    def finished(self, run: CalibrationRun) -> None:
        self.runs.append(run)


@dataclass
class Bench:
    """A gun with its hidden truth, a balance and gauge on it, the technician's answers."""

    gun: FakeGun
    balance: FakeBalance
    prompter: ScriptedPrompter
    reporter: Recorder
    procedure: Procedure


def bench(
    truth: Truth | None = None,
    *,
    answers: dict[str, object] | None = None,
    balance: dict[str, Any] | None = None,
    refuse_write: bool = False,
    decline: str | None = None,
    check_mass_g: float | None = None,
) -> Bench:
    gun = FakeGun(gun_info(), truth, refuse_write=refuse_write)
    scale = FakeBalance(gun, **(balance or {}))
    given = {**ANSWERS, **(answers or {})}

    def hook(key: str) -> None:
        if key == "place_check_weight":
            scale.extra_g = check_mass_g if check_mass_g is not None else float(str(given["check_weight_g"]))
        if key == "remove_check_weight":
            scale.extra_g = 0.0

    if decline:
        given[decline] = False
    prompter = ScriptedPrompter(given, yes=True, on_prompt=hook)
    reporter = Recorder()
    return Bench(gun, scale, prompter, reporter, Procedure(gun, prompter, reporter, now=lambda: NOW))


def delivered(virtual: Runner, gun: FakeGun, dose_ul: float, count: int = 10) -> tuple[float, float]:
    """Fire ``count`` drops of ``dose_ul`` as a practitioner would and read the ground truth: (systematic %,
    random %) of what truly left the needle."""
    gun.shots.clear()
    gun.armed = True

    async def fire() -> None:
        await gun.deliver(count, dose_ul / 1000, 2.0)

    virtual(fire)
    true = [s.true_ul for s in gun.shots]
    mean = statistics.fmean(true)
    return (mean - dose_ul) / dose_ul * 100, statistics.stdev(true) / mean * 100


def run_volume(virtual: Runner, b: Bench, plan: VolumePlan | None = None) -> CalibrationRun:
    return virtual(lambda: b.procedure.volume(b.balance, plan or VolumePlan()))


def aborted(
    virtual: Runner, b: Bench, run: Callable[[], Coroutine[Any, Any, Any]], error: type[BaseException]
) -> CalibrationRun:
    with pytest.raises(error):
        virtual(run)
    run_ = b.procedure.run
    assert run_ is not None and run_.outcome is RunOutcome.ABORTED
    assert b.reporter.runs == [run_]
    return run_


# ---------------------------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize(
    ("brand", "truth"),
    [("BD", Truth()), ("Terumo", Truth(volume_gain_by_brand={"BD": 1.03, "Terumo": 0.97}))],
    ids=["default-error", "terumo-0.97"],
)
def test_volume_calibration_reaches_20_ul_within_1_and_0_5_percent(virtual: Runner, brand: str, truth: Truth) -> None:
    b = bench(truth, answers={"syringe_brand": brand})
    b.gun.brand = brand
    before = delivered(virtual, b.gun, 20.0)
    run = run_volume(virtual, b)
    after = delivered(virtual, b.gun, 20.0)
    print(
        f"\nvolume {brand} (hidden gain {truth.gain(brand)}): at 20 µL before {before[0]:+.3f} % systematic, "
        f"after {after[0]:+.3f} % systematic, {after[1]:.3f} % random; device gain "
        f"{b.gun.calibration.volume_gain_by_brand[brand]}"
    )
    assert run.outcome is RunOutcome.PASSED, run.reason
    assert abs(before[0]) > 2.5  # the hidden error, uncorrected
    assert abs(after[0]) <= 1.0 and after[1] <= 0.5
    assert [s.nominal for s in run.as_found] == [200.0, 100.0, 20.0]
    assert all(len(s.readings) == 10 for s in (*run.as_found, *run.as_left))
    assert run.constants_after is not None and run.constants_after.calibration_id == 1
    assert run.certificate_id and run.due_at is not None and run.signature is not None
    assert run.signature.signer == "T. Tech"


def test_small_drops_are_weighed_several_to_a_reading_with_their_single_shot_spread(virtual: Runner) -> None:
    b = bench()
    run = run_volume(virtual, b, VolumePlan(nominal_ul=20.0))
    two = run.as_found[-1]
    assert two.nominal == 2.0 and two.shots_per_reading == 5
    assert two.single_shot_spread_pct is not None
    assert any(r["shots"] == 5 for r in b.reporter.readings)


def test_depth_calibration_reaches_0_05_mm(virtual: Runner) -> None:
    b = bench()
    gauge = FakeGauge(b.gun)
    run = virtual(lambda: b.procedure.depth(gauge, DepthPlan()))
    errors = []

    async def check() -> None:
        for depth in (1.0, 2.0, 3.0, 4.0):
            await b.gun.hold_depth(depth)
            errors.append(b.gun.true_needle_depth_um() / 1000 - depth)

    virtual(check)
    print(f"\ndepth: worst error after calibration {max(map(abs, errors)) * 1000:.1f} µm (hidden +80 µm)")
    assert run.outcome is RunOutcome.PASSED, run.reason
    assert max(map(abs, errors)) <= 0.05
    assert b.gun.calibration.depth_offset_um == 80


def test_rate_calibration_reaches_1_percent_on_the_host_clock(virtual: Runner) -> None:
    b = bench(Truth(rate_gain=0.98))
    run = virtual(lambda: b.procedure.rate(RatePlan()))
    assert run.outcome is RunOutcome.PASSED, run.reason
    b.gun.shots.clear()
    b.gun.armed = True
    virtual(lambda: b.gun.deliver(121, 0.001, 5.0))
    times = [s.at for s in b.gun.shots]
    true_hz = (len(times) - 1) / (times[-1] - times[0])
    print(f"\nrate: set 5 Hz, true {true_hz:.4f} Hz after calibration ({(true_hz / 5 - 1) * 100:+.3f} %; hidden −2 %)")
    assert abs(true_hz / 5 - 1) <= 0.01
    assert run.as_found[0].mean == pytest.approx(4.9, rel=1e-3)


# ---------------------------------------------------------------------------------------------- bad input


def test_a_balance_that_never_settles_aborts_and_changes_nothing(virtual: Runner) -> None:
    b = bench(balance={"faults": BalanceFaults(never_settles=True)})
    run = aborted(virtual, b, lambda: b.procedure.volume(b.balance), BalanceError)
    assert run.reason.startswith("aborted at check_weight:") and "no stable weight" in run.reason
    assert b.gun.writes == []


def test_a_balance_disconnecting_after_the_write_puts_the_old_calibration_back(virtual: Runner) -> None:
    b = bench(balance={"faults": BalanceFaults(disconnect_after=1 + 1 + 30 + 5)})
    run = aborted(virtual, b, lambda: b.procedure.volume(b.balance), BalanceError)
    assert run.reason.startswith("aborted at as_left:") and "disconnected" in run.reason
    assert [w.volume_gain_by_brand for w in b.gun.writes] == [{"BD": pytest.approx(1.03, abs=0.002)}, {}]
    assert b.gun.calibration.volume_gain_by_brand == {} and not b.gun.armed


def test_an_overloaded_balance_aborts(virtual: Runner) -> None:
    identity = BalanceIdentity("XPR205", "B1", "2.1.4", 0.00001, 21.0)
    b = bench(balance={"identity": identity})
    run = aborted(virtual, b, lambda: b.procedure.volume(b.balance), BalanceError)
    assert "overload" in run.reason and b.gun.calibration.calibration_id == 0


def test_a_balance_too_coarse_for_the_volumes_is_the_wrong_model(virtual: Runner) -> None:
    b = bench(balance={"identity": BalanceIdentity("ML204", "B2", "1.0", 0.0001, 220.0)})
    run = aborted(virtual, b, lambda: b.procedure.volume(b.balance), WrongBalanceModel)
    assert run.reason.startswith("aborted at identify:") and "0.1 mg" in run.reason and "0.01 mg or finer" in run.reason


def test_an_overdue_balance_is_refused(virtual: Runner) -> None:
    b = bench(answers={"balance_due": "2025-02-28"})
    run = aborted(virtual, b, lambda: b.procedure.volume(b.balance), CalibrationRefused)
    assert "was due 2025-02-28" in run.reason


@pytest.mark.parametrize("temperature", [14.9, 30.5])
def test_an_environment_outside_15_to_30_c_is_refused(virtual: Runner, temperature: float) -> None:
    b = bench(answers={"temperature_c": temperature})
    run = aborted(virtual, b, lambda: b.procedure.volume(b.balance), ParameterError)
    assert run.reason.startswith("aborted at environment:")
    assert f"temperature_c={temperature:g} °C is outside 15–30 °C (ISO 8655-6's test conditions)" in run.reason
    assert b.prompter.asked.index("temperature_c") == len(b.prompter.asked) - 1  # refused as given, not later


def test_a_depth_reading_typed_in_with_a_slipped_digit_is_refused_before_the_fit(virtual: Runner) -> None:
    b = bench(answers={"depth_reading": 15.0})  # the needle held at 1 mm first: 15 is a typo
    run = aborted(virtual, b, lambda: b.procedure.depth(None), ParameterError)
    assert run.reason.startswith("aborted at as_found:")
    assert "depth_reading=15 mm is outside 0.30–1.70 mm" in run.reason and b.gun.writes == []


def test_a_check_weight_out_of_tolerance_is_refused(virtual: Runner) -> None:
    b = bench(check_mass_g=100.1)  # the balance reads 100 mg heavy: outside 0.05 %
    run = aborted(virtual, b, lambda: b.procedure.volume(b.balance), CalibrationRefused)
    assert "check weight" in run.reason and b.gun.writes == []


def test_a_correction_outside_the_plausible_bounds_is_refused_not_written(virtual: Runner) -> None:
    b = bench(Truth(volume_gain=1.3))
    run = aborted(virtual, b, lambda: b.procedure.volume(b.balance), ParameterError)
    assert run.reason.startswith("aborted at correction:") and "outside the plausible 0.80–1.20" in run.reason
    assert b.gun.writes == [] and run.constants_after is None


def test_a_write_the_device_refuses_aborts_with_its_reason(virtual: Runner) -> None:
    b = bench(refuse_write=True)
    run = aborted(virtual, b, lambda: b.procedure.volume(b.balance), DeviceRefused)
    assert run.reason.startswith("aborted at write:") and "out_of_range" in run.reason
    assert b.gun.calibration.calibration_id == 0


def test_the_technician_declining_the_write_aborts_before_anything_changed(virtual: Runner) -> None:
    b = bench(decline="write")
    run = aborted(virtual, b, lambda: b.procedure.volume(b.balance), CalibrationAborted)
    assert run.reason.startswith("aborted at write:") and b.gun.writes == []


def test_the_technician_declining_to_sign_puts_the_old_calibration_back(virtual: Runner) -> None:
    b = bench(decline="sign_off")
    run = aborted(virtual, b, lambda: b.procedure.volume(b.balance), CalibrationAborted)
    assert run.reason.startswith("aborted at sign_off:") and run.signature is None
    assert b.gun.calibration.volume_gain_by_brand == {} and len(b.gun.writes) == 2


def test_ctrl_c_halfway_keeps_the_old_calibration_and_records_the_run_aborted(virtual: Runner) -> None:
    b = bench()

    async def interrupted() -> None:
        task = asyncio.ensure_future(b.procedure.volume(b.balance))
        while not b.gun.writes or not b.gun.armed:  # the write done, the as-left run under way
            await asyncio.sleep(1)
        task.cancel()
        await task

    run = aborted(virtual, b, interrupted, asyncio.CancelledError)
    assert run.reason.startswith("aborted at as_left:") and "interrupted" in run.reason
    assert b.gun.calibration.volume_gain_by_brand == {} and not b.gun.armed
    assert ("as_left", "aborted") in b.reporter.events


def test_an_environment_is_required_in_a_scripted_run(virtual: Runner) -> None:
    b = bench()
    del b.prompter.answers["pressure_hpa"]
    b.prompter.options["pressure_hpa"] = "--pressure"
    run = aborted(virtual, b, lambda: b.procedure.volume(b.balance), ParameterError)
    assert "give --pressure" in run.reason


def test_the_steps_run_in_order(virtual: Runner) -> None:
    b = bench()
    run_volume(virtual, b)
    started = [step for step, status in b.reporter.events if status == "started"]
    assert started == [
        "identify",
        "environment",
        "check_weight",
        "syringe",
        "evaporation_blank",
        "as_found",
        "correction",
        "write",
        "as_left",
        "verdict",
        "sign_off",
    ]
    assert Environment(20.0, 1013.25, 50.0) == b.procedure.run.environment  # type: ignore[union-attr]
