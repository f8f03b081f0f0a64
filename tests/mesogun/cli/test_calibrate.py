"""``mesogun calibrate``: the commands, their options and their usage errors, and scripted runs end to end
(``--yes --json``) on ``sim://`` with ``sim-balance://`` and ``sim-gauge://``, in process on virtual time: JSON
lines for each step and reading, the run and its certificate in the record (``history``), ``--certificate``,
and Ctrl-C halfway (the run recorded aborted, the device's own calibration unchanged, read from its NVM).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from mesogun.calibration.prompts import JsonLinesReporter
from mesogun.cli import main
from mesogun.testing import sim_gun
from sims.clock import new_virtual_loop
from sims.nvm import StoredCalibration
from tests.mesogun.reports.conftest import Pdf


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


def test_history_offers_one_gun_or_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "calibrate", "history", "--help")
    assert code == 0 and "--device" in out and "every gun" in out


# ---------------------------------------------------------------------------------------------- scripted runs

SERIAL = "SIMCLI01"
ENVIRONMENT = ("--technician", "T. Tech", "--temperature", "20", "--pressure", "1013.25", "--humidity", "50")
VOLUME = (
    "--balance",
    f"sim-balance://?gun={SERIAL}&seed=3",
    "--syringe-brand",
    "BD",
    "--balance-due",
    "2099-01-01",
    "--check-weight-g",
    "20",
    "--check-weight-id",
    "F1 20 g S/N W-77",
    "--nominal-ul",
    "20",
)


@pytest.fixture
def on_virtual_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands' event loops on virtual time: a run's minutes of weighing and timing cost no wall time."""

    def run(main: Coroutine[Any, Any, Any], **_: Any) -> Any:
        with asyncio.Runner(loop_factory=lambda: new_virtual_loop(start=1000.0)) as runner:
            return runner.run(main)

    monkeypatch.setattr(asyncio, "run", run)


