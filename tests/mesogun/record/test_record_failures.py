"""A record that cannot write: every kind of write fails loudly, at once, in one line, and never hangs.

Each failure must (a) reach the failure handler the Gun registers (so it stops and disarms the gun), (b) make
every later call raise RecordError naming the record and the cause, and (c) never block the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from firmware_protocol import Message, make
from mesogun.errors import RecordError
from mesogun.record import SessionRecorder, TreatmentRecord
from mesogun.record.store import BUSY_TIMEOUT_S
from mesogun.record.writer import RECORD_WRITE_TIMEOUT

INFO: Any = SimpleNamespace(
    serial_number="SN1", model="MG-1", firmware_version="1.0.0", hardware_id="", counter_epoch=0, calibration_id=0
)
STATUS: Any = SimpleNamespace(shots_lifetime=0, active_alarms=())
CHILD = Path(__file__).with_name("record_child.py")
DROP_TO_UID = "MESOGUN_TEST_DROP_TO_UID"
"""Tells the child to become this user once started (root may write any file, so a root child cannot test a
read-only record; dropping after exec keeps the interpreter, which that user may not be allowed to run)."""


def shot(index: int) -> Message:
    return make("shot", seq=index, shot_index=index, fire_seq=8, depth_um=2500, dose_nl=50_000, device_time_ms=index)


ALARM = make("alarm", code="occlusion", priority="high", raised=True, device_time_ms=5)

WRITES = ["connected", "command", "reply", "shot", "alarm", "disconnected"]
"""Every kind of write the Gun causes, in the order a session causes them."""


def failing_record(kind: str) -> type[TreatmentRecord]:
    """A record whose disk fails on one kind of write (and only that one)."""

    class Failing(TreatmentRecord):
        def start_session(self, device_serial: str, **kwargs: Any) -> int:
            if kind == "connected":
                raise RecordError(f"treatment record {self.path}: disk I/O error (simulated on {kind})")
            return super().start_session(device_serial, **kwargs)

        def log_message(self, session_id: int, direction: str, message: Message) -> None:
            name = {"host": "command"}.get(direction, "reply" if message.name in ("ack", "status") else message.name)
            if name == kind:
                raise RecordError(f"treatment record {self.path}: disk I/O error (simulated on {kind})")
            super().log_message(session_id, direction, message)

        def end_session(self, session_id: int) -> None:
            if kind == "disconnected":
                raise RecordError(f"treatment record {self.path}: disk I/O error (simulated on {kind})")
            super().end_session(session_id)

    return Failing


async def run_session(recorder: SessionRecorder) -> str | None:
    """Go through one session's writes; the step whose call raised (``None`` if none did)."""
    steps = [
        ("connected", recorder.on_connected(INFO, STATUS, "sim://")),
        ("command", recorder.on_message("host", make("fire", seq=8, count=2))),
        ("reply", recorder.on_message("device", make("ack", seq=8, command="fire", count=2))),
        ("shot", recorder.on_message("device", shot(1))),
        ("alarm", recorder.on_message("device", ALARM)),
        ("disconnected", recorder.on_disconnected("closed by the host")),
    ]
    for index, (step, call) in enumerate(steps):
        try:
            await call
        except RecordError:
            for _, unused in steps[index + 1 :]:
                unused.close()
            await recorder.writer.close()
            return step
    return None


@pytest.mark.parametrize("kind", WRITES)
def test_every_kind_of_write_that_fails_reaches_the_handler_and_fails_every_later_call(
    real: Any, tmp_path: Path, kind: str
) -> None:
    """Not only shots: a failing session start, command, reply, shot, alarm or session end is reported to the
    handler once, in one line naming the record, and no call after it succeeds. Awaited writes (session
    start and end, shots, alarms) raise themselves; a queued one (command, reply) raises at the next call."""
    db = tmp_path / "r.sqlite"
    failures: list[RecordError] = []

    async def scenario() -> str | None:
        recorder = SessionRecorder(failing_record(kind)(db))
        recorder.on_failure(failures.append)
        raised_at = await run_session(recorder)
        with pytest.raises(RecordError, match="simulated"):
            await recorder.on_message("host", make("get_status", seq=99))
        return raised_at

    raised_at = real(scenario)
    (failure,) = failures
    assert str(db) in str(failure) and f"simulated on {kind}" in str(failure) and "\n" not in str(failure)
    # a queued write fails a later call, at the latest the next awaited one (the shot)
    assert raised_at in {"command": ("reply", "shot"), "reply": ("shot",)}.get(kind, (kind,))


