"""``mesogun watch``: a live view on a terminal, plain lines in a pipe, JSON lines for a front end."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from firmware_protocol import AlarmCode, AlarmPriority, DeviceState, Mode
from mesogun.cli.watch import LiveView, Snapshot, watch
from mesogun.link import LinkHealth
from mesogun.models import Settings, Status
from mesogun.testing import sim_gun
from tests.mesogun.cli.in_process import mesogun_in_process

ANSI_ESCAPE = "\x1b"


def mesogun(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    """Run ``mesogun --db DB ARGS`` in this process (stdout is no terminal, as in a pipe)."""
    return mesogun_in_process("--db", str(db), *args)


def test_once_json_is_one_status_line_in_user_units(tmp_path: Path) -> None:
    """watch --once --json: exactly one JSON line (event status) with parameters in user units, alarms and link."""
    result = mesogun("--device", "sim://", "watch", "--once", "--json", db=tmp_path / "r.sqlite")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    status = json.loads(line)
    assert status["event"] == "status" and status["state"] == "idle"
    assert {"depth_mm", "dose_ml", "rate_hz", "mode", "reservoir_ml", "shots_session", "shots_lifetime"} <= set(status)
    assert not [k for k in status if k.endswith(("_um", "_nl", "_mhz"))]
    assert status["alarms"] == [] and {"retries", "timeouts", "last_reply_s", "lost"} <= set(status["link"])


def test_once_shows_every_section_in_plain_text(tmp_path: Path) -> None:
    """watch --once in a pipe: name/value lines for state, parameters, reservoir, shots, alarms, link; no escapes."""
    result = mesogun("--device", "sim://", "watch", "--once", db=tmp_path / "r.sqlite")
    assert result.returncode == 0, result.stderr
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert list(rows) == ["state", "parameters", "reservoir", "shots", "alarms", "link"]
    assert rows["parameters"] == "depth 2.0 mm, dose 0.010 mL, rate 2.0 shots/s, mode single"
    assert rows["reservoir"] == "no syringe loaded" and rows["alarms"] == "none"
    assert rows["link"].startswith("0 retries, 0 timeouts")
    assert ANSI_ESCAPE not in result.stdout


@pytest.mark.realio
def test_watch_in_a_pipe_prints_plain_lines_until_ctrl_c_then_exits_0(tmp_path: Path) -> None:
    """Without a terminal: one plain line (no escapes) per change, not one per status; Ctrl-C ends it with exit 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mesogun.cli", "--db", str(tmp_path / "r.sqlite"), "--device", "sim://", "watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert first.startswith("state idle | parameters depth 2.0 mm") and "| link 0 retries" in first
    assert ANSI_ESCAPE not in first + out and "Traceback" not in err
    assert len(out.splitlines()) <= 1  # an idle gun does not change: no line per status


def test_the_live_view_refreshes_with_the_counters(virtual: Any) -> None:
    """On a terminal the view is redrawn as things change: firing shows, then the counters after a burst of 5."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)

    async def scenario() -> None:
        async with sim_gun() as (gun, _):
            await gun.load_syringe(capacity_ml=5, fill_ml=5)
            await gun.prime(volume_ml=0.1)
            await gun.configure(dose_ml=0.02, rate_hz=10, mode="burst")
            stop = asyncio.Event()
            with LiveView(gun.info, console) as view:
                watching = asyncio.create_task(watch(gun, view, stop))
                await gun.arm()
                await gun.fire(5)
                await gun.disarm()
                await asyncio.sleep(1)  # a few statuses and refreshes
                stop.set()
                await watching

    virtual(scenario)
    shown = buffer.getvalue()
    assert "watching (Ctrl-C to stop)" in shown
    assert "firing" in shown and "5 this session, 5 lifetime" in shown
    assert "mL left of 5 mL, primed" in shown and "last reply" in shown


def test_alarms_are_listed_highest_priority_first() -> None:
    """reservoir_low (low) and occlusion (high) active: occlusion first, with the priority its event carried."""
    status = Status(
        state=DeviceState.ALARM,
        settings=Settings(2.0, 0.01, 2.0, Mode.BURST),
        needle_depth_mm=2.0,
        syringe_capacity_ml=3,
        reservoir_ml=0.1,
        primed=True,
        shots_session=3,
        shots_lifetime=3,
        shots_remaining=10,
        device_time=1.0,
        active_alarms=(AlarmCode.RESERVOIR_LOW, AlarmCode.OCCLUSION),
        reservoir_nl=100_000,
        depth_um=2000,
        dose_nl=10_000,
        rate_mhz=2000,
        needle_depth_um=2000,
    )
    health = LinkHealth(0, 0, 0, 0, 0.1, None)
    snapshot = Snapshot(status, health, {AlarmCode.RESERVOIR_LOW: AlarmPriority.LOW})
    assert snapshot.alarms() == [
        (AlarmCode.OCCLUSION, AlarmPriority.HIGH),
        (AlarmCode.RESERVOIR_LOW, AlarmPriority.LOW),
    ]
    assert snapshot.fields()["alarms"] == [
        {"code": "occlusion", "priority": "high"},
        {"code": "reservoir_low", "priority": "low"},
    ]


def test_json_lines_show_the_trigger_pressed_and_released(capsys: pytest.CaptureFixture[str]) -> None:
    """watch --json: one line per trigger or pedal change, beside shots and alarms."""
    from firmware_protocol import ShotSource, make
    from firmware_protocol.rules import REFERENCE_IDENTITY
    from mesogun.cli.watch import JsonView
    from mesogun.models import GunInfo, TriggerEvent

    view = JsonView(GunInfo.from_identity(make("identity", **REFERENCE_IDENTITY)))
    view.event(TriggerEvent(ShotSource.PEDAL, True, 1.5))
    view.event(TriggerEvent(ShotSource.PEDAL, False, 2.0))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        {"event": "trigger", "source": "pedal", "state": "pressed", "device_time": 1.5},
        {"event": "trigger", "source": "pedal", "state": "released", "device_time": 2.0},
    ]
