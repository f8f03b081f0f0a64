"""Command round trip on the path users take: the default ``gun.configure()`` with the treatment record on.

Every peer runs the same way: its own socat pty pair, its server in another process on one end (our
simulator via ``mesogun sim --serial-port``, a pymodbus RTU server, an echo loop), its client in this
process on the other end. All peers are opened first, warmed up, then sampled round-robin (the order
rotating each round) so machine noise hits them alike.

What each sample includes:

* **ours** (the headline): ``await gun.configure(rate_hz=…)`` with its default ``wait=True`` on a gun
  connected with ``recorder=SessionRecorder(TreatmentRecord(path))``, as the CLI connects: the
  limits check, the command and its reply written to the record, the pty round trip, the device's
  work, and the wait for the needle stop to be reported in place. The rate alternates between two
  values so the device really applies a change each time; the depth does not move.
* **ours, no wait** (``extra``): the same gun and record, ``configure(..., wait=False)``: returns on the ack.
* **ours, bare** (an info line): ``configure(..., wait=False)`` with no record, on a second simulator:
  what this benchmark timed before; it shows what the record and the wait cost.
* **raw echo (the floor)**: ``os.write`` of our ``set_parameters`` frame's bytes and blocking ``os.read``
  of them back through an echo process doing raw fd I/O: no protocol, no library.
* **pyserial echo**: the same through pyserial on both ends (the floor as measured before).
* **simulator floor** (an info line): a minimal host (``os.write`` of a ``set_parameters`` frame, blocking
  ``os.read`` until its ack decodes, no library) against a third simulator: what any host pays for our
  Python simulator and the pty, so ``ours / simulator floor`` is the host library's own share.
* **pymodbus async / sync**: ``read_holding_registers(0, count=4)`` (RTU framing, CRC-16) against a
  pymodbus server; the async client is the headline peer (our API is async), the sync one informs.

Goals (p50): within 2x of the raw echo floor (ratio >= 0.5) and >= 1.5x faster than pymodbus' async
client. The old goal of 4x pymodbus is gone: a quarter of pymodbus' p50 is below the echo floor of the
same pty, so no protocol could reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
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
"""Untimed round trips per peer before sampling (first allocations, pty buffers, SQLite pages)."""
GOAL_VS_ECHO = 0.5
"""p50 within 2x of the raw echo floor (ratio = floor / ours)."""
GOAL_VS_MODBUS = 1.5
"""p50 at least 1.5x faster than pymodbus' async client."""
MODBUS_ASYNC = "pymodbus RTU read_holding_registers ×4 (async client)"
MODBUS_SYNC = "pymodbus RTU read_holding_registers ×4 (sync client)"
ECHO_RAW = "raw os.read/os.write echo (floor)"
ECHO_PYSERIAL = "pyserial echo, both ends"
SIM_FLOOR = "minimal raw host against our simulator (no host library)"
NOTE = "default gun.configure(rate_hz=…) (waits for the needle stop) with the treatment record, sim in another process"
BARE_NOTE = "gun.configure(rate_hz=…, wait=False) without a record (what was timed before)"


class ConfigurePinger:
    """Ours: ``gun.configure(rate_hz=…)`` through the public API, checked against what was asked."""

    def __init__(self, name: str, gun: Any, *, wait: bool) -> None:
        self.name = name
        self._gun = gun
        self._wait = wait
        self._i = 0

    async def once(self) -> float:
        """One configure() call; returns its duration in seconds."""
        rate = RATES_HZ[self._i % 2]
        self._i += 1
        start = time.perf_counter()
        applied = await self._gun.configure(rate_hz=rate, wait=self._wait)
        elapsed = time.perf_counter() - start
        if abs(applied.rate_hz - rate) > 1e-9:
            raise RuntimeError(f"configure(rate_hz={rate}) applied {applied.rate_hz}")
        return elapsed


async def _connected_gun(clients: contextlib.AsyncExitStack, url: str, recorder: Any | None) -> Any:
    import mesogun

    gun = await clients.enter_async_context(mesogun.connect(url, recorder=recorder))
    await gun.configure(depth_mm=2.5, dose_ml=0.02, rate_hz=RATES_HZ[0], mode="continuous")
    return gun


