"""Child process for the host-cost benchmark: a host that fires continuously and measures its own CPU time.

Usage: ``python -m benchmarks.host_load PORT SECONDS [--no-follow]``. Connects with the public API, sets 10 shots/s in
continuous mode, loads, primes, arms and fires until stopped; while firing it follows the event stream
like a UI showing live counters, and keeps the treatment record (SQLite, a shot committed per event) as
the CLI does. It measures ``time.process_time()`` (all threads of this process) over
``SECONDS`` of wall time once firing has settled, stops, and prints one JSON object on stdout.
``--no-follow`` leaves the event stream alone, to show what following it costs (diagnostics only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import mesogun
from mesogun.record import SessionRecorder, TreatmentRecord

RATE_HZ = 10.0
DOSE_ML = 0.01
"""600 shots (60 s at 10/s) of 0.01 mL, with the prime, fit a 10 mL syringe."""
SETTLE_S = 1.0


async def measure(url: str, seconds: float, *, follow_events: bool = True) -> dict[str, Any]:
    """Fire for ``seconds`` (after :data:`SETTLE_S`) and return CPU and wall seconds, shots and status seen."""
    counts = {"shot": 0, "status": 0}

    async def follow(stream: mesogun.EventStream) -> None:
        async for event in stream:
            if isinstance(event, mesogun.ShotEvent):
                counts["shot"] += 1
            elif isinstance(event, mesogun.StatusEvent):
                counts["status"] += 1

    with (
        tempfile.TemporaryDirectory(prefix="mesogun-host-load-") as tmp,
        TreatmentRecord(Path(tmp) / "r.sqlite") as record,
    ):
        return await _fire(url, seconds, SessionRecorder(record), counts, follow if follow_events else None)


async def _fire(
    url: str,
    seconds: float,
    recorder: SessionRecorder,
    counts: dict[str, int],
    follow: Callable[[mesogun.EventStream], Coroutine[Any, Any, None]] | None,
) -> dict[str, Any]:
    """Connect with the record attached, fire continuously, measure CPU over ``seconds`` of wall time."""
    async with mesogun.connect(url, recorder=recorder) as gun:
        await gun.configure(depth_mm=2.0, dose_ml=DOSE_ML, rate_hz=RATE_HZ, mode="continuous")
        await gun.load_syringe(capacity_ml=10)
        await gun.prime(volume_ml=0.1)
        await gun.arm()
        stream = gun.events() if follow is not None else None
        follower = asyncio.create_task(
            follow(stream) if follow is not None and stream is not None else asyncio.sleep(0)
        )
        firing = asyncio.create_task(gun.fire(count=0))
        await asyncio.sleep(SETTLE_S)
        shots0, status0 = counts["shot"], counts["status"]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        shots, statuses = counts["shot"] - shots0, counts["status"] - status0
        await gun.stop()
        shots_fired = await firing
        if stream is not None:
            stream.close()
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await gun.disarm()
    if follow is None:
        shots = len(shots_fired)  # the whole burst (settling included): nobody counted events
    return {"cpu_s": cpu, "wall_s": wall, "shots": shots, "status": statuses}


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        figures = asyncio.run(measure(sys.argv[1], float(sys.argv[2]), follow_events="--no-follow" not in sys.argv))
        print(json.dumps(figures), flush=True)
