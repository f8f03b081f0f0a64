"""End to end: a simulated gun firing with a record that fails. What must hold is what the DEVICE saw: a stop,
at most the stroke in progress after it, and the gun disarmed — whatever kind of write failed (an awaited
shot, a queued command reported through the record's failure handler, a lock held by a second process),
without waiting for the disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import mesogun
from firmware_protocol import CATALOG, DeviceState, StreamDecoder
from mesogun.errors import RecordError
from mesogun.record import SessionRecorder, TreatmentRecord
from mesogun.transports.sim import SimTransport
from sims.inprocess import InProcessSim, start_inprocess


@dataclass
class DeviceLog:
    """The commands the device received, each with the device's lifetime shot count when it arrived."""

    sim: InProcessSim
    received: list[tuple[str, int]] = field(default_factory=list)
    decoder: StreamDecoder = field(default_factory=StreamDecoder)

    def tap(self) -> None:
        """Log every host frame before the device handles it (call before connecting)."""
        device = self.sim.device
        receive = device.receive

        def logged(data: bytes) -> None:
            for frame in self.decoder.feed(data):
                self.received.append((CATALOG.by_id[frame.msg_type].name, device.shots_lifetime))
            receive(data)

        device.receive = logged  # type: ignore[method-assign]

    def shots_at_first(self, command: str) -> int:
        """The device's shot count when ``command`` first arrived (fails the test if it never did)."""
        counts = [shots for name, shots in self.received if name == command]
        assert counts, f"the device never received {command}; it received {[n for n, _ in self.received]}"
        return counts[0]


async def ready_to_fire(gun: mesogun.Gun) -> None:
    await gun.load_syringe(capacity_ml=10)
    await gun.prime(volume_ml=0.1)
    await gun.configure(depth_mm=2.0, dose_ml=0.005, rate_hz=10, mode="burst")
    await gun.arm()


async def fire_into(record: TreatmentRecord) -> DeviceLog:
    """Fire a long burst with ``record`` attached until the record fails; what the device saw."""
    sim = await start_inprocess("")
    log = DeviceLog(sim)
    log.tap()
    try:
        async with mesogun.connect(SimTransport.attach(sim), recorder=SessionRecorder(record)) as gun:
            await ready_to_fire(gun)
            with pytest.raises(RecordError):
                await gun.fire(count=50)
            assert sim.device.state is not DeviceState.FIRING
    except RecordError:
        pass  # closing may report the failed record again; the gun is what matters
    finally:
        await sim.close()
    return log


def assert_stopped_and_disarmed(log: DeviceLog) -> None:
    stop_at = log.shots_at_first("stop")
    fired = log.sim.device.shots_lifetime
    # stop ends firing at the end of the shot in progress (docs/protocol.md): at most that one stroke follows
    assert fired <= stop_at + 1, f"the device fired {fired - stop_at} shots after the stop"
    assert fired < 50, "the burst was not cut short"
    assert log.shots_at_first("disarm") == fired
    assert log.sim.device.state is DeviceState.READY


class FailsFromShot3(TreatmentRecord):
    """A record whose disk fails on the third shot."""

    def log_message(self, session_id: int, direction: str, message: Any) -> None:
        if message.name == "shot" and message["shot_index"] >= 3:
            raise RecordError(f"treatment record {self.path}: disk I/O error (simulated)")
        super().log_message(session_id, direction, message)


def test_a_shot_the_record_cannot_take_stops_and_disarms_the_device(virtual: Any, tmp_path: Path) -> None:
    """Shot 3 cannot be written: the device receives stop, fires nothing after it, and is disarmed."""
    log = virtual(lambda: fire_into(FailsFromShot3(tmp_path / "r.sqlite")))
    assert_stopped_and_disarmed(log)


class FailsOnTheFireCommand(TreatmentRecord):
    """A record whose disk fails on a write the Gun does not await: the ``fire`` command itself (queued; the
    command goes out first, the failure comes back through the record's failure handler mid-burst)."""

    def log_message(self, session_id: int, direction: str, message: Any) -> None:
        if direction == "host" and message.name == "fire":
            raise RecordError(f"treatment record {self.path}: disk I/O error (simulated on {message.name})")
        super().log_message(session_id, direction, message)


def test_a_queued_command_the_record_cannot_take_stops_and_disarms_the_device(virtual: Any, tmp_path: Path) -> None:
    """Not only shots: a failing command write (queued, reported by the failure handler) stops the gun too."""
    log = virtual(lambda: fire_into(FailsOnTheFireCommand(tmp_path / "r.sqlite")))
    assert_stopped_and_disarmed(log)


def test_a_failing_record_is_never_asked_to_log_heartbeats(virtual: Any, tmp_path: Path) -> None:
    """Keep-alives never reach the record, so a record failure cannot hold them back."""
    seen: list[str] = []

    class Noting(TreatmentRecord):
        def log_message(self, session_id: int, direction: str, message: Any) -> None:
            seen.append(message.name if message.name != "ack" else f"ack:{message['command']}")
            super().log_message(session_id, direction, message)

    async def scenario() -> None:
        sim = await start_inprocess("status_period_ms=0")
        try:
            async with mesogun.connect(SimTransport.attach(sim), recorder=SessionRecorder(Noting(tmp_path / "r"))):
                await asyncio.sleep(5)
        finally:
            await sim.close()

    virtual(scenario)
    assert "heartbeat" not in seen and "ack:heartbeat" not in seen


def test_a_record_a_second_process_locks_mid_burst_stops_and_disarms_the_device(
    real: Any, tmp_path: Path, second_process_lock: Callable[[Path], None]
) -> None:
    """Another process takes the record's write lock (BEGIN EXCLUSIVE) during a burst and keeps it past the
    write timeout: the next shot cannot be committed ("database is locked"), so the device receives stop,
    fires at most the stroke in progress after it, is disarmed, and the caller's fire() raises RecordError.
    Real time: the lock is a real SQLite lock in a real process, and SQLite's busy wait is wall-clock."""
    db = tmp_path / "r.sqlite"
    record = TreatmentRecord(db)
    raised: list[RecordError] = []

    async def scenario() -> DeviceLog:
        sim = await start_inprocess("")
        log = DeviceLog(sim)
        log.tap()
        try:
            async with mesogun.connect(SimTransport.attach(sim), recorder=SessionRecorder(record)) as gun:
                await ready_to_fire(gun)
                burst = asyncio.ensure_future(gun.fire(count=50))
                while sim.device.shots_lifetime < 2 and not burst.done():
                    await asyncio.sleep(0.01)
                await asyncio.to_thread(second_process_lock, db)  # the loop (and the burst) runs on meanwhile
                try:
                    await burst
                except RecordError as exc:
                    raised.append(exc)
                assert sim.device.state is not DeviceState.FIRING
        except RecordError:
            pass  # closing reports the locked record again; the gun is what matters
        finally:
            await sim.close()
        return log

    try:
        log = real(scenario)
    finally:
        record.close()
    assert raised, "fire() returned although its shots could not be recorded"
    # Whichever comes first names the lock: SQLite's busy timeout, or the session's bound on a shot waiting
    # for the record (Timeouts.record_lag, shorter, so fewer shots fire unrecorded).
    message = str(raised[0])
    assert ("database is locked" in message and str(db) in message) or "holds it locked" in message, message
    assert log.shots_at_first("stop") >= 2, "the lock was taken before the burst was under way"
    assert_stopped_and_disarmed(log)
