"""``mesogun set --preset``, and the nappage soft limit: asked on a terminal, --yes --reason in a script, on record."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesogun.cli import main
from mesogun.presets import PRESETS
from sims.spawn import SpawnedSimulator, spawn_simulator
from tests.mesogun.cli.in_process import mesogun_in_process

pytestmark = pytest.mark.realio

PARAMETERS = ("depth_mm", "dose_ml", "rate_hz", "mode")


def mesogun(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    """Run ``mesogun --db DB ARGS`` in this process (stdin is empty and not a terminal: a script)."""
    return mesogun_in_process("--db", str(db), *args)


@pytest.fixture
def tcp_gun() -> Iterator[SpawnedSimulator]:
    with spawn_simulator("--tcp", "127.0.0.1:0") as sim:
        yield sim


def settings(url: str, db: Path) -> dict[str, object]:
    status = json.loads(mesogun("--device", url, "status", "--json", db=db).stdout)
    return {k: status[k] for k in PARAMETERS}


def notes(db: Path) -> list[dict[str, str]]:
    """Every note of every session, read back through ``record show --session N --json``."""
    sessions = [json.loads(line)["session"] for line in mesogun("record", "list", "--json", db=db).stdout.splitlines()]
    return [
        n
        for s in sessions
        for n in json.loads(mesogun("record", "show", "--session", str(s), "--json", db=db).stdout)["notes"]
    ]


def test_a_preset_applies_its_values_and_explicit_options_win(tcp_gun: SpawnedSimulator, tmp_path: Path) -> None:
    """set --preset face applies face's depth, dose, rate and mode; --depth given too wins over the preset's."""
    db, url, face = tmp_path / "r.sqlite", tcp_gun.address, PRESETS["face"]
    applied = mesogun("--device", url, "set", "--preset", "face", "--json", db=db)
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout) == {"depth_mm": 1.5, "dose_ml": 0.02, "rate_hz": 4.0, "mode": "burst"}
    assert (face.depth_mm, face.dose_ml, face.rate_hz, face.mode.json_name) == (1.5, 0.02, 4.0, "burst")
    mixed = mesogun("--device", url, "set", "--preset", "face", "--depth", "2.2", "--json", db=db)
    assert json.loads(mixed.stdout) == {"depth_mm": 2.2, "dose_ml": 0.02, "rate_hz": 4.0, "mode": "burst"}
    assert notes(db) == []  # nothing was overridden


def test_deep_nappage_in_a_script_needs_yes_and_a_reason(tcp_gun: SpawnedSimulator, tmp_path: Path) -> None:
    """Nappage at 2.5 mm from a script: exit 2 naming the value, the soft limit and how to override; the gun keeps
    its settings. --yes without --reason is a usage error. --yes --reason applies it and the record holds the
    override with its reason."""
    db, url = tmp_path / "r.sqlite", tcp_gun.address
    before = settings(url, db)
    refused = mesogun("--device", url, "set", "--preset", "face-nappage", "--depth", "2.5", db=db)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "error: nappage at depth_mm=2.5 is deeper than its soft limit of 2 mm (nappage is superficial); nothing "
        "was sent: to set it anyway give --yes --reason TEXT (the override and its reason are entered in the "
        "treatment record)"
    ]
    no_reason = mesogun("--device", url, "set", "--mode", "nappage", "--depth", "2.5", "--yes", db=db)
    assert no_reason.returncode == 2 and "--yes needs --reason TEXT" in no_reason.stderr
    assert settings(url, db) == before
    done = mesogun(
        "--device", url, "set", "--mode", "nappage", "--depth", "2.5", "--yes", "--reason", "thick dermis", db=db
    )
    assert done.returncode == 0, done.stderr
    assert "override entered in the treatment record" in done.stderr
    assert settings(url, db) == {**before, "depth_mm": 2.5, "mode": "nappage"}
    (note,) = notes(db)
    assert note["kind"] == "soft_limit_override" and note["reason"] == "thick dermis"
    assert "depth_mm=2.5" in note["detail"] and "soft limit of 2 mm" in note["detail"]


def test_the_soft_limit_holds_for_the_gun_s_own_values(tcp_gun: SpawnedSimulator, tmp_path: Path) -> None:
    """A gun in nappage at 1.0 mm: set --depth 3 alone would make it nappage at 3 mm: refused the same way."""
    db, url = tmp_path / "r.sqlite", tcp_gun.address
    assert mesogun("--device", url, "set", "--preset", "face-nappage", db=db).returncode == 0
    refused = mesogun("--device", url, "set", "--depth", "3", db=db)
    assert refused.returncode == 2 and "nappage at depth_mm=3 is deeper than its soft limit" in refused.stderr
    assert settings(url, db)["depth_mm"] == 1.0
    assert mesogun("--device", url, "set", "--depth", "3", "--mode", "burst", db=db).returncode == 0  # not nappage


def test_on_a_terminal_it_asks_and_records_the_typed_reason(
    tcp_gun: SpawnedSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A person at a terminal: warned, asked to confirm, asked why; "no" sends nothing (exit 2), "yes" applies
    it and records the reason typed. Also when only the gun's own mode makes it nappage (asked, then applied)."""
    db, url = tmp_path / "r.sqlite", tcp_gun.address
    monkeypatch.setattr("mesogun.cli.device_commands.stdin_is_terminal", lambda: True)
    args = ["--db", str(db), "--device", url, "set", "--mode", "nappage", "--depth", "2.4"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "warning: nappage at depth_mm=2.4 is deeper than its soft limit of 2 mm" in err
    assert "Set it anyway?" in err and "not confirmed, nothing was sent" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\nvery thick skin\n"))
    assert main(args) == 0
    assert "Reason for the override" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\nstill thick\n"))
    assert main(["--db", str(db), "--device", url, "set", "--depth", "2.6"]) == 0  # the gun's mode is nappage
    assert settings(url, db)["depth_mm"] == 2.6
    assert [n["reason"] for n in notes(db)] == ["very thick skin", "still thick"]


@pytest.mark.parametrize(("query", "accepted"), [("", True), ("?remote_fire=0", False)])
def test_info_says_whether_the_device_accepts_remote_fire(tmp_path: Path, query: str, accepted: bool) -> None:
    plain = mesogun("--device", f"sim://{query}", "info", db=tmp_path / "r.sqlite")
    assert plain.returncode == 0, plain.stderr
    line = next(line for line in plain.stdout.splitlines() if "remote fire" in line)
    assert ("accepted" in line) is accepted and (
        "refused: fires from its trigger and pedal only" in line
    ) is not accepted
    as_json = json.loads(mesogun("--device", f"sim://{query}", "info", "--json", db=tmp_path / "r.sqlite").stdout)
    assert (as_json["remote_fire"], as_json["burst_count_max"]) == (accepted, 20)


def test_info_shows_the_calibration_in_force_on_the_device(tmp_path: Path) -> None:
    """A technician reads which calibration the gun holds without a service: factory, or the id a write gave it."""
    db, nvm = tmp_path / "r.sqlite", tmp_path / "gun.nvm"
    url = f"sim://?serial=SIMCAL&nvm={nvm}"
    assert "factory: never calibrated" in mesogun("--device", url, "info", db=db).stdout
    stored = json.loads(nvm.read_text())
    stored["calibration"]["calibration_id"] = 7
    nvm.write_text(json.dumps(stored))
    line = next(line for line in mesogun("--device", url, "info", db=db).stdout.splitlines() if "calibration" in line)
    assert "id 7" in line and "mesogun calibrate history" in line
