"""Emergency-stop latency: from the call ``gun.emergency_stop()`` to the device having halted, while firing.

Set-up as in use: the simulated gun in another process (:mod:`benchmarks.estop_sim`, i.e. ``mesogun sim
--serial-port`` reporting when its device executed each emergency stop) on one end of a socat pty pair;
this process on the other end, connected with the treatment record attached as the CLI connects, firing
continuously at 10 shots/s (so shots are being committed to the record when the stop is called).

Each try: arm, ``fire(count=0)``, let it fire for :data:`FIRING_S` plus a random part of one shot
period (so the stop lands anywhere in a stroke), then take ``time.monotonic()`` and call
``emergency_stop()``. The latency is the device's CLOCK_MONOTONIC time of having halted minus that
start (one clock for both processes on this machine). Between tries the alarm is cleared, and the
raw-fd echo floor of another pty pair is sampled (:data:`ECHO_PER_TRY` round trips), so noise hits
both alike. The peer is the echo's *round trip* p50: a stop needs one way only, so a ratio above 1
means we are faster than a round trip of bare bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import peers
from benchmarks.processes import Child, python_child, socat_pair
from benchmarks.record import Better, Result
from benchmarks.runner import Benchmark
from benchmarks.settings import Settings
from benchmarks.simulator import READY_TIMEOUT, require_host_and_simulator
from benchmarks.stats import percentile

RATE_HZ = 10.0
"""Shots per second while the stop is called."""
DOSE_ML = 0.01
"""Small enough that 100 tries of about 4 shots, and the prime, fit the 10 mL syringe."""
FIRING_S = 0.3
"""Seconds of firing before each stop (a few shots committed), plus a random part of a shot period."""
WARMUP = 3
"""Untimed tries first (first allocations, SQLite pages)."""
ECHO_PER_TRY = 5
"""Raw echo round trips sampled between tries."""
REPORT_TIMEOUT = 5.0
"""Seconds the simulator may take to report an executed emergency stop."""
SEED = 10
ECHO_RAW = "raw os.read/os.write echo round trip (floor)"
NOTE = "emergency_stop() call → device halted (sim's monotonic time), firing 10 shots/s, record on, pty pair"


@contextlib.contextmanager
def _estop_simulator(stack: contextlib.ExitStack) -> Any:
    """Serve the reporting simulator on a fresh pty pair; yield (host end, the child to read reports from)."""
    device_end, host_end = stack.enter_context(socat_pair())
    with python_child("benchmarks.estop_sim", device_end, stdout=True) as sim:
        line = sim.read_line(READY_TIMEOUT, "benchmarks.estop_sim")
        if not line.startswith("SERIAL"):
            raise RuntimeError(f"benchmarks.estop_sim announced {line!r}, expected 'SERIAL <path>'")
        yield host_end, sim


def _device_time(sim: Child) -> float:
    line = sim.read_line(REPORT_TIMEOUT, "benchmarks.estop_sim")
    kind, _, when = line.partition(" ")
    if kind != "ESTOP":
        raise RuntimeError(f"benchmarks.estop_sim reported {line!r}, expected 'ESTOP <monotonic time>'")
    return float(when)


async def _one_try(gun: Any, sim: Child, rng: random.Random) -> tuple[float, float]:
    """Arm, fire, stop; return (call → device halted, call → API returned) in seconds."""
    await gun.arm()
    firing = asyncio.create_task(gun.fire(count=0))
    await asyncio.sleep(FIRING_S + rng.uniform(0, 1 / RATE_HZ))
    if firing.done():
        raise RuntimeError(f"firing ended before the stop was called: {firing.result()!r}")
    start = time.monotonic()
    await gun.emergency_stop()
    returned = time.monotonic()
    halted = _device_time(sim)
    await asyncio.gather(firing, return_exceptions=True)
    await gun.clear_alarm()
    return halted - start, returned - start


async def _measure(stack: contextlib.ExitStack, tries: int) -> tuple[list[float], list[float], list[float]]:
    import mesogun
    from mesogun.record import SessionRecorder, TreatmentRecord

    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="mesogun-bench-estop-"))
    record = stack.enter_context(TreatmentRecord(Path(tmp) / "record.sqlite"))
    host_end, sim = stack.enter_context(_estop_simulator(stack))
    rng = random.Random(SEED)
    halted: list[float] = []
    returned: list[float] = []
    echo: list[float] = []
    async with contextlib.AsyncExitStack() as clients:
        echo_pinger = await clients.enter_async_context(peers.raw_echo_pinger(stack))
        gun = await clients.enter_async_context(mesogun.connect(host_end, recorder=SessionRecorder(record)))
        await gun.configure(depth_mm=2.0, dose_ml=DOSE_ML, rate_hz=RATE_HZ, mode="continuous")
        await gun.load_syringe(capacity_ml=10)
        await gun.prime(volume_ml=0.1)
        for i in range(WARMUP + tries):
            to_device, to_api = await _one_try(gun, sim, rng)
            round_trips = [await echo_pinger.once() for _ in range(ECHO_PER_TRY)]
            if i >= WARMUP:
                halted.append(to_device)
                returned.append(to_api)
                echo += round_trips
    return halted, returned, echo


def _ms(samples: list[float], pct: float) -> float:
    return round(percentile(samples, pct) * 1000, 4)


def run(settings: Settings) -> list[Result]:
    """Stop a firing gun ``settings.estop_tries`` times; p50 and p99 against the raw echo round trip p50."""
    require_host_and_simulator()
    with contextlib.ExitStack() as stack:
        halted, returned, echo = asyncio.run(_measure(stack, settings.estop_tries))
    extra = {
        "tries": len(halted),
        "api_returned_p50_ms": _ms(returned, 50),
        "api_returned_p99_ms": _ms(returned, 99),
        "echo_p99_ms": _ms(echo, 99),
        "max_ms": round(max(halted) * 1000, 4),
    }
    floor = _ms(echo, 50)
    return [
        Result("estop_p50_vs_echo", _ms(halted, 50), ECHO_RAW, floor, "ms", Better.LOWER, None, NOTE, extra=extra),
        Result("estop_p99_vs_echo", _ms(halted, 99), ECHO_RAW, floor, "ms", Better.LOWER, None, NOTE, extra=extra),
    ]


BENCHMARK = Benchmark(
    "estop",
    run,
    (
        ("estop_p50_vs_echo", ECHO_RAW, "ms", Better.LOWER, None),
        ("estop_p99_vs_echo", ECHO_RAW, "ms", Better.LOWER, None),
    ),
)
