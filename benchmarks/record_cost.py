"""What the treatment record costs: rows per armed idle minute, and the longest event-loop stall while firing.

Runs against whatever ``mesogun`` is on ``PYTHONPATH`` (only public API), so the same script measures the
code before and after a change::

    PYTHONPATH=/work/main       python benchmarks/record_cost.py   # before
    PYTHONPATH=/work/wt/record  python benchmarks/record_cost.py   # after

* rows: a simulated gun armed and idle for :data:`IDLE_S` of virtual time with the record attached; the rows
  of every table of the record afterwards, and how many of them are keep-alives (heartbeat, its ack).
* stall: a real-time loop firing :data:`SHOTS` shots at 10/s over ``sim://`` with the record attached, while
  a probe task sleeps :data:`PROBE_S` at a time and notes how late it wakes; the longest lateness is the
  longest time the loop could not run anything else (link reader, heartbeats).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import mesogun
from mesogun.record import SessionRecorder, TreatmentRecord
from sims.clock import run_virtual

IDLE_S = 60.0
"""Virtual seconds the gun stays armed and idle."""
SHOTS = 30
"""Shots fired at 10/s for the stall measurement (3 s of real time)."""
PROBE_S = 0.002
"""The loop-lag probe's sleep."""
TABLES = ("events", "shots", "sessions", "devices", "unreceived", "anomalies")


async def ready_to_fire(gun: mesogun.Gun) -> None:
    await gun.load_syringe(capacity_ml=10)
    await gun.prime(volume_ml=0.1)
    await gun.configure(depth_mm=2.0, dose_ml=0.005, rate_hz=10, mode="burst")
    await gun.arm()


def count_rows(db: Path) -> tuple[int, int]:
    """All rows of the record, and the keep-alive rows among them."""
    conn = sqlite3.connect(db)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        total = sum(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES if t in names)
        keepalive = conn.execute(
            "SELECT COUNT(*) FROM events WHERE type = 'heartbeat'"
            " OR (type = 'ack' AND json_extract(body, '$.command') = 'heartbeat')"
        ).fetchone()[0]
    finally:
        conn.close()
    return int(total), int(keepalive)


def rows_per_idle_minute(db: Path) -> tuple[int, int]:
    """Rows written while armed and idle for IDLE_S (the setup's rows subtracted)."""

    async def scenario() -> tuple[int, int]:
        record = TreatmentRecord(db)
        try:
            async with mesogun.connect("sim://", recorder=SessionRecorder(record)) as gun:
                await ready_to_fire(gun)
                await asyncio.sleep(0.5)  # let queued writes land before counting
                before = count_rows(db)
                await asyncio.sleep(IDLE_S)
                await gun.refresh_status()
                await asyncio.sleep(0.5)
                after = count_rows(db)
        finally:
            record.close()
        return after[0] - before[0], after[1] - before[1]

    return run_virtual(scenario)


def longest_stall(db: Path) -> tuple[float, int]:
    """The longest event-loop lateness (s) while firing SHOTS at 10/s with the record on, and shots fired."""

    async def scenario() -> tuple[float, int]:
        worst = 0.0
        running = True

        async def probe() -> None:
            nonlocal worst
            while running:
                start = time.perf_counter()
                await asyncio.sleep(PROBE_S)
                worst = max(worst, time.perf_counter() - start - PROBE_S)

        record = TreatmentRecord(db)
        try:
            async with mesogun.connect("sim://", recorder=SessionRecorder(record)) as gun:
                await ready_to_fire(gun)
                task = asyncio.create_task(probe())
                shots = await gun.fire(count=SHOTS)
                running = False
                await task
        finally:
            record.close()
        return worst, len(shots)

    return asyncio.run(scenario())


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        rows, keepalive = rows_per_idle_minute(Path(tmp) / "idle.sqlite")
        print(f"rows per armed idle {IDLE_S:g} s: {rows} ({keepalive} keep-alives)")
        stall, fired = longest_stall(Path(tmp) / "fire.sqlite")
        print(f"longest event-loop stall firing {fired} shots at 10/s with the record on: {stall * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
