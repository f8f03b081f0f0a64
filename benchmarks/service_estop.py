"""Emergency-stop latency through the gun service (issue 13 item 3): from a client's ``POST
/guns/{serial}/emergency-stop`` to the device having halted, while the gun fires at 10 shots/s.

Processes: the reporting simulator (:mod:`benchmarks.estop_sim`: ``mesogun sim --serial-port`` printing
``ESTOP <CLOCK_MONOTONIC time>`` once its device has halted) on one end of a socat pty pair; a real ``mesogun
serve`` process owning the other end (its record on, as always); the client in this process, signed in as a
practitioner, attending the gun (heartbeats), its e-stop sent on an HTTP/1.1 connection of its own kept alive
between tries (a tablet's stop button holds one).

Each try: arm, ``POST /fire {"count": 0}`` (continuous, 10 shots/s: the request stays open in the service
for the whole burst), wait :data:`~benchmarks.estop.FIRING_S` plus a random part of one shot period, take
``time.monotonic()``, send the e-stop. The headline's stop is the request's bytes, built beforehand, written on
a kept-alive connection of its own (:class:`~benchmarks.service_client.BareRequest`: what a browser's stop
button sends): its sample is the device's halt time minus that start — loopback TCP, uvicorn parsing the
request (httptools), the service's middleware (audit trail, body limit; the safe routes need no sign-in) and
route, ``Gun.emergency_stop()`` (its urgent queue ahead of any queued command), the link's write, the pty pair
and socat, the simulator's read and dispatch. The same stop sent with httpx (the Python client,
``mesogun.service_client``) is an info row: it adds httpx building and writing the request. The device's time
and ours are both CLOCK_MONOTONIC (``time.monotonic()`` on Linux: one clock for every process on the
machine); each sample is checked to lie between the request's start and its reply's arrival, which a clock
mismatch would break.

Interleaved with each try, the same stop through the Python API without a service (``gun.emergency_stop()``
on a gun this process connects directly, record on, :func:`benchmarks.estop._one_try`) on its own simulator,
and :data:`~benchmarks.estop.ECHO_PER_TRY` round trips of the raw-fd echo floor on a third pty pair made
the same way (the service's pair is the service's own while it runs, so the floor is measured on an identical
one). Goal (issue 13): p99 within 5 ms of the echo floor (its round-trip p50).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks import estop, peers
from benchmarks.processes import Child
from benchmarks.record import Better, Result
from benchmarks.runner import Benchmark
from benchmarks.service import served_service
from benchmarks.service_client import ServiceClient
from benchmarks.settings import Settings
from benchmarks.simulator import require_host_and_simulator
from benchmarks.stats import percentile

DOSE_ML = 0.005
"""Half the direct benchmark's: two of each try's three stops fire on the service's gun, and 103 tries of about
4.5 shots each, with the prime, must fit its 10 mL syringe (the direct gun fires the same dose)."""
BUDGET_MS = 5.0
"""Issue 13: the e-stop's p99 through the service within this many ms of the raw echo floor."""
ECHO_RAW = estop.ECHO_RAW
DIRECT = "Python API gun.emergency_stop(), no service (same run)"
BUDGET = "budget: p99 − echo floor ≤ 5 ms"
NOTE = (
    "POST /emergency-stop written on a kept-alive connection → device halted (sim's monotonic time), "
    "firing 10 shots/s, mesogun serve, pty pair"
)
WIRE = "the request on the wire (the headline's own samples)"
HTTPX_NOTE = (
    "the same stop sent with the Python client library httpx (mesogun's ServiceClient): the headline plus httpx "
    "building and writing the request in the benchmark's process"
)
PATHS = ("service", "bare", "direct")
"""The three stops of each try: through the service with httpx, the same request's bytes written on a socket
(the headline: the request from the moment it is on the wire, as a browser's stop button sends it), and direct."""
MARGIN_NOTE = "service e-stop p99 minus the raw echo round-trip p50 (the floor); the goal is ≤ 5 ms"


async def _service_try(
    api: ServiceClient, stop: Callable[[], Awaitable[object]], serial: str, sim: Child, rng: random.Random
) -> tuple[float, float]:
    """Arm, fire through the API, ``stop()`` (an e-stop request); return (request → device halted, → reply), s."""
    await api.arm(serial)
    firing = asyncio.create_task(api.fire(serial, 0))
    await asyncio.sleep(estop.FIRING_S + rng.uniform(0, 1 / estop.RATE_HZ))
    if firing.done():
        raise RuntimeError(f"the remote burst ended before the stop was sent: {firing.result()!r}")
    start = time.monotonic()
    await stop()
    replied = time.monotonic()
    halted = estop._device_time(sim)
    await asyncio.gather(firing, return_exceptions=True)  # the burst's request ends with the stop
    await api.clear(serial)
    if not start <= halted <= replied:
        raise RuntimeError(
            f"the device's halt time {halted:.6f} is outside the request's {start:.6f}–{replied:.6f} "
            "(CLOCK_MONOTONIC): the two processes' clocks are not comparable"
        )
    return halted - start, replied - start