class Bench:
    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "record.db"
        self.nvm = tmp_path / "gun-nvm.json"
        self.url = f"sim://?serial={SERIAL}&nvm={self.nvm}"

    def calibrate(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]], str]:
        code = main(["--db", str(self.db), "--device", self.url, "calibrate", *args])
        out, err = capsys.readouterr()
        return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err

    def device_calibration(self) -> StoredCalibration:
        """The calibration in the device's NVM (the gun powered up again), not what the host believes."""

        async def read() -> StoredCalibration:
            async with sim_gun(f"nvm={self.nvm}") as (_, sim):
                return sim.device.snapshot().calibration

        return asyncio.run(read())

    def history(self, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
        assert main(["--db", str(self.db), "calibrate", "history", "--json", *args]) == 0
        rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
        return rows


def steps(lines: list[dict[str, Any]]) -> list[str]:
    return [f"{e['step']}:{e['status']}" for e in lines if e["event"] == "step"]


def test_a_scripted_volume_run_reports_each_step_and_reading_and_keeps_the_run_and_its_certificate(
    on_virtual_time: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = Bench(tmp_path)
    pdf_path = tmp_path / "certificate.pdf"
    code, lines, err = bench.calibrate(capsys, "volume", *VOLUME, *ENVIRONMENT, "--yes", "--json", "--certificate",
                                       str(pdf_path))  # fmt: skip
    assert code == 0, err
    names = ["identify", "environment", "check_weight", "syringe", "evaporation_blank", "as_found", "correction",
             "write", "as_left", "verdict", "sign_off"]  # fmt: skip
    assert steps(lines) == [f"{n}:{s}" for n in names for s in ("started", "done")]
    readings = [e for e in lines if e["event"] == "reading"]
    assert [len([r for r in readings if r["series"] == s]) for s in ("as_found", "as_left")] == [30, 30]
    assert {r["shots"] for r in readings if r["nominal_ul"] == 2.0} == {5}  # small drops: 5 to a reading
    run = lines[-1]
    assert run["event"] == "run" and run["outcome"] == "passed" and run["device_serial"] == SERIAL
    assert run["constants_after"]["calibration_id"] == 1
    assert 1.02 < run["constants_after"]["volume_gain_by_brand"]["BD"] < 1.04

    device = bench.device_calibration()
    assert device.calibration_id == 1 and dict(device.volume_gains)["BD"] == round(
        run["constants_after"]["volume_gain_by_brand"]["BD"] * 1_000_000
    )
    assert device.certificate_id == run["certificate_id"] and device.technician == "T. Tech"

    (kept,) = bench.history(capsys, "--device", SERIAL)
    assert (kept["run_id"], kept["outcome"], kept["calibration_id"], kept["has_certificate"]) == (
        run["run_id"], "passed", 1, True)  # fmt: skip
    assert kept["certificate_id"] == run["certificate_id"] and kept["due_at"] is not None

    pdf = Pdf.read(pdf_path.read_bytes())
    text = pdf.text
    for shown in (SERIAL, "XPR205", "B900000001", "F1 20 g S/N W-77", run["certificate_id"], "T. Tech"):
        assert shown in text, shown


def test_scripted_depth_and_rate_runs_and_the_history_of_every_gun(
    on_virtual_time: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = Bench(tmp_path)
    code, lines, err = bench.calibrate(capsys, "depth", "--gauge", f"sim-gauge://?gun={SERIAL}", *ENVIRONMENT,
                                       "--yes", "--json")  # fmt: skip
    assert code == 0, err
    assert lines[-1]["outcome"] == "passed" and lines[-1]["constants_after"]["depth_offset_um"] in range(70, 91)
    assert len([e for e in lines if e["event"] == "reading"]) == 2 * 5 * 3  # 5 depths, 3 readings each
    bench.url += "&rate_gain=0.98"
    code, lines, err = bench.calibrate(capsys, "rate", "--rate-hz", "1", *ENVIRONMENT, "--yes", "--json")
    assert code == 0, err
    (found, left) = (e for e in lines if e["event"] == "reading")
    assert found["seconds"] >= 60 and abs(found["measured_hz"] / found["set_hz"] - 0.98) < 0.001
    assert abs(left["measured_hz"] / left["set_hz"] - 1) < 0.01
    device = bench.device_calibration()
    assert (device.calibration_id, device.depth_offset_um) == (2, lines[-1]["constants_after"]["depth_offset_um"])
    assert abs(device.rate_gain_ppm - 980_000) <= 1000  # the hidden 0.98 found to 0.1 %

    everything = bench.history(capsys)  # no --device: every gun's
    assert [(r["device_serial"], r["kind"], r["outcome"]) for r in everything] == [
        (SERIAL, "depth", "passed"), (SERIAL, "rate", "passed")]  # fmt: skip
    assert main(["--db", str(bench.db), "calibrate", "history"]) == 0
    table = capsys.readouterr().out
    assert "depth" in table and "rate" in table and SERIAL in table


def test_ctrl_c_halfway_records_the_run_aborted_and_the_device_keeps_its_old_calibration(
    on_virtual_time: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = Bench(tmp_path)
    bench.url += "&rate_gain=0.98"
    step = JsonLinesReporter.step

    def interrupted(self: JsonLinesReporter, name: str, status: str, **fields: object) -> None:
        step(self, name, status, **fields)
        if (name, status) == ("as_left", "started"):  # after the write: the new constants are on the device
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(JsonLinesReporter, "step", interrupted)
    code, lines, err = bench.calibrate(capsys, "rate", "--rate-hz", "1", *ENVIRONMENT, "--yes", "--json")
    assert code == 130, err
    assert f"interrupted: gun {SERIAL}'s old calibration was written back" in err
    assert "as_left:aborted" in steps(lines) and "write:done" in steps(lines)
    run = lines[-1]
    assert run["event"] == "run" and run["outcome"] == "aborted" and "interrupted" in run["reason"]
    assert "the constants in force before the run were written back" in run["notes"]
    device = bench.device_calibration()
    assert device.rate_gain_ppm == 1_000_000 and device.calibration_id == 2  # written (1), then put back (2)
    (kept,) = bench.history(capsys, "--device", SERIAL)
    assert kept["outcome"] == "aborted" and kept["certificate_id"] == ""
    assert main(["--db", str(bench.db), "calibrate", "history", "--device", SERIAL]) == 0
    assert "aborted at as_left: interrupted" in capsys.readouterr().out  # the reason, in the table too


def test_a_passed_run_the_record_cannot_keep_is_undone_on_the_gun_and_kept_as_aborted(
    on_virtual_time: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mesogun.errors import RecordError
    from mesogun.record.calibrations import CalibrationBook

    bench = Bench(tmp_path)
    bench.url += "&rate_gain=0.98"
    save = CalibrationBook.save

    def locked_for_the_passed_run(self: CalibrationBook, run_json: str, **values: Any) -> Any:
        if values["outcome"] == "passed":
            raise RecordError("the treatment record is read-only")
        return save(self, run_json, **values)

    monkeypatch.setattr(CalibrationBook, "save", locked_for_the_passed_run)
    code, lines, err = bench.calibrate(capsys, "rate", "--rate-hz", "1", *ENVIRONMENT, "--yes", "--json")
    assert code == 6, err
    (line,) = err.splitlines()
    assert "passed but could not be kept in the record" in line and "read-only" in line
    assert "old calibration was written back" in line and "the aborted run is in the record" in line
    assert lines[-1]["event"] == "run" and lines[-1]["outcome"] == "aborted"
    assert lines[-1]["reason"].startswith("aborted at save: the record could not keep the run (MG600")
    device = bench.device_calibration()
    assert device.rate_gain_ppm == 1_000_000 and device.calibration_id == 2  # written (1), then put back (2)
    (kept,) = bench.history(capsys, "--device", SERIAL)
    assert kept["outcome"] == "aborted" and kept["due_at"] is None and kept["certificate_id"] == ""


def test_a_passed_run_whose_record_fails_entirely_says_so_and_the_gun_keeps_its_old_calibration(
    on_virtual_time: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mesogun.errors import RecordError
    from mesogun.record.calibrations import CalibrationBook

    def unwritable(self: CalibrationBook, run_json: str, **values: Any) -> Any:
        raise RecordError("attempt to write a readonly database")

    monkeypatch.setattr(CalibrationBook, "save", unwritable)
    bench = Bench(tmp_path)
    bench.url += "&rate_gain=0.98"
    code, _, err = bench.calibrate(capsys, "rate", "--rate-hz", "1", *ENVIRONMENT, "--yes", "--json")
    assert code == 6, err
    (line,) = err.splitlines()
    assert "old calibration was written back" in line and "could not be kept either" in line
    assert bench.device_calibration().rate_gain_ppm == 1_000_000
