"""Virtual-time speedup: simulated seconds per wall second of a whole treatment session, in-process.

The session is what a practitioner's 30 minutes look like: configure, load a 10 mL syringe, prime, arm,
then 20 bursts of about 100 shots at 2 shots/s with pauses between them (about 2,000 shots), the device
sending status at 10 Hz throughout, and the host (the public ``mesogun.connect("sim://")`` API, heartbeats
and all) following every event. It runs on :func:`sims.clock.run_virtual`, where the loop's clock jumps to
the next timer; the peer is the wall clock, which runs a session in real time (1×).
"""

from __future__ import annotations

import asyncio
import time

from benchmarks.record import Better, Result
from benchmarks.runner import Benchmark
from benchmarks.settings import Settings
from benchmarks.simulator import require_host_and_simulator
from benchmarks.stats import median

SHOTS_PER_30_MIN = 2000
BURSTS_PER_30_MIN = 20
RATE_HZ = 2.0
DOSE_ML = 0.004
"""Drop volume: 2,000 shots (+3 % simulated calibration error) and the prime fit a 10 mL syringe."""
GOAL = 300.0
"""Simulated seconds per wall second, for the median of the repeats (the slowest repeat is in ``extra``)."""
PEER = "wall clock (real time)"


async def session(minutes: float) -> tuple[float, int]:
    """Run one simulated session of ``minutes``; return (simulated seconds, shots delivered)."""
    import mesogun

    loop = asyncio.get_running_loop()
    scale = minutes / 30
    bursts = max(1, round(BURSTS_PER_30_MIN * scale))
    per_burst = max(1, round(SHOTS_PER_30_MIN * scale / bursts))
    length = minutes * 60
    start = loop.time()
    shots = 0
    async with mesogun.connect("sim://") as gun:
        await gun.configure(depth_mm=2.0, dose_ml=DOSE_ML, rate_hz=RATE_HZ, mode="burst")
        await gun.load_syringe(capacity_ml=10)
        await gun.prime(volume_ml=0.1)
        await gun.arm()
        pause = max(0.0, (length - (loop.time() - start) - bursts * per_burst / RATE_HZ) / bursts)
        for _ in range(bursts):
            shots += len(await gun.fire(count=per_burst))
            await asyncio.sleep(pause)
        await gun.disarm()
    return loop.time() - start, shots


def run(settings: Settings) -> list[Result]:
    """Time the session on a virtual-time loop ``settings.session_repeats`` times; the median speedup."""
    require_host_and_simulator()
    from sims.clock import run_virtual

    speedups: list[float] = []
    simulated = 0.0
    shots = 0
    for _ in range(settings.session_repeats):
        wall_start = time.perf_counter()
        simulated, shots = run_virtual(lambda: session(settings.session_minutes))
        speedups.append(simulated / (time.perf_counter() - wall_start))
    speed = median(speedups)
    return [
        Result(
            "virtual_time_speedup",
            round(speed, 1),
            PEER,
            1.0,
            "sim s/wall s",
            Better.HIGHER,
            GOAL,
            note=f"{settings.session_minutes:g}-minute session in-process (sim://) under sims.clock.run_virtual",
            extra={
                "simulated_s": round(simulated, 1),
                "wall_s": round(simulated / speed, 2),
                "shots": shots,
                "repeats": settings.session_repeats,
                "slowest_repeat": round(min(speedups), 1),
                "fastest_repeat": round(max(speedups), 1),
            },
        )
    ]


BENCHMARK = Benchmark(
    "virtual_time",
    run,
    (("virtual_time_speedup", PEER, "sim s/wall s", Better.HIGHER, GOAL),),
)