def test_a_handler_registered_after_the_failure_hears_of_it_at_once(real: Any, tmp_path: Path) -> None:
    """The Gun may attach late (a reconnect): it still learns the record is gone."""

    async def scenario() -> None:
        recorder = SessionRecorder(failing_record("connected")(tmp_path / "r.sqlite"))
        with pytest.raises(RecordError):
            await recorder.on_connected(INFO, STATUS, "sim://")
        late: list[RecordError] = []
        recorder.on_failure(late.append)
        assert len(late) == 1
        await recorder.writer.close()

    real(scenario)


def test_a_record_locked_by_another_process_fails_without_blocking_the_loop(
    real: Any, locked_by_another_process: Path
) -> None:
    """The lock outlasts SQLite's busy timeout: the write fails with "database is locked" (no hang), and
    meanwhile the event loop keeps running (heartbeats and the link reader would go on)."""
    assert BUSY_TIMEOUT_S < RECORD_WRITE_TIMEOUT
    failures: list[RecordError] = []

    async def scenario() -> int:
        recorder = SessionRecorder(locked_by_another_process)
        recorder.on_failure(failures.append)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        try:
            with pytest.raises(RecordError, match="database is locked"):
                await recorder.on_connected(INFO, STATUS, "sim://")
        finally:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
        with pytest.raises(RecordError, match="database is locked"):
            await recorder.on_message("device", shot(1))
        await recorder.writer.close()
        return ticks

    ticks = real(scenario)
    assert ticks > 1, "the event loop was blocked while the record waited for the lock"
    (failure,) = failures
    assert str(locked_by_another_process) in str(failure)


def test_a_corrupt_record_fails_the_session_start(real: Any, tmp_path: Path) -> None:
    """A file that is not (or no longer) a database: the first write fails, naming the cause."""
    db = tmp_path / "r.sqlite"
    db.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    failures: list[RecordError] = []

    async def scenario() -> None:
        recorder = SessionRecorder(db)
        recorder.on_failure(failures.append)
        with pytest.raises(RecordError, match="not a database"):
            await recorder.on_connected(INFO, STATUS, "sim://")
        await recorder.writer.close()

    real(scenario)
    assert len(failures) == 1 and str(db) in str(failures[0])


def run_child(db: Path, shots: int, *, preexec: Any, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Record ``shots`` shots in a child process limited by ``preexec``; its JSON report."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **(env or {})}
    done = subprocess.run(
        [sys.executable, str(CHILD), str(db), str(shots)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=preexec,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_a_full_disk_fails_the_shot_it_cannot_commit(tmp_path: Path) -> None:
    """A real "disk full" (the child may not grow any file past a few pages): the shot that does not fit
    raises, the handler hears of it once, and fewer shots are on record than were asked for."""
    db = tmp_path / "r.sqlite"
    TreatmentRecord(db).close()
    limit = db.stat().st_size + 64 * 1024

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    report = run_child(db, 500, preexec=small_disk)
    assert report["committed"] < 500
    assert report["error"] and "full" in report["error"] and str(db) in report["error"]
    assert len(report["failures"]) == 1
    with TreatmentRecord(db, create=False) as record:
        assert record.session(1).shots_recorded == report["committed"]


def test_a_read_only_record_fails_the_session_start(tmp_path: Path) -> None:
    """A record file the host may not write (as another user if the tests run as root, who may write anything)."""
    shared = Path(os.environ.get("TMPDIR", "/tmp")) / f"mesogun-ro-{os.getpid()}"
    shared.mkdir(mode=0o755, exist_ok=True)
    db = shared / "r.sqlite"
    try:
        TreatmentRecord(db).close()
        with contextlib.closing(sqlite3.connect(db)) as plain:
            plain.execute("PRAGMA journal_mode=DELETE")  # no -wal/-shm files a reader would have to create
        db.chmod(0o444)
        shared.chmod(0o555)
        drop = {DROP_TO_UID: str(pwd.getpwnam("nobody").pw_uid)} if os.geteuid() == 0 else {}
        report = run_child(db, 3, preexec=None, env=drop)
        assert report["committed"] == 0
        assert report["error"] and "readonly" in report["error"].replace("-", "").replace(" ", "")
        assert str(db) in report["error"] and len(report["failures"]) == 1
    finally:
        shared.chmod(0o755)
        for leftover in shared.iterdir():
            leftover.unlink()
        shared.rmdir()
