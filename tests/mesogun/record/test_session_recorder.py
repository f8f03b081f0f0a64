"""The SessionRecorder seam: what is durable when, what is not recorded, and that SQLite stays off the loop."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

import mesogun
from firmware_protocol import AlarmCode, Message, make
from mesogun.record import BETWEEN_SESSIONS, SessionRecorder, TreatmentRecord, default_path
from mesogun.transports.sim import SimTransport
from sims.inprocess import start_inprocess
from sims.spawn import spawn_simulator
from tests.mesogun.cli.in_process import mesogun_in_process

INFO: Any = SimpleNamespace(
    serial_number="SN1", model="MG-1", firmware_version="1.0.0", hardware_id="", counter_epoch=0, calibration_id=0
)


def status(lifetime: int) -> Any:
    """The only parts of a Status the recorder reads."""
    return SimpleNamespace(shots_lifetime=lifetime, active_alarms=())


def shot(index: int) -> Message:
    return make("shot", seq=index, shot_index=index, fire_seq=8, depth_um=2500, dose_nl=50_000, device_time_ms=index)


def committed(db: Path | str, sql: str) -> list[tuple[Any, ...]]:
    """What another connection (another process, after a crash) would read now."""
    with TreatmentRecord(db, create=False) as other:
        return other.rows(sql)


def test_a_shot_and_an_alarm_are_committed_when_on_message_returns(real: Any, where: Path | str) -> None:
    """Another connection sees the shot and the alarm the moment the Gun could report them."""
    db = where

    async def scenario() -> None:
        recorder = SessionRecorder(db)
        await recorder.on_connected(INFO, status(0), "sim://")
        await recorder.on_message("host", make("fire", seq=8, count=2))
        await recorder.on_message("device", shot(1))
        assert committed(db, "SELECT shot_index, received FROM shots") == [(1, 1)]
        assert committed(db, "SELECT type FROM events ORDER BY id")[-2:] == [("fire",), ("shot",)]
        alarm = make("alarm", code="occlusion", priority="high", raised=True, device_time_ms=5)
        await recorder.on_message("device", alarm)
        assert committed(db, "SELECT type FROM events ORDER BY id")[-1] == ("alarm",)
        await recorder.on_disconnected("closed by the host")

    real(scenario)


def test_commands_and_replies_are_committed_by_the_session_end(real: Any, where: Path | str) -> None:
    """Queued writes are not lost: closing the session commits them (and ends the writer thread)."""
    db = where

    async def scenario() -> None:
        recorder = SessionRecorder(db)
        await recorder.on_connected(INFO, status(0), "sim://")
        for seq in range(1, 21):
            await recorder.on_message("host", make("get_status", seq=seq))
        await recorder.on_disconnected("closed by the host")
        assert committed(db, "SELECT COUNT(*) FROM events WHERE type = 'get_status'") == [(20,)]
        assert committed(db, "SELECT ended IS NOT NULL FROM sessions") == [(1,)]

    real(scenario)


def test_heartbeats_and_their_acks_are_not_recorded(real: Any, where: Path | str) -> None:
    """An idle armed minute must not fill the record with keep-alives (even if a caller passes them)."""
    db = where

    async def scenario() -> None:
        recorder = SessionRecorder(db)
        await recorder.on_message("host", make("heartbeat", seq=1))  # during the handshake too
        await recorder.on_connected(INFO, status(0), "sim://")
        for seq in range(2, 50):
            await recorder.on_message("host", make("heartbeat", seq=seq))
            await recorder.on_message("device", make("ack", seq=seq, command="heartbeat"))
        await recorder.on_message("host", make("disarm", seq=50))
        await recorder.on_disconnected("closed by the host")
        assert committed(db, "SELECT type FROM events") == [("disarm",)]

    real(scenario)
    with TreatmentRecord(db) as record:  # the store refuses them too
        record.log_message(1, "host", make("heartbeat", seq=99))
        assert [e["type"] for e in record.events(1)] == ["disarm"]


class ThreadNotingRecord(TreatmentRecord):
    """Notes the thread every write runs in."""

    threads: ClassVar[set[int]] = set()

    def log_message(self, session_id: int, direction: str, message: Message) -> None:
        ThreadNotingRecord.threads.add(threading.get_ident())
        super().log_message(session_id, direction, message)


def test_sqlite_runs_in_the_writer_thread_not_on_the_event_loop(real: Any, where: Path | str) -> None:
    """The event loop (link reader, control task, heartbeats) never waits inside SQLite."""
    loop_threads: set[int] = set()

    async def scenario() -> None:
        loop_threads.add(threading.get_ident())
        recorder = SessionRecorder(ThreadNotingRecord(where))
        await recorder.on_connected(INFO, status(0), "sim://")
        await recorder.on_message("host", make("fire", seq=8, count=1))
        await recorder.on_message("device", shot(1))
        await recorder.on_disconnected("closed by the host")

    real(scenario)
    assert ThreadNotingRecord.threads and not ThreadNotingRecord.threads & loop_threads


def test_a_gap_in_shot_indices_is_entered_as_one_unreceived_range(real: Any, where: Path | str) -> None:
    """Shot 2..4 lost on the link: one range row, counted as 3 unreceived shots in the session."""
    db = where

    async def scenario() -> None:
        recorder = SessionRecorder(db)
        await recorder.on_connected(INFO, status(0), "sim://")
        await recorder.on_message("device", shot(1))
        await recorder.on_message("device", shot(5))
        assert recorder.unreceived == 3
        await recorder.on_disconnected("closed by the host")

    real(scenario)
    assert committed(db, "SELECT first, last FROM unreceived") == [(2, 4)]
    with TreatmentRecord(db) as record:
        assert record.session(1).shots_unreceived == 3


def test_the_api_records_only_when_given_a_recorder_as_documented(real: Any, tmp_path: Path) -> None:
    """The README's and TreatmentRecord's example: without a recorder the API writes no record anywhere (not
    even at the default location); with SessionRecorder(TreatmentRecord(path)) the shots are there to query."""
    path = tmp_path / "treatment.sqlite"

    async def fire_three(recorder: SessionRecorder | None) -> None:
        async with mesogun.connect("sim://", recorder=recorder) as gun:
            await gun.load_syringe(capacity_ml=2)
            await gun.prime(volume_ml=0.01)
            await gun.configure(dose_ml=0.01, rate_hz=10, mode="burst")
            await gun.arm()
            assert len(await gun.fire(count=3)) == 3

    real(lambda: fire_three(None))
    assert not default_path().exists() and not list(tmp_path.iterdir())

    with TreatmentRecord(path) as record:
        real(lambda: fire_three(SessionRecorder(record)))
        (last,) = record.sessions()
        assert (last.shots_recorded, last.volume_nl) == (3, 30_000)
        assert [s.shot_index for s in record.shots(last.session)] == [1, 2, 3]
        assert record.export(last.session, "csv").count("\n") == 4  # header and three shots


def mesogun_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``mesogun ARGS`` run by the CLI in this process (its exit code, stdout and stderr); only the host that is
    killed is a child process."""
    return mesogun_in_process(*args)


