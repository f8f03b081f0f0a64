"""``mesogun demo``: its figures add up in the device's own units, and it leaves no temporary record behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mesogun.cli import main

pytestmark = pytest.mark.realio


def run_demo(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    """``mesogun ARGS demo --json`` in this process; its summary."""
    assert main([*args]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert isinstance(summary, dict)
    return summary


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary-files folder of this test's own, where the demo's temporary record goes."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_primed_plus_delivered_is_what_the_reservoir_lost(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The figures a user sees add up to the device's step: the volume primed (as the device applied it) plus
    the shots' doses is exactly the fall of the reservoir that status reports (the hidden calibration error of
    the simulator shows nowhere)."""
    summary = run_demo(capsys, "--db", str(tmp_path / "demo.sqlite"), "demo", "--json", "--shots", "7")
    assert summary["shots"] == 7 and summary["alarms"] == []
    nl = {k: round(float(str(v)) * 1_000_000) for k, v in summary.items() if k.endswith("_ml")}
    assert nl["primed_ml"] == 100_000 and nl["volume_delivered_ml"] == 7 * 20_000
    assert nl["reservoir_loaded_ml"] - nl["reservoir_left_ml"] == nl["primed_ml"] + nl["volume_delivered_ml"]


def test_without_db_the_temporary_record_is_removed_and_no_path_is_printed(
    capsys: pytest.CaptureFixture[str], private_tmp: Path
) -> None:
    summary = run_demo(capsys, "demo", "--json", "--shots", "2")
    assert summary["record"] is None
    assert list(private_tmp.iterdir()) == []


def test_keep_keeps_the_temporary_record_and_prints_its_path(
    capsys: pytest.CaptureFixture[str], private_tmp: Path
) -> None:
    summary = run_demo(capsys, "demo", "--json", "--shots", "2", "--keep")
    record = Path(str(summary["record"]))
    assert record.is_file() and record.is_relative_to(private_tmp)


def test_with_db_the_record_is_that_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, private_tmp: Path) -> None:
    db = tmp_path / "mine.sqlite"
    summary = run_demo(capsys, "--db", str(db), "demo", "--json", "--shots", "1")
    assert summary["record"] == str(db) and db.is_file()
    assert list(private_tmp.iterdir()) == []


def test_ctrl_c_removes_the_temporary_record(tmp_path: Path) -> None:
    """Interrupted mid-treatment, the demo makes the gun safe, exits 130 and removes its temporary folder."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mesogun.cli", "demo", "--shots", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "shot" in line and "[" in line:
                break
        assert any(p.name.startswith("mesogun-demo-") for p in tmp_path.iterdir()), "the demo records to a temp folder"
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert not any(p.name.startswith("mesogun-demo-") for p in tmp_path.iterdir())
