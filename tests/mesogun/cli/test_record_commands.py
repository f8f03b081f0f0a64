"""``mesogun record list|show``: alarms with their time on both clocks and their priority; between-sessions entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmware_protocol import AlarmCode, make
from mesogun.cli import main
from mesogun.record import BETWEEN_SESSIONS, TreatmentRecord


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A record: session 1 saw an occlusion raised and cleared and ended; communication_lost was found latched
    at the next connect (session 2), so a between-sessions entry holds it."""
    path = tmp_path / "r.sqlite"
    with TreatmentRecord(path) as record:
        first = record.start_session("SN1")
        record.reconcile(first, 0, at_connect=True)
        for seq, raised in ((1, True), (2, False)):
            alarm = make("alarm", seq=seq, code="occlusion", priority="high", raised=raised, device_time_ms=1000 * seq)
            record.log_message(first, "device", alarm)
        record.end_session(first)
        second = record.start_session("SN1")
        record.enter_active_alarms(second, [AlarmCode.COMMUNICATION_LOST])
    return path


def test_show_lists_alarms_with_both_clocks_and_priority(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(db), "record", "show", "--session", "1"]) == 0
    out = capsys.readouterr().out
    assert "host wall clock, UTC" in out and "device clock" in out
    rows = [line.split() for line in out.splitlines() if line.split()[2:3] == ["occlusion"]]
    assert [(row[1], row[3], row[4]) for row in rows] == [("1000", "high", "yes"), ("2000", "high", "no")]
    assert main(["--db", str(db), "record", "show", "--session", "1", "--json"]) == 0
    alarms = json.loads(capsys.readouterr().out)["alarms"]
    assert [(a["code"], a["device_time_ms"], a["priority"], a["raised"]) for a in alarms] == [
        ("occlusion", 1000, "high", True),
        ("occlusion", 2000, "high", False),
    ]
    assert all(a["host_time_utc"].endswith("+00:00") for a in alarms)


def test_list_labels_the_between_sessions_entry(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(db), "record", "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(s["session"], s["kind"], s["alarms"]) for s in listed] == [
        (1, "treatment", 1),
        (3, BETWEEN_SESSIONS, 1),
        (2, "treatment", 0),
    ]
    assert main(["--db", str(db), "record", "show", "--session", "3"]) == 0
    out = capsys.readouterr().out
    assert "between_sessions" in out and "communication_lost" in out and "no host was connected" in out


def test_show_says_which_shots_another_host_fired(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Shots the device stamped with another host's id are shown as fired by another host, not counted as ours."""
    path = tmp_path / "r.sqlite"
    with TreatmentRecord(path) as record:
        session = record.start_session("SN1", host_id=0xA)
        record.reconcile(session, 0, at_connect=True)
        for index, host_id in ((1, 0xA), (2, 0xB), (3, 0xB)):
            shot = make("shot", shot_index=index, fire_seq=5, depth_um=2000, dose_nl=10_000, device_time_ms=index)
            record.log_message(session, "device", make("shot", **{**shot.fields, "host_id": host_id}))
    assert main(["--db", str(path), "record", "show", "--session", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 shots fired by another host" in out
    assert main(["--db", str(path), "record", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert (listed["shots_recorded"], listed["shots_unreceived"], listed["shots_other_host"]) == (1, 0, 2)
