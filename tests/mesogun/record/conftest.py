"""Record-test fixtures: a second process that holds the treatment record's write lock."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mesogun.record import TreatmentRecord
from mesogun.record.store import BUSY_TIMEOUT_S
from mesogun.record.writer import RECORD_WRITE_TIMEOUT

HOLD_LOCK_S = 2 * RECORD_WRITE_TIMEOUT
"""How long the second process holds its write lock: longer than the record waits for one."""


@pytest.fixture
def second_process_lock() -> Iterator[Callable[[Path], None]]:
    """``lock(db)``: a second process takes ``db``'s write lock (BEGIN EXCLUSIVE) and holds it for longer than
    the record's write timeout; returns once the lock is held (blocking: from a loop, use ``to_thread``).
    Every holder is killed at teardown."""
    assert BUSY_TIMEOUT_S < RECORD_WRITE_TIMEOUT < HOLD_LOCK_S
    holders: list[subprocess.Popen[str]] = []

    def lock(db: Path) -> None:
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys, time\n"
                f"db = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
                "db.execute('BEGIN EXCLUSIVE')\n"
                "print('locked', flush=True)\n"
                f"time.sleep({HOLD_LOCK_S})\n",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        holders.append(holder)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"

    try:
        yield lock
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()
            if holder.stdout is not None:
                holder.stdout.close()


@pytest.fixture
def locked_by_another_process(tmp_path: Path, second_process_lock: Callable[[Path], None]) -> Path:
    """A record whose write lock a second process holds (BEGIN EXCLUSIVE) for longer than the write timeout."""
    db = tmp_path / "r.sqlite"
    TreatmentRecord(db).close()
    second_process_lock(db)
    return db