@pytest.mark.realio
def test_communication_lost_after_the_host_died_reaches_the_record_at_the_next_connection(tmp_path: Path) -> None:
    """A host firing with the record is killed (SIGKILL: no close, no disarm); the device fires on until its
    watchdog trips and latches communication_lost while no host is connected. The next connection with the
    same record enters that alarm - with its priority and a note saying no host was connected - in the session
    the dead host left open, together with the shots it never received; ``record show`` lists it."""
    db = tmp_path / "record.sqlite"
    with spawn_simulator("--tcp", "127.0.0.1:0", "--watchdog-ms", "300", "--serial", "SN-WD") as sim:
        url = sim.address
        for step in (
            ("load", "--capacity", "3"),
            ("prime", "--volume", "0.01"),
            ("set", "--rate", "10", "--mode", "continuous"),
        ):
            assert mesogun_cli("--device", url, "--db", str(db), *step).returncode == 0
        host = subprocess.Popen(
            [sys.executable, "-m", "mesogun.cli", "--device", url, "--db", str(db), "fire", "--count", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert host.stdout is not None
            assert "shot" in host.stdout.readline()  # firing, with the record attached
        finally:
            host.kill()
            host.wait()
        time.sleep(1.0)  # the watchdog (300 ms) trips with no host connected
        status = mesogun_cli("--device", url, "--db", str(db), "status", "--json")
        assert status.returncode == 0, status.stderr
        assert "communication_lost" in json.loads(status.stdout)["active_alarms"]
    with TreatmentRecord(db, create=False) as record:
        dead = next(s for s in record.sessions() if s.shots_recorded)
        assert dead.ended is None, "the killed host never closed its session"
        (found,) = [a for a in record.alarms(dead.session) if a.code == "communication_lost"]
        assert (found.priority, found.raised) == ("high", True) and "no host was connected" in found.note
        assert dead.alarms == 1
    shown = mesogun_cli("--db", str(db), "record", "show", "--session", str(dead.session))
    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if "communication_lost" in line)
    assert "high" in line and "no host was connected" in line
    assert "host wall clock, UTC" in shown.stdout and "device clock" in shown.stdout


def test_an_alarm_raised_after_a_clean_close_goes_to_a_between_sessions_entry(virtual: Any, where: Path | str) -> None:
    """The host closed its session (the gun disarmed); then the supply dipped with no host connected. The next
    connection finds brownout_reset latched and enters it in a between-sessions entry of that device, listed
    between the two sessions - not in the session that had already ended."""
    db = where

    async def main() -> None:
        sim = await start_inprocess("")
        try:
            async with mesogun.connect(SimTransport.attach(sim), recorder=SessionRecorder(db)) as gun:
                await gun.refresh_status()
            sim.device.brownout()
            async with mesogun.connect(SimTransport.attach(sim), recorder=SessionRecorder(db)) as gun:
                assert AlarmCode.BROWNOUT_RESET in (await gun.refresh_status()).active_alarms
        finally:
            await sim.close()

    virtual(main)
    with TreatmentRecord(db, create=False) as record:
        first, between, second = record.sessions()
        assert (first.kind, between.kind, second.kind) == ("treatment", BETWEEN_SESSIONS, "treatment")
        assert first.ended is not None and (first.alarms, second.alarms) == (0, 0)
        (found,) = record.alarms(between.session)
        assert (found.code, found.priority, found.device_time_ms) == ("brownout_reset", "medium", None)


def test_a_counter_reset_between_connections_is_detected_even_past_the_old_count(virtual: Any, tmp_path: Path) -> None:
    """3 shots on record; the device's counter is reset and it fires 5 with no record attached: the next
    connection sees the device's new counter epoch, so shots 4-5 are not charged to anyone as unreceived."""
    db = tmp_path / "record.sqlite"

    async def fire(sim: Any, count: int, recorder: SessionRecorder | None) -> None:
        async with mesogun.connect(SimTransport.attach(sim), recorder=recorder) as gun:
            await gun.load_syringe(capacity_ml=10)
            await gun.prime(volume_ml=0.1)
            await gun.configure(depth_mm=2.0, dose_ml=0.005, rate_hz=10, mode="burst")
            await gun.arm()
            await gun.fire(count=count)

    async def main() -> None:
        sim = await start_inprocess(f"nvm={tmp_path / 'gun.json'}")
        try:
            await fire(sim, 3, SessionRecorder(db))
            sim.device.reset_lifetime_counter()
            await fire(sim, 5, None)
            async with mesogun.connect(SimTransport.attach(sim), recorder=SessionRecorder(db)) as gun:
                assert (await gun.refresh_status()).shots_lifetime == 5
        finally:
            await sim.close()

    virtual(main)
    with TreatmentRecord(db, create=False) as record:
        sessions = record.sessions()
        assert [s.kind for s in sessions] == ["treatment", "treatment"]
        assert sum(s.shots_unreceived for s in sessions) == 0
        assert sessions[0].shots_recorded == 3
