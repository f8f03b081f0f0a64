"""Soak: many commands and shots through the in-process simulated gun over a damaged, flaky link.

Runs in virtual time (:func:`sims.clock.run_virtual`): the device and the host's timers fast-forward, so
the wall time is the host's and device's CPU work. The link corrupts bytes (8e-4 per byte, about 1e-4 per
bit), drops bytes (1e-3), adds latency, and is unplugged at random; the host reconnects with
``gun.reconnect()``. Bursts of random length run while a poller sends ``get_status`` and the host sends its
heartbeats. The treatment record (:class:`~mesogun.record.TreatmentRecord` with
:class:`~mesogun.record.SessionRecorder`) is then compared shot by shot with the device's own shot log:
``duplicates`` and ``lost`` must be 0, and every received shot's details must match what the device did.
The record's primary key (the shot index) cannot hold a duplicate, so exactly-once is also counted on the
device: every command the host sent is matched with the device's own execution log
(:mod:`~mesogun.testing.reliability.executions`): acked ones ran exactly once, none ran twice.

The campaign: ``python -m benchmarks.reliability.soak`` (defaults: 100,000 commands and 20,000 shots).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import mesogun
from firmware_protocol import DeviceState, Flag, Message
from mesogun.errors import ConnectionLost, MesogunError, RecordError
from mesogun.link import Link
from mesogun.models import GunInfo, Status
from mesogun.record import SessionRecorder, TreatmentRecord
from mesogun.record.recorder import Direction
from mesogun.session.controller import HostState
from mesogun.testing.reliability.common import current_rss_mib, machine, max_rss_mib
from mesogun.testing.reliability.executions import Answer, Sent, audit_executions
from mesogun.transports.sim import SimTransport
from sims.clock import run_virtual
from sims.dispatch import UNLOGGED_COMMANDS
from sims.inprocess import InProcessSim, start_inprocess

DOSE_ML = 0.001
"""Smallest dose: a 10 mL syringe lasts about 9,700 shots."""
RATE_HZ = 10.0
CAPACITY_ML = 10.0
RECORD_TIMEOUT_S = 3600.0
"""The record's timeouts (``Timeouts.record``, ``record_lag``), in effect off: they are wall-clock limits,
and under virtual time the record's writer thread (real time) cannot keep up with a loop clock that jumps
while it waits, so 0.5 s of "lag" passes in no time."""


@dataclass
class SoakConfig:
    """What the soak drives and how hard the link is."""

    commands: int = 100_000
    shots: int = 20_000
    corrupt: float = 0.0008
    drop: float = 0.001
    latency_ms: float = 5.0
    unplug_every_s: float = 60.0
    """Mean device seconds between random unplugs (exponential); 0: never."""
    seed: int = 1
    db: Path | None = None


class CountingRecorder:
    """Passes everything to a :class:`SessionRecorder` and counts commands and shot events on the way."""

    def __init__(self, inner: SessionRecorder) -> None:
        self.inner = inner
        self.commands: Counter[str] = Counter()
        self.shot_events = 0
        self.fire_counts = 0
        """Shots asked for by fire commands the device acknowledged (count > 0 only)."""
        self.unbounded_fires = 0
        self.sessions = 0
        self.sent: list[Sent] = []
        """Every command the host sent (first sends), with the device's answer once it came."""
        self._sent_by_seq: dict[int, int] = {}

    async def on_connected(self, info: GunInfo, status: Status, url: str) -> None:
        self.sessions += 1
        await self.inner.on_connected(info, status, url)

    async def on_message(self, direction: Direction, message: Message) -> None:
        if direction == "host":
            self.commands[message.name] += 1
            if message.name not in UNLOGGED_COMMANDS:  # the device logs only what changes something
                self._sent_by_seq[message.seq] = len(self.sent)
                self.sent.append(Sent(message.seq, message.name, "unanswered"))
        elif message.name == "shot":
            self.shot_events += 1
        elif message.name in ("ack", "nak") and message.flags & Flag.REPLY:
            self._answered(message)
            if message.name == "ack" and message.get("command") == "fire":
                if message["count"]:
                    self.fire_counts += message["count"]
                else:
                    self.unbounded_fires += 1
        await self.inner.on_message(direction, message)

    async def on_note(self, kind: str, detail: str, reason: str) -> None:
        await self.inner.on_note(kind, detail, reason)

    async def on_disconnected(self, reason: str) -> None:
        await self.inner.on_disconnected(reason)

    def _answered(self, reply: Message) -> None:
        """The device answered a command: ack (executed) or nak (refused)."""
        index = self._sent_by_seq.get(reply.seq)
        if index is not None and self.sent[index].name == reply.get("command"):
            answer: Answer = "acked" if reply.name == "ack" else "refused"
            self.sent[index] = replace(self.sent[index], answer=answer)

    def on_failure(self, handler: Callable[[RecordError], None]) -> None:
        """The inner record's failures reach the Gun (Recorder seam)."""
        self.inner.on_failure(handler)

    @property
    def total_commands(self) -> int:
        return sum(self.commands.values())