async def _measure(stack: contextlib.ExitStack, count: int) -> dict[str, list[float]]:
    from mesogun.record import SessionRecorder, TreatmentRecord

    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="mesogun-bench-record-"))
    record = stack.enter_context(TreatmentRecord(Path(tmp) / "record.sqlite"))
    recorded_url = stack.enter_context(served_simulator())
    bare_url = stack.enter_context(served_simulator())
    raw_url = stack.enter_context(served_simulator())
    async with contextlib.AsyncExitStack() as clients:
        recorded = await _connected_gun(clients, recorded_url, SessionRecorder(record))
        bare = await _connected_gun(clients, bare_url, None)
        pingers: list[peers.Pinger] = [
            ConfigurePinger("ours", recorded, wait=True),
            ConfigurePinger("ours_nowait", recorded, wait=False),
            ConfigurePinger("ours_bare", bare, wait=False),
            await clients.enter_async_context(peers.modbus_async_pinger(stack)),
            await clients.enter_async_context(peers.modbus_sync_pinger(stack)),
            await clients.enter_async_context(peers.raw_echo_pinger(stack)),
            await clients.enter_async_context(peers.raw_sim_pinger(stack, raw_url)),
            await clients.enter_async_context(peers.pyserial_echo_pinger(stack)),
        ]
        for pinger in pingers:
            for _ in range(WARMUP):
                await pinger.once()
        samples: dict[str, list[float]] = {p.name: [] for p in pingers}
        for i in range(count):
            k = i % len(pingers)
            for pinger in pingers[k:] + pingers[:k]:
                samples[pinger.name].append(await pinger.once())
    return samples


def _ms(samples: list[float], pct: float) -> float:
    return round(percentile(samples, pct) * 1000, 4)


def _line(
    name: str, ours: list[float], peer: str, theirs: list[float], pct: float, goal: float | None, **kw: Any
) -> Result:
    return Result(name, _ms(ours, pct), peer, _ms(theirs, pct), "ms", Better.LOWER, goal, **kw)


def run(settings: Settings) -> list[Result]:
    """All peers opened together and sampled interleaved; p50 lines carry the goals, the rest inform."""
    require_host_and_simulator()
    with contextlib.ExitStack() as stack:
        samples = asyncio.run(_measure(stack, settings.roundtrips))
    ours, echo = samples["ours"], samples["echo_raw"]
    extra: dict[str, float] = {"samples": settings.roundtrips, "echo_bytes": len(peers.echo_request())}
    for name in ("ours_nowait", "ours_bare", "pymodbus_sync", "echo_pyserial", "sim_raw"):
        extra[f"{name}_p50_ms"] = _ms(samples[name], 50)
        extra[f"{name}_p99_ms"] = _ms(samples[name], 99)
    modbus = samples["pymodbus_async"]
    common = {"note": NOTE, "extra": extra}
    return [
        _line("configure_p50_vs_echo", ours, ECHO_RAW, echo, 50, GOAL_VS_ECHO, **common),
        _line("configure_p50_vs_pymodbus", ours, MODBUS_ASYNC, modbus, 50, GOAL_VS_MODBUS, **common),
        _line("configure_p99_vs_echo", ours, ECHO_RAW, echo, 99, None, **common),
        _line("configure_p99_vs_pymodbus", ours, MODBUS_ASYNC, modbus, 99, None, **common),
        _line("configure_p50_vs_pymodbus_sync", ours, MODBUS_SYNC, samples["pymodbus_sync"], 50, None, **common),
        _line("configure_p50_vs_pyserial_echo", ours, ECHO_PYSERIAL, samples["echo_pyserial"], 50, None, **common),
        _line(
            "configure_bare_p50_vs_echo", samples["ours_bare"], ECHO_RAW, echo, 50, None, note=BARE_NOTE, extra=extra
        ),
        _line("configure_p50_vs_sim_floor", ours, SIM_FLOOR, samples["sim_raw"], 50, None, **common),
        _line("sim_floor_p50_vs_echo", samples["sim_raw"], ECHO_RAW, echo, 50, None, note=SIM_FLOOR, extra=extra),
    ]


BENCHMARK = Benchmark(
    "roundtrip",
    run,
    (
        ("configure_p50_vs_echo", ECHO_RAW, "ms", Better.LOWER, GOAL_VS_ECHO),
        ("configure_p50_vs_pymodbus", MODBUS_ASYNC, "ms", Better.LOWER, GOAL_VS_MODBUS),
        ("configure_p99_vs_echo", ECHO_RAW, "ms", Better.LOWER, None),
        ("configure_p99_vs_pymodbus", MODBUS_ASYNC, "ms", Better.LOWER, None),
        ("configure_p50_vs_pymodbus_sync", MODBUS_SYNC, "ms", Better.LOWER, None),
        ("configure_p50_vs_pyserial_echo", ECHO_PYSERIAL, "ms", Better.LOWER, None),
        ("configure_bare_p50_vs_echo", ECHO_RAW, "ms", Better.LOWER, None),
        ("configure_p50_vs_sim_floor", SIM_FLOOR, "ms", Better.LOWER, None),
        ("sim_floor_p50_vs_echo", ECHO_RAW, "ms", Better.LOWER, None),
    ),
)
