"""Safety under faults: how long, in device time, the simulated gun keeps firing after each fault.

For each fault (occlusion, empty, stall, brown-out, host silence, emergency stop) and many trials at random
rates and random moments (so the fault lands anywhere in the shot cycle), a bare host drives the device to
continuous firing, feeding its watchdog, then the fault happens. Measured on the device's clock (every
shot and alarm is observed the instant the device emits it): fault → firing stopped, where stopped is the
later of the alarm (or reboot) and the last shot delivered. Limit: one shot period; for host silence the
watchdog period plus one shot period, counted from the host's last frame.

The campaign: ``python -m benchmarks.reliability.safety`` (default 25 trials per fault).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict, dataclass
from typing import Any

from firmware_protocol import AlarmCode, DeviceState, Mode, StreamDecoder, decode_message, make, to_wire
from mesogun.testing.reliability.common import machine
from sims.clock import run_virtual
from sims.device import SimulatedGun

FAULTS = ("occlusion", "empty", "stall", "brownout", "host_silence", "emergency_stop")
ALARM_OF = {
    "occlusion": AlarmCode.OCCLUSION,
    "empty": AlarmCode.RESERVOIR_EMPTY,
    "stall": AlarmCode.MOTOR_STALL,
    "brownout": AlarmCode.BROWNOUT_RESET,
    "host_silence": AlarmCode.COMMUNICATION_LOST,
    "emergency_stop": AlarmCode.EMERGENCY_STOP,
}
RATES_MHZ = (500, 1000, 2000, 5000, 10_000)
"""Firing rates tried (0.5 to 10 shots/s: the device's whole range)."""
HEARTBEAT_S = 0.25


@dataclass
class Trial:
    """One fault injected once, and what the device did."""

    fault: str
    rate_hz: float
    period_ms: float
    limit_ms: float
    fault_ms: float
    """Device time of the fault (host silence: of the host's last frame)."""
    alarm_ms: float | None
    """Device time the expected alarm was raised (brown-out: the reboot)."""
    last_shot_ms: float | None
    """Device time of the last shot delivered (before or after the fault)."""
    stop_latency_ms: float
    """Fault → firing stopped: max(alarm, last shot) − fault, never less than 0."""
    shots_after_fault: int
    state_after: str
    ok: bool


class BareHost:
    """Drives one simulated gun with raw frames and timestamps what it emits on the loop's (device) clock."""

    def __init__(self, gun: SimulatedGun) -> None:
        self.gun = gun
        self.loop = asyncio.get_running_loop()
        self.decoder = StreamDecoder()
        self.seq = 0
        self.last_tx = 0.0
        self.shots: list[float] = []
        self.alarms: list[tuple[AlarmCode, float]] = []
        gun.attach(self._on_output)

    def _on_output(self, data: bytes) -> None:
        now = self.loop.time()
        for frame in self.decoder.feed(data):
            message = decode_message(frame)
            if message.name == "shot" and not message.get("partial"):  # a partial shot is the stroke the fault cut
                self.shots.append(now)
            elif message.name == "alarm" and message["raised"]:
                self.alarms.append((message["code"], now))

    def send(self, name: str, **fields: Any) -> None:
        self.seq = (self.seq + 1) & 0xFFFF
        self.last_tx = self.loop.time()
        self.gun.receive(to_wire(make(name, seq=self.seq, **fields)))

    async def keep_alive(self, seconds: float) -> None:
        """Let ``seconds`` pass, sending a heartbeat every :data:`HEARTBEAT_S`."""
        end = self.loop.time() + seconds
        while (left := end - self.loop.time()) > 1e-6:  # not 0: a float remainder would never elapse
            await asyncio.sleep(min(HEARTBEAT_S, left))
            self.send("heartbeat")

    async def start_firing(self, rate_mhz: int) -> None:
        self.send("set_parameters", depth_um=2000, dose_nl=10_000, rate_mhz=rate_mhz, mode=Mode.CONTINUOUS)
        self.send("load_syringe", capacity_nl=10_000_000, fill_nl=10_000_000)
        self.send("prime", volume_nl=10_000)
        await self.keep_alive(0.5)
        self.send("arm")
        self.send("fire", count=0)
        if self.gun.state is not DeviceState.FIRING:
            raise RuntimeError(f"the gun did not start firing: {self.gun.state.json_name}")


async def trial(fault: str, rate_mhz: int, rng: random.Random) -> Trial:
    """Fire at ``rate_mhz``, let the fault happen at a random moment, measure on the device clock."""
    gun = SimulatedGun()
    await gun.start()
    try:
        host = BareHost(gun)
        loop = host.loop
        await host.start_firing(rate_mhz)
        period_s = 1000 / rate_mhz
        await host.keep_alive(rng.uniform(1.0, 1.0 + 3 * period_s))
        now = loop.time()
        limit_s = period_s
        if fault in ("occlusion", "empty", "stall", "brownout"):
            at_s = rng.uniform(0.0, 2 * period_s)
            gun.inject(fault, at_s=at_s)
            fault_t = now + at_s
        elif fault == "emergency_stop":
            fault_t = now
            host.send("emergency_stop")
        else:  # host silence: no frame from now on
            fault_t = host.last_tx
            limit_s = gun.config.watchdog_ms / 1000 + period_s
        if fault == "host_silence":
            await asyncio.sleep(gun.config.watchdog_ms / 1000 + 3 * period_s + 1.0)
        else:
            await host.keep_alive(3 * period_s + 1.0)
        expected = ALARM_OF[fault]
        alarm_t = next((t for code, t in host.alarms if code is expected and t >= fault_t - 1e-9), None)
        last_shot = host.shots[-1] if host.shots else None
        after = [t for t in host.shots if t > fault_t + 1e-9]
        stopped_t = max(t for t in (alarm_t, after[-1] if after else None, fault_t) if t is not None)
        latency = max(stopped_t - fault_t, 0.0)
        state = gun.state
        ok = alarm_t is not None and latency <= limit_s + 1e-9 and state is not DeviceState.FIRING
        if fault == "host_silence":  # shots may go on until the watchdog trips; none after it
            ok = ok and not [t for t in host.shots if alarm_t is not None and t > alarm_t + 1e-9]
        boot = gun.snapshot().boot_loop_time if fault != "brownout" else 0.0

        def ms(t: float | None) -> float | None:
            return None if t is None else round((t - boot) * 1000, 3)

        return Trial(
            fault,
            rate_mhz / 1000,
            period_s * 1000,
            limit_s * 1000,
            ms(fault_t) or 0.0,
            ms(alarm_t),
            ms(last_shot),
            round(latency * 1000, 3),
            len(after),
            state.json_name,
            ok,
        )
    finally:
        await gun.close()


def run_safety(trials: int, seed: int) -> dict[str, Any]:
    """``trials`` trials of every fault; the worst case of each, and every trial."""
    rng = random.Random(seed)

    async def all_trials() -> list[Trial]:
        out = []
        for fault in FAULTS:
            for i in range(trials):
                out.append(await trial(fault, RATES_MHZ[i % len(RATES_MHZ)], rng))
        return out

    results = run_virtual(all_trials)
    table = []
    for fault in FAULTS:
        rows = [r for r in results if r.fault == fault]
        worst = max(rows, key=lambda r: r.stop_latency_ms / r.limit_ms)
        table.append(
            {
                "fault": fault,
                "trials": len(rows),
                "worst_stop_ms": worst.stop_latency_ms,
                "limit_ms_at_that_rate": worst.limit_ms,
                "rate_hz_of_worst": worst.rate_hz,
                "worst_fraction_of_limit": round(worst.stop_latency_ms / worst.limit_ms, 3),
                "max_shots_after_fault": max(r.shots_after_fault for r in rows),
                "all_ok": all(r.ok for r in rows),
            }
        )
    return {
        "machine": machine(),
        "table": table,
        "ok": all(row["all_ok"] for row in table),
        "trials": [asdict(r) for r in results],
    }
