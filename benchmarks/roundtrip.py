"""Command round trip: ``gun.configure()`` → the applied values, against pymodbus and a raw echo, p50 and p99.

Every peer runs the same way: its own socat pty pair, its server (our simulator via ``mesogun sim
--serial-port``, a pymodbus RTU server, an echo loop) in another process on one end, its client in this
process on the other end. All peers are opened first, warmed up, then sampled round-robin (the order
rotating each round) so machine noise hits them alike. Ours alternates the rate between two values so the
device really applies a change each time, and calls ``configure(..., wait=False)``: it returns the
device's ack with the applied values. The default ``wait=True`` also waits for a status showing the needle
stop in place (a status-period wait, not a round trip); it is sampled separately and reported in
``extra`` as information.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from benchmarks import peers
from benchmarks.record import Better, Result
from benchmarks.runner import Benchmark
from benchmarks.settings import Settings
from benchmarks.simulator import require_host_and_simulator, served_simulator
from benchmarks.stats import percentile

RATES_HZ = (5.0, 6.0)
"""configure() alternates between these rates (same depth: the needle stop does not move)."""
WARMUP = 20
"""Untimed round trips per peer before sampling (first allocations, pty buffers)."""
WAIT_TRUE_SAMPLES = 5
MODBUS = "pymodbus RTU read_holding_registers ×4"
ECHO = "raw pyserial echo (floor)"


class ConfigurePinger:
    """Ours: ``gun.configure(rate_hz=…, wait=False)`` through the public API, checked against what was asked."""

    name = "ours"

    def __init__(self, gun: Any) -> None:
        self._gun = gun
        self._i = 0

    async def once(self, *, wait: bool = False) -> float:
        """One configure() call; returns its duration in seconds."""
        rate = RATES_HZ[self._i % 2]
        self._i += 1
        start = time.perf_counter()
        applied = await self._gun.configure(rate_hz=rate, wait=wait)
        elapsed = time.perf_counter() - start
        if abs(applied.rate_hz - rate) > 1e-9:
            raise RuntimeError(f"configure(rate_hz={rate}) applied {applied.rate_hz}")
        return elapsed


async def _measure(stack: contextlib.ExitStack, count: int) -> tuple[dict[str, list[float]], list[float]]:
    import mesogun

    url = stack.enter_context(served_simulator())
    async with contextlib.AsyncExitStack() as clients:
        gun = await clients.enter_async_context(mesogun.connect(url))
        await gun.configure(depth_mm=2.5, dose_ml=0.02, rate_hz=RATES_HZ[0], mode="continuous")
        ours = ConfigurePinger(gun)
        pingers: list[peers.Pinger] = [
            ours,
            await clients.enter_async_context(peers.modbus_async_pinger(stack)),
            await clients.enter_async_context(peers.modbus_sync_pinger(stack)),
            await clients.enter_async_context(peers.echo_pinger(stack)),
        ]
        for pinger in pingers:
            for _ in range(WARMUP):
                await pinger.once()
        samples: dict[str, list[float]] = {p.name: [] for p in pingers}
        for i in range(count):
            k = i % len(pingers)
            for pinger in pingers[k:] + pingers[:k]:
                samples[pinger.name].append(await pinger.once())
        wait_true = [await ours.once(wait=True) for _ in range(WAIT_TRUE_SAMPLES)]
    return samples, wait_true


def _ms(samples: list[float], pct: float) -> float:
    return round(percentile(samples, pct) * 1000, 4)


def run(settings: Settings) -> list[Result]:
    """All peers opened together and sampled interleaved; p50 lines carry the goals, p99 lines inform."""
    require_host_and_simulator()
    with contextlib.ExitStack() as stack:
        samples, wait_true = asyncio.run(_measure(stack, settings.roundtrips))
    ours, echo = samples["ours"], samples["echo"]
    # The faster pymodbus client is the peer (fair to them); the other is kept in extra.
    fast_name, slow_name = sorted(("pymodbus_async", "pymodbus_sync"), key=lambda k: percentile(samples[k], 50))
    fast, slow = samples[fast_name], samples[slow_name]
    client = fast_name.removeprefix("pymodbus_")
    extra = {
        "samples": settings.roundtrips,
        "ours_wait_true_p50_ms": _ms(wait_true, 50),
        f"{slow_name}_p50_ms": _ms(slow, 50),
        f"{slow_name}_p99_ms": _ms(slow, 99),
        "echo_bytes": len(peers.echo_request()),
    }
    note = "gun.configure(rate_hz=…, wait=False) → applied values, sim in another process"
    lines = []
    for pct, goal_modbus, goal_echo in ((50, 4.0, 0.33), (99, None, None)):
        lines.append(
            Result(
                f"configure_p{pct}_vs_pymodbus",
                _ms(ours, pct),
                f"{MODBUS} ({client} client)",
                _ms(fast, pct),
                "ms",
                Better.LOWER,
                goal_modbus,
                note=note,
                extra=extra,
            )
        )
        lines.append(
            Result(
                f"configure_p{pct}_vs_echo",
                _ms(ours, pct),
                ECHO,
                _ms(echo, pct),
                "ms",
                Better.LOWER,
                goal_echo,
                note,
                extra=extra,
            )
        )
    return lines


BENCHMARK = Benchmark(
    "roundtrip",
    run,
    (
        ("configure_p50_vs_pymodbus", MODBUS, "ms", Better.LOWER, 4.0),
        ("configure_p50_vs_echo", ECHO, "ms", Better.LOWER, 0.33),
        ("configure_p99_vs_pymodbus", MODBUS, "ms", Better.LOWER, None),
        ("configure_p99_vs_echo", ECHO, "ms", Better.LOWER, None),
    ),
)