@dataclass
class LinkTotals:
    """Link counters summed over every link (a reconnect makes a new one) and both pipe directions."""

    seen: list[Link] = field(default_factory=list)
    device_decoder: Counter[str] = field(default_factory=Counter)
    pipe: Counter[str] = field(default_factory=Counter)

    def note(self, gun: mesogun.Gun) -> None:
        with contextlib.suppress(ConnectionLost):
            link = gun.link
            if not any(link is s for s in self.seen):
                self.seen.append(link)

    def note_device(self, sim: InProcessSim) -> None:
        """Before an unplug: keep the device decoder's and the line's counters of this connection."""
        self.device_decoder.update(sim.device.decoder_stats)
        conn = sim._connection
        if conn is not None:
            for name, pipe in (("h2d", conn.to_device), ("d2h", conn.to_host)):
                self.pipe[f"{name}_dropped"] += pipe.stats.dropped
                self.pipe[f"{name}_corrupted"] += pipe.stats.corrupted
                self.pipe[f"{name}_bytes"] += pipe.stats.bytes_in

    def host(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for link in self.seen:
            totals["retransmissions"] += link.retransmissions
            totals["bad_messages"] += link.bad_messages
            for key, value in link.decoder.stats.as_dict().items():
                if key not in ("frames", "bytes_in"):
                    totals[f"decoder_{key}"] += value
        return dict(totals)


class Soak:
    """One soak run: the workload, the unplugger, the poller, and the final audit."""

    def __init__(self, cfg: SoakConfig, progress: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.progress = progress or (lambda line: None)
        self.errors: Counter[str] = Counter()
        self.unplugs = 0
        self.reconnects = 0
        self.links = LinkTotals()
        self.rss: list[tuple[int, float]] = []
        self.done = False

    async def run(self, db: Path) -> dict[str, Any]:
        cfg = self.cfg
        query = f"corrupt={cfg.corrupt}&drop={cfg.drop}&latency_ms={cfg.latency_ms}&seed={cfg.seed}"
        sim = await start_inprocess(query)
        record = TreatmentRecord(db)
        recorder = CountingRecorder(SessionRecorder(record))
        self.recorder = recorder
        loop = asyncio.get_running_loop()
        started_wall, started_virtual = time.monotonic(), loop.time()
        try:
            timeouts = mesogun.Timeouts(record=RECORD_TIMEOUT_S, record_lag=RECORD_TIMEOUT_S)
            async with mesogun.connect(SimTransport.attach(sim), recorder=recorder, timeouts=timeouts) as gun:
                self.links.note(gun)
                await self.setup(gun)
                gc.collect()
                self.rss.append((recorder.total_commands, current_rss_mib()))
                unplugger = asyncio.create_task(self.unplugger(sim))
                poller = asyncio.create_task(self.poller(gun))
                try:
                    await self.workload(gun, sim)
                finally:
                    self.done = True
                    for task in (unplugger, poller):
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                await self.finish(gun)
                self.links.note_device(sim)
            gc.collect()
            self.rss.append((recorder.total_commands, current_rss_mib()))
            return self.audit(sim, record, recorder, time.monotonic() - started_wall, loop.time() - started_virtual)
        finally:
            record.close()
            await sim.close()

    # ------------------------------------------------------------------ driving the gun

    async def setup(self, gun: mesogun.Gun) -> None:
        """Syringe, priming, parameters, armed: from whatever state the gun is in."""
        for _ in range(50):
            try:
                await self.make_ready(gun)
                return
            except MesogunError as exc:
                self.errors[type(exc).__name__] += 1
                await self.recover(gun)
        raise RuntimeError(f"could not get the gun ready: {dict(self.errors)}")

    async def make_ready(self, gun: mesogun.Gun) -> None:
        status = await gun.refresh_status()
        if status.state is DeviceState.FIRING:
            await gun.stop()
            status = await gun.refresh_status()
        if status.state in (DeviceState.ALARM, DeviceState.EMERGENCY_STOP):
            await gun.clear_alarm()
            status = await gun.refresh_status()
        if status.state is DeviceState.ARMED and status.reservoir_nl < 2 * status.dose_nl * 1.05:
            await gun.disarm()
            status = await gun.refresh_status()
        if status.state in (DeviceState.IDLE, DeviceState.READY) and (
            not status.primed or status.reservoir_nl < 2 * status.dose_nl * 1.05
        ):
            await gun.load_syringe(capacity_ml=CAPACITY_ML)
            await gun.prime(volume_ml=0.01)
        if gun.state in (HostState.IDLE, HostState.READY, HostState.ARMED):
            await gun.configure(
                depth_mm=self.rng.choice((1.5, 2.0, 2.5)), dose_ml=DOSE_ML, rate_hz=RATE_HZ, mode="burst"
            )
        if gun.state is HostState.READY:
            await gun.arm()
        if gun.state is not HostState.ARMED:
            raise mesogun.StateError(f"gun is {gun.state.value} after getting ready")

    async def recover(self, gun: mesogun.Gun) -> None:
        """After any error: reconnect if the link went, else leave the gun as it is for make_ready."""
        for _ in range(100):
            if gun.state is not HostState.DISCONNECTED:
                return
            try:
                await gun.reconnect(attempts=5, interval=0.5)
                self.reconnects += 1
                self.links.note(gun)
                return
            except MesogunError as exc:
                self.errors[f"reconnect {type(exc).__name__}"] += 1
                await asyncio.sleep(1.0)
        raise RuntimeError("the gun did not come back after 100 reconnect rounds")

    async def workload(self, gun: mesogun.Gun, sim: InProcessSim) -> None:
        cfg, rng = self.cfg, self.rng
        next_report = 0
        while self.recorder.total_commands < cfg.commands or sim.device.shots_lifetime < cfg.shots:
            if self.recorder.total_commands >= next_report:
                self.progress(
                    f"commands {self.recorder.total_commands}, shots {sim.device.shots_lifetime}, "
                    f"unplugs {self.unplugs}, rss {current_rss_mib():.1f} MiB"
                )
                self.rss.append((self.recorder.total_commands, current_rss_mib()))
                next_report += max(cfg.commands // 10, 1)
            try:
                if gun.state is not HostState.ARMED:
                    await self.make_ready(gun)
                roll = rng.random()
                if sim.device.shots_lifetime >= cfg.shots:
                    await gun.refresh_status()
                elif roll < 0.8:
                    await gun.fire(rng.randint(1, 40))
                elif roll < 0.9:  # fire until stop
                    firing = asyncio.create_task(gun.fire(0))
                    try:
                        await asyncio.sleep(rng.uniform(0.05, 3.0))
                        if not firing.done():
                            await gun.stop()
                    finally:
                        await asyncio.wait({firing})
                        firing.exception()  # mark it retrieved even if stop() raised
                    firing.result()
                elif roll < 0.97:
                    await gun.configure(depth_mm=rng.choice((1.5, 2.0, 2.5)), rate_hz=rng.choice((5.0, 8.0, RATE_HZ)))
                elif roll < 0.99:
                    await gun.disarm()
                else:
                    await gun.emergency_stop()
            except MesogunError as exc:
                self.errors[type(exc).__name__] += 1
                await self.recover(gun)

    async def poller(self, gun: mesogun.Gun) -> None:
        """A second caller asking for status all the time (most of the commands come from here)."""
        while not self.done:
            try:
                if gun.state is HostState.DISCONNECTED:
                    await asyncio.sleep(0.1)
                    continue
                await gun.refresh_status()
            except MesogunError as exc:
                self.errors[f"poller {type(exc).__name__}"] += 1
                await asyncio.sleep(0.1)

    async def unplugger(self, sim: InProcessSim) -> None:
        """Pull the cable at random moments (the device keeps running; its watchdog may trip)."""
        if not self.cfg.unplug_every_s:
            return
        while True:
            await asyncio.sleep(self.rng.expovariate(1 / self.cfg.unplug_every_s))
            self.links.note_device(sim)
            sim.unplug()
            self.unplugs += 1

    async def finish(self, gun: mesogun.Gun) -> None:
        """Stop, then ask for the status until it succeeds: the get_status reply reconciles the record."""
        for _ in range(100):
            try:
                await self.recover(gun)
                if gun.state is HostState.FIRING:
                    await gun.stop()
                await gun.refresh_status()
                await asyncio.sleep(0.5)
                status = await gun.refresh_status()
                if status.state is not DeviceState.FIRING:
                    return
            except MesogunError as exc:
                self.errors[f"finish {type(exc).__name__}"] += 1
        raise RuntimeError("could not reach a final status")

    # ------------------------------------------------------------------ the audit

    def audit(
        self, sim: InProcessSim, record: TreatmentRecord, rec: CountingRecorder, wall_s: float, virtual_s: float
    ) -> dict[str, Any]:
        device = sim.device
        truth = {s.shot_index: s for s in device.shot_log}
        db = sqlite3.connect(record.path)
        try:
            rows = db.execute(
                "SELECT shot_index, received, fire_seq, depth_um, dose_nl, device_time_ms FROM all_shots"
            ).fetchall()
        finally:
            db.close()
        indexes = [r[0] for r in rows]
        received = [r for r in rows if r[1]]
        mismatched = [
            r[0]
            for r in received
            if r[0] not in truth
            or (r[2], r[3], r[4], r[5])
            != (truth[r[0]].fire_seq, truth[r[0]].set_depth_um, truth[r[0]].set_dose_nl, truth[r[0]].device_time_ms)
        ]
        fired = device.shots_lifetime
        snap = device.snapshot()
        executions = audit_executions(
            rec.sent, [(e.seq, e.name) for e in snap.executions], [(r.seq, r.name) for r in snap.replays]
        )
        fires = audit_executions(
            rec.sent,
            [(e.seq, e.name) for e in snap.executions],
            [(r.seq, r.name) for r in snap.replays],
            names=frozenset({"fire"}),
        )
        duplicates, lost = len(indexes) - len(set(indexes)), len(set(range(1, fired + 1)) - set(indexes))
        phantom = len(set(indexes) - set(range(1, fired + 1)))
        ok = not (duplicates or lost or phantom or mismatched) and executions.ok and len(rows) == len(device.shot_log)
        return {
            "ok": ok,
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(self.cfg).items()},
            "machine": machine(),
            "wall_s": round(wall_s, 1),
            "virtual_s": round(virtual_s, 1),
            "commands_sent": rec.total_commands,
            "commands_by_type": dict(rec.commands.most_common()),
            "device_frames_in": device.counters.frames_in,
            "device_duplicates_answered_from_cache": device.counters.duplicates,
            "retries": self.links.host().get("retransmissions", 0),
            "link_errors": {
                "host": self.links.host(),
                "device_decoder": dict(self.links.device_decoder),
                "line": dict(self.links.pipe),
                "host_exceptions": dict(self.errors),
            },
            "unplugs": self.unplugs,
            "reconnects": self.reconnects,
            "sessions": rec.sessions,
            "fire_commands": fires.summary(),
            "commands_executed_on_device": executions.summary(),
            "shots_commanded": rec.fire_counts,
            "fire_until_stop_commands": rec.unbounded_fires,
            "shots_fired_device_counter": fired,
            "shot_events_received": rec.shot_events,
            "shots_fired_device_log": len(device.shot_log),
            "shots_recorded": len(rows),
            "shots_recorded_received": len(received),
            "shots_recorded_unreceived": len(rows) - len(received),
            "duplicates": duplicates,
            "record_minus_device_shots": len(rows) - len(device.shot_log),
            "lost": lost,
            "phantom": phantom,
            "received_details_mismatched": len(mismatched),
            "rss_mib": [(n, round(r, 1)) for n, r in self.rss],
            "rss_mib_start": round(self.rss[0][1], 1),
            "rss_mib_end": round(self.rss[-1][1], 1),
            "max_rss_mib": round(max_rss_mib(), 1),
        }


def run_soak(cfg: SoakConfig, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run one soak to completion in virtual time and return its summary."""
    with tempfile.TemporaryDirectory(prefix="mesogun-soak-") as tmp:
        db = cfg.db or Path(tmp) / "record.sqlite"
        return run_virtual(lambda: Soak(cfg, progress).run(db))