async def _measure(stack: contextlib.ExitStack, tries: int) -> dict[str, list[float]]:
    import mesogun
    from mesogun.record import SessionRecorder, TreatmentRecord

    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mesogun-bench-service-estop-")))
    service_end, service_sim = stack.enter_context(estop._estop_simulator(stack))
    svc = stack.enter_context(served_service(service_end, tmp))
    direct_end, direct_sim = stack.enter_context(estop._estop_simulator(stack))
    record = stack.enter_context(TreatmentRecord(tmp / "direct.sqlite"))
    rng = random.Random(estop.SEED)
    samples: dict[str, list[float]] = {name: [] for name in ("service", "service_replied", "bare", "direct", "echo")}
    async with contextlib.AsyncExitStack() as clients:
        echo = await clients.enter_async_context(peers.raw_echo_pinger(stack))
        api = await clients.enter_async_context(ServiceClient(svc.url))
        await api.login(svc.user, svc.pin)
        urgent = await clients.enter_async_context(api.sibling())
        serial = await api.first_gun()
        bare = api.bare_request("POST", f"/guns/{serial}/emergency-stop")
        await bare.open()
        clients.callback(bare.close)

        async def bare_stop() -> int:
            return await bare.send()

        def httpx_stop() -> Awaitable[object]:
            return urgent.emergency_stop(serial)

        await clients.enter_async_context(api.attending(serial, "benchmarks.service_estop"))
        await api.get_ready(serial, dose_ml=DOSE_ML, rate_hz=estop.RATE_HZ)
        gun = await clients.enter_async_context(mesogun.connect(direct_end, recorder=SessionRecorder(record)))
        await gun.configure(depth_mm=2.0, dose_ml=DOSE_ML, rate_hz=estop.RATE_HZ, mode="continuous")
        await gun.load_syringe(capacity_ml=10)
        await gun.prime(volume_ml=0.1)
        for i in range(estop.WARMUP + tries):
            taken: dict[str, float] = {}
            for which in PATHS[i % len(PATHS) :] + PATHS[: i % len(PATHS)]:  # the order rotates each try
                if which == "service":
                    taken["service"], taken["service_replied"] = await _service_try(
                        api, httpx_stop, serial, service_sim, rng
                    )
                elif which == "bare":
                    bare.prepare()
                    taken["bare"], _ = await _service_try(api, bare_stop, serial, service_sim, rng)
                else:
                    taken["direct"], _ = await estop._one_try(gun, direct_sim, rng)
            round_trips = [await echo.once() for _ in range(estop.ECHO_PER_TRY)]
            if i >= estop.WARMUP:
                for name, value in taken.items():
                    samples[name].append(value)
                samples["echo"] += round_trips
        await api.disarm(serial)
    return samples


def _ms(samples: list[float], pct: float) -> float:
    return round(percentile(samples, pct) * 1000, 4)


def run(settings: Settings) -> list[Result]:
    """Stop a firing gun through the service ``settings.service_estop_tries`` times (and directly as often)."""
    require_host_and_simulator()
    with contextlib.ExitStack() as stack:
        samples = asyncio.run(_measure(stack, settings.service_estop_tries))
    wire, httpx_, direct, echo = samples["bare"], samples["service"], samples["direct"], samples["echo"]
    floor = _ms(echo, 50)
    p50, p99 = _ms(wire, 50), _ms(wire, 99)
    extra: dict[str, Any] = {
        "tries": len(wire),
        "max_ms": round(max(wire) * 1000, 4),
        "worst_ms": [round(v * 1000, 2) for v in sorted(wire)[-3:]],
        "httpx_p50_ms": _ms(httpx_, 50),
        "httpx_p99_ms": _ms(httpx_, 99),
        "httpx_worst_ms": [round(v * 1000, 2) for v in sorted(httpx_)[-3:]],
        "httpx_reply_p50_ms": _ms(samples["service_replied"], 50),
        "httpx_reply_p99_ms": _ms(samples["service_replied"], 99),
        "direct_p50_ms": _ms(direct, 50),
        "direct_p99_ms": _ms(direct, 99),
        "echo_p50_ms": floor,
        "echo_p99_ms": _ms(echo, 99),
        "p99_minus_floor_ms": round(p99 - floor, 4),
    }
    common: dict[str, Any] = {"note": NOTE, "extra": extra}
    margin = max(p99 - floor, 0.0)
    return [
        Result(
            "service_estop_p99_margin",
            round(margin, 4),
            BUDGET,
            BUDGET_MS,
            "ms",
            Better.LOWER,
            1.0,
            note=MARGIN_NOTE,
            extra=extra,
        ),
        Result("service_estop_p50_vs_echo", p50, ECHO_RAW, floor, "ms", Better.LOWER, None, **common),
        Result("service_estop_p99_vs_echo", p99, ECHO_RAW, floor, "ms", Better.LOWER, None, **common),
        Result("service_estop_p50_vs_direct", p50, DIRECT, _ms(direct, 50), "ms", Better.LOWER, None, **common),
        Result("service_estop_p99_vs_direct", p99, DIRECT, _ms(direct, 99), "ms", Better.LOWER, None, **common),
        Result(
            "service_estop_httpx_p50_vs_wire",
            _ms(httpx_, 50),
            WIRE,
            p50,
            "ms",
            Better.LOWER,
            None,
            note=HTTPX_NOTE,
            extra=extra,
        ),
        Result(
            "service_estop_httpx_p99_vs_wire",
            _ms(httpx_, 99),
            WIRE,
            p99,
            "ms",
            Better.LOWER,
            None,
            note=HTTPX_NOTE,
            extra=extra,
        ),
    ]


BENCHMARK = Benchmark(
    "service_estop",
    run,
    (
        ("service_estop_p99_margin", BUDGET, "ms", Better.LOWER, 1.0),
        ("service_estop_p50_vs_echo", ECHO_RAW, "ms", Better.LOWER, None),
        ("service_estop_p99_vs_echo", ECHO_RAW, "ms", Better.LOWER, None),
        ("service_estop_p50_vs_direct", DIRECT, "ms", Better.LOWER, None),
        ("service_estop_p99_vs_direct", DIRECT, "ms", Better.LOWER, None),
        ("service_estop_httpx_p50_vs_wire", WIRE, "ms", Better.LOWER, None),
        ("service_estop_httpx_p99_vs_wire", WIRE, "ms", Better.LOWER, None),
    ),
)
