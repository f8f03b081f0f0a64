"""``mesogun calibrate``: the commands, their options and their usage errors.

TODO(merge): the scripted runs on ``sim://`` with ``sim-balance://`` (volume, depth, rate in virtual time, the run
and certificate in the record, ``history``) once the calibration family, the balance and the record land.
"""

from __future__ import annotations

import pytest

from mesogun.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_calibrate_offers_volume_depth_rate_and_history(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "calibrate", "--help")
    assert code == 0
    for command in ("volume", "depth", "rate", "history"):
        assert command in out


@pytest.mark.parametrize("command", ["volume", "depth", "rate"])
def test_each_run_takes_the_scripted_options_and_the_global_ones(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, out, _ = run(capsys, "calibrate", command, "--help")
    assert code == 0
    for option in ("--technician", "--temperature", "--pressure", "--humidity", "--yes", "--json", "--certificate"):
        assert option in out
    assert "--device" in out and "--db" in out and "--service" in out


def test_a_volume_run_needs_a_balance(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "calibrate", "volume", "--device", "sim://", "--yes")
    assert code == 2 and "--balance" in err


def test_a_temperature_that_is_no_number_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "calibrate", "rate", "--temperature", "warm")
    assert code == 2 and "--temperature" in err and "warm" in err


def test_history_names_the_gun_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "calibrate", "history")
    assert code == 2 and "--device" in err
