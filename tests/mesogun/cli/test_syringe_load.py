"""``mesogun load --brand``: the brand declared to the gun with the load (its NVM-kept volume calibration for it
then applies), a warning on stderr when the volume-calibrated gun has no gain for the brand or none is given, and
a brand in another case refused naming the calibrated one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mesogun.calibration.device import CalibrationPort
from mesogun.cli import main
from mesogun.testing import sim_gun
from tests.mesogun.session.test_syringe_brand import BD_CALIBRATED


@pytest.fixture
def calibrated(tmp_path: Path) -> list[str]:
    """The global options of a ``sim://`` gun whose NVM holds a BD volume calibration (gain 1.03)."""
    nvm = tmp_path / "gun-nvm.json"

    async def write() -> None:
        async with sim_gun(f"nvm={nvm}") as (gun, _):
            await CalibrationPort(gun).write(BD_CALIBRATED)

    asyncio.run(write())
    return ["--db", str(tmp_path / "record.db"), "--device", f"sim://?nvm={nvm}"]


def load(capsys: pytest.CaptureFixture[str], options: list[str], *args: str) -> tuple[int, str, str]:
    code = main([*options, "load", "--capacity", "5", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_load_with_the_calibrated_brand_declares_it_quietly(
    calibrated: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = load(capsys, calibrated, "--brand", "BD")
    assert code == 0, err
    assert "BD" in out and "warning" not in err


def test_a_load_without_a_brand_on_a_calibrated_gun_warns_on_stderr(
    calibrated: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = load(capsys, calibrated)
    assert code == 0, err
    (line,) = err.splitlines()
    assert line.startswith("warning: no syringe brand declared") and "BD" in line and "--brand" in line
    assert "warning" not in out


def test_a_brand_in_another_case_is_refused_in_one_line(
    calibrated: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = load(capsys, calibrated, "--brand", "bd")
    assert code == 2, err
    (line,) = err.splitlines()
    assert "brand='bd'" in line and "'BD'" in line and "Traceback" not in err
