"""Child process for the host-cost benchmark: a host that fires continuously and measures its own CPU time.

Usage: ``python -m benchmarks.host_load PORT SECONDS``. Connects with the public API, sets 10 shots/s in
continuous mode, loads, primes, arms and fires until stopped; while firing it follows the event stream
like a UI showing live counters. It measures ``time.process_time()`` (all threads of this process) over
``SECONDS`` of wall time once firing has settled, stops, and prints one JSON object on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from typing import Any

RATE_HZ = 10.0
DOSE_ML = 0.01
"""600 shots (60 s at 10/s) of 0.01 mL, with the prime, fit a 10 mL syringe."""
SETTLE_S = 1.0


async def measure(url: str, seconds: float) -> dict[str, Any]:
    """Fire for ``seconds`` (after :data:`SETTLE_S`) and return CPU and wall seconds, shots and status seen."""
    import mesogun

    counts = {"shot": 0, "status": 0}

    async def follow(stream: mesogun.EventStream) -> None:
        async for event in stream:
            if isinstance(event, mesogun.ShotEvent):
                counts["shot"] += 1
            elif isinstance(event, mesogun.StatusEvent):
                counts["status"] += 1

    async with mesogun.connect(url) as gun:
        await gun.configure(depth_mm=2.0, dose_ml=DOSE_ML, rate_hz=RATE_HZ, mode="continuous")
        await gun.load_syringe(capacity_ml=10)
        await gun.prime(volume_ml=0.1)
        await gun.arm()
        stream = gun.events()
        follower = asyncio.create_task(follow(stream))
        firing = asyncio.create_task(gun.fire(count=0))
        await asyncio.sleep(SETTLE_S)
        shots0, status0 = counts["shot"], counts["status"]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        shots, statuses = counts["shot"] - shots0, counts["status"] - status0
        await gun.stop()
        await firing
        stream.close()
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await gun.disarm()
    return {"cpu_s": cpu, "wall_s": wall, "shots": shots, "status": statuses}


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        print(json.dumps(asyncio.run(measure(sys.argv[1], float(sys.argv[2])))), flush=True)
