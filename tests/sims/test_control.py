"""The control channel of a running ``mesogun sim`` (sims/control.py): a real subprocess served on TCP with
``--control``, a host connected over TCP with a treatment record, the trigger pressed over the control
socket; faults and impairments injected while it runs; bad requests answered and changing nothing."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import mesogun
import mesogun.sync
from mesogun.record import TreatmentRecord
from mesogun.record.session_recorder import SessionRecorder
from sims.control import ControlClient
from sims.spawn import SpawnedSimulator, spawn_simulator

pytestmark = pytest.mark.realio

MESOGUN_SIM = (sys.executable, "-m", "mesogun.cli", "sim")


@contextlib.contextmanager
def mesogun_sim() -> Iterator[SpawnedSimulator]:
    """``mesogun sim --tcp 127.0.0.1:0 --control 127.0.0.1:0`` in a child process; stopped at the end."""
    with spawn_simulator("--tcp", "127.0.0.1:0", "--control", "127.0.0.1:0", launcher=MESOGUN_SIM) as spawned:
        assert spawned.kind == "URL" and spawned.control is not None and spawned.control.startswith("127.0.0.1:")
        yield spawned


@pytest.fixture
def sim() -> Iterator[SpawnedSimulator]:
    """A fresh simulator for a test that changes it."""
    with mesogun_sim() as spawned:
        yield spawned


@pytest.fixture(scope="module")
def unchanged_sim() -> Iterator[SpawnedSimulator]:
    """One simulator for the bad requests: each must change nothing, which each test checks."""
    with mesogun_sim() as spawned:
        yield spawned


def _shots_and_triggers(gun: mesogun.sync.SyncGun, events: Iterator[mesogun.Event], count: int) -> list[str]:
    seen: list[str] = []
    for event in events:
        if isinstance(event, mesogun.ShotEvent):
            seen.append(f"shot {event.shot.source.json_name}")
        elif isinstance(event, mesogun.TriggerEvent):
            seen.append(f"{event.source.json_name} {'pressed' if event.pressed else 'released'}")
        if len(seen) == count:
            return seen
    return seen


def test_a_press_over_the_control_channel_fires_and_reaches_the_host_and_the_record(
    sim: SpawnedSimulator, tmp_path: Path
) -> None:
    db = tmp_path / "record.sqlite"
    assert sim.control is not None
    with ControlClient(sim.control) as control, mesogun.sync.connect(sim.address, recorder=SessionRecorder(db)) as gun:
        gun.load_syringe(capacity_ml=2)
        gun.prime(volume_ml=0.05)
        gun.configure(mode="burst", rate_hz=10, dose_ml=0.01)
        assert gun.set_burst_count(3) == 3
        gun.arm()
        events = gun.events(timeout=10)
        assert control.request("press", source="trigger") == {"ok": True}
        assert _shots_and_triggers(gun, events, 4) == ["trigger pressed"] + ["shot trigger"] * 3
        assert control.request("release") == {"ok": True}
        assert _shots_and_triggers(gun, events, 1) == ["trigger released"]
        snapshot = control.request("snapshot")["snapshot"]
        assert (snapshot["state"], snapshot["shots_lifetime"], snapshot["burst_count"]) == ("armed", 3, 3)
        gun.disarm()
        assert control.request("press") == {
            "ok": False,
            "error": "trigger press ignored: the device is ready, not armed; nothing fired",
        }
        assert control.request("snapshot")["snapshot"]["shots_lifetime"] == 3
    with TreatmentRecord(db, create=False) as record:
        (session,) = [s.session for s in record.sessions()]
        assert [(r.shot_index, r.source) for r in record.shots(session)] == [(i, "trigger") for i in (1, 2, 3)]
        assert [e["pressed"] for e in record.events(session) if e["type"] == "trigger"] == [True, False]


def test_faults_and_impairments_are_injected_while_it_runs(sim: SpawnedSimulator) -> None:
    assert sim.control is not None
    with ControlClient(sim.control) as control, mesogun.sync.connect(sim.address) as gun:
        assert control.request("impair", latency_ms=2, split_writes=True) == {
            "ok": True,
            "impairments": {"baud": 0, "latency_ms": 2.0, "drop": 0.0, "corrupt": 0.0, "split_writes": True},
        }
        gun.load_syringe(capacity_ml=2)  # the host still talks across the changed line
        answer = control.request("fault", name="occlusion")
        assert answer == {"ok": True, "fault": "occlusion:at_s=0.0"}
        events = gun.events(timeout=10)
        alarm = next(e for e in events if isinstance(e, mesogun.AlarmEvent))
        assert (alarm.code.json_name, alarm.raised) == ("occlusion", True)
        assert control.request("snapshot")["snapshot"]["active_alarms"] == ["occlusion"]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("not json", "request is not JSON: Expecting value at column 1"),
        ("[1]", 'request must be a JSON object like {"cmd": "snapshot"}, not list'),
        ('{"cmd": "shoot"}', "cmd='shoot' is not a control command; one of press, release, hold, "
         "fault, impair, snapshot"),
        ('{"cmd": "press", "source": "remote"}', "source=remote is not a trigger source: allowed one "
         "of trigger, pedal"),
        ('{"cmd": "press", "force": 1}', "press has no field force; it takes: source"),
        ('{"cmd": "hold"}', "hold needs ms, a number of device milliseconds (got None)"),
        ('{"cmd": "fault", "name": "fire"}', "fault=fire is not a known fault: allowed one of "
         "occlusion, empty, stall, brownout"),
        ('{"cmd": "impair", "drop": 2}', "drop=2 is out of range: allowed 0 to 1 (probability per byte)"),
        ('{"cmd": "impair"}', "impair needs at least one of baud, latency_ms, drop, corrupt, split_writes"),
    ],
)  # fmt: skip
def test_a_bad_request_gets_a_one_line_error_and_changes_nothing(
    unchanged_sim: SpawnedSimulator, line: str, error: str
) -> None:
    assert unchanged_sim.control is not None
    with ControlClient(unchanged_sim.control) as control:
        before = control.request("snapshot")["snapshot"]
        assert control.send_line(line) == {"ok": False, "error": error}
        after = control.request("snapshot")["snapshot"]
        assert _state(after) == _state(before)
        assert control.request("impair", drop=0)["impairments"]["drop"] == 0.0  # the line was not changed


def _state(snapshot: dict[str, object]) -> tuple[object, ...]:
    return snapshot["state"], snapshot["shots_lifetime"], snapshot["active_alarms"], snapshot["trigger_pressed"]


def test_the_control_channel_binds_loopback_only() -> None:
    result = subprocess.run(
        [*MESOGUN_SIM, "--tcp", "127.0.0.1:0", "--control", "0.0.0.0:0"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "the control channel binds 127.0.0.1 only" in result.stderr
    assert "Traceback" not in result.stderr
