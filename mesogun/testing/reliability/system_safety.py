"""Safety timing through the system: host API call → link → pty pair → device having acted, while firing.

The simulated gun runs in another process on one end of a socat pty pair (a null-modem cable), reporting
when its device executed each command and when its watchdog tripped
(:mod:`~mesogun.testing.reliability.device_reports`); this process connects the :class:`~mesogun.Gun` to the
other end with the treatment record attached, as the CLI does, and fires continuously at 10 shots/s.

Each try takes ``time.monotonic()`` and then:

* ``emergency_stop`` / ``stop``: calls ``gun.emergency_stop()`` / ``gun.stop()`` a random part of a shot
  period after firing began; acted = the device executed the command;
* ``disarm``: calls ``gun.disarm()`` as soon as a 3-shot burst at 10 shots/s ended (the device refuses
  disarm while firing: stop comes first); acted = the device executed disarm;
* ``watchdog`` (heartbeat loss): the host's event loop stalls (``time.sleep``, so nothing is sent) while
  firing; acted = the device's watchdog tripped. Also reported: the device's own silence (last host frame →
  trip).

Latency = the device's ``time.monotonic()`` of having acted − the host's, one CLOCK_MONOTONIC for both
processes. Limits, as :mod:`~mesogun.testing.reliability.safety` uses them: one shot period (100 ms at
10 shots/s); the watchdog: its period plus one shot period.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mesogun
from mesogun.record import SessionRecorder, TreatmentRecord
from mesogun.testing.reliability.common import machine
from mesogun.testing.reliability.device_reports import DeviceReports, Report, start_reporting_simulator
from sims.spawn import null_modem

ACTIONS = ("emergency_stop", "stop", "disarm", "watchdog")
RATE_HZ = 10.0
PERIOD_MS = 1000 / RATE_HZ
DOSE_ML = 0.001
FIRING_S = 0.3
"""Firing before each stop, plus a random part of one shot period (so the call lands anywhere in a stroke)."""
STALL_MARGIN_S = 0.3
"""The heartbeat-loss stall lasts the device's watchdog period plus this."""
REPORT_TIMEOUT_S = 5.0
RECORD_LAG_S = 5.0
"""``Timeouts.record_lag`` for these runs: the heartbeat-loss try stalls the whole host for 1.3 s, record lane
included, which the default 0.5 s would (rightly) call a stalled record and stop the gun for."""


@dataclass
class SystemTry:
    """One safe-making call (or heartbeat loss) and when the device acted on it."""

    action: str
    latency_ms: float
    """Host call (stall start) → the device acted, on CLOCK_MONOTONIC."""
    api_returned_ms: float | None
    """Host call → the API call returned (None for the stall)."""
    device_silence_ms: float | None
    """Watchdog only: the device's own last-host-frame → trip time."""
    limit_ms: float
    ok: bool


def _acted(reports: DeviceReports, action: str) -> Report:
    if action == "watchdog":
        return reports.next(lambda r: r["event"] == "watchdog", REPORT_TIMEOUT_S)
    return reports.next(lambda r: r["event"] == "exec" and r["name"] == action, REPORT_TIMEOUT_S)


async def _one_try(
    gun: mesogun.Gun, reports: DeviceReports, action: str, watchdog_s: float, rng: random.Random
) -> SystemTry:
    limit_ms = watchdog_s * 1000 + PERIOD_MS if action == "watchdog" else PERIOD_MS
    reports.drain(settle_s=0)
    returned: float | None = None
    if action == "disarm":
        await gun.fire(count=3)
        start = time.monotonic()
        await gun.disarm()
        returned = time.monotonic()
        report = _acted(reports, action)
        await gun.arm()
    else:
        firing = asyncio.create_task(gun.fire(count=0))
        await asyncio.sleep(FIRING_S + rng.uniform(0, PERIOD_MS / 1000))
        if firing.done():
            raise RuntimeError(f"firing ended before the {action} try: {firing.result()!r}")
        start = time.monotonic()
        if action == "watchdog":
            time.sleep(watchdog_s + STALL_MARGIN_S)  # the host stalls: no heartbeat, no frame at all
        else:
            await getattr(gun, action)()
            returned = time.monotonic()
        report = _acted(reports, action)
        await asyncio.gather(firing, return_exceptions=True)
        if action != "stop":
            await gun.clear_alarm()
            await gun.arm()
    latency_ms = round((report["monotonic"] - start) * 1000, 3)
    silence = report.get("silent_ms")
    ok = latency_ms <= limit_ms and (silence is None or silence <= limit_ms)
    api_ms = None if returned is None else round((returned - start) * 1000, 3)
    return SystemTry(action, latency_ms, api_ms, silence, limit_ms, ok)


async def _measure(host_end: str, reports: DeviceReports, tries: int, seed: int, db: Path) -> list[SystemTry]:
    rng = random.Random(seed)
    out: list[SystemTry] = []
    with TreatmentRecord(db) as record:
        timeouts = mesogun.Timeouts(record_lag=RECORD_LAG_S)
        async with mesogun.connect(host_end, recorder=SessionRecorder(record), timeouts=timeouts) as gun:
            watchdog_s = gun.info.watchdog_ms / 1000
            await gun.configure(depth_mm=2.0, dose_ml=DOSE_ML, rate_hz=RATE_HZ, mode="continuous")
            await gun.load_syringe(capacity_ml=10)
            await gun.prime(volume_ml=0.01)
            await gun.arm()
            for i in range(tries):
                for action in ACTIONS:
                    out.append(await _one_try(gun, reports, action, watchdog_s, rng))
                if i % 10 == 9:
                    status = await gun.refresh_status()
                    if status.reservoir_nl < 200 * status.dose_nl:  # top up between rounds, not mid-try
                        await gun.disarm()
                        await gun.load_syringe(capacity_ml=10)
                        await gun.prime(volume_ml=0.01)
                        await gun.arm()
    return out


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def run_system_safety(tries: int, seed: int = 1) -> dict[str, Any]:
    """``tries`` tries of every action through a pty pair to a simulator process; p50/p99/max per action."""
    with contextlib.ExitStack() as stack:
        device_end, host_end = stack.enter_context(null_modem())
        reports = start_reporting_simulator("--serial-port", device_end)
        stack.callback(reports.stop)
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="mesogun-system-safety-"))
        results = asyncio.run(_measure(host_end, reports, tries, seed, Path(tmp) / "record.sqlite"))
    table = []
    for action in ACTIONS:
        rows = [r for r in results if r.action == action]
        latencies = [r.latency_ms for r in rows]
        returned = [r.api_returned_ms for r in rows if r.api_returned_ms is not None]
        silences = [r.device_silence_ms for r in rows if r.device_silence_ms is not None]
        table.append(
            {
                "action": action,
                "tries": len(rows),
                "p50_ms": _pct(latencies, 50),
                "p99_ms": _pct(latencies, 99),
                "max_ms": max(latencies),
                "limit_ms": rows[0].limit_ms,
                "api_returned_p50_ms": _pct(returned, 50) if returned else None,
                "device_silence_max_ms": max(silences) if silences else None,
                "all_ok": all(r.ok for r in rows),
            }
        )
    return {
        "machine": machine(),
        "rate_hz": RATE_HZ,
        "table": table,
        "ok": all(row["all_ok"] for row in table),
        "tries": [asdict(r) for r in results],
    }
