"""Crash durability: SIGKILL the host at random moments of continuous firing, then check the record.

A simulated gun runs in a child process (served as ``mesogun sim --tcp 127.0.0.1:0 --nvm FILE`` does,
lifetime counter in NVM). Each round starts ``mesogun --device URL --db RECORD fire --count 0`` in another
child, waits for its first shot line, lets it fire for a random time and kills it with SIGKILL. The device
goes on firing until its communication watchdog trips. A new host then connects with the same treatment
record (which reconciles the device's lifetime counter at connect), checks the alarm is
``communication_lost``, clears it, and audits the record against the device counter: every shot index
exactly once, received or marked
counted-but-unreceived, and every shot the killed host printed recorded as received. The simulator child
reports what its device executed (:mod:`~mesogun.testing.reliability.device_reports`), so each round also
checks, on the device, that the one fire command ran exactly once and every command the hosts sent (from
the record's command log) ran as its answer says (:mod:`~mesogun.testing.reliability.executions`); and it
times SIGKILL → the device's watchdog trip.

The campaign: ``python -m benchmarks.reliability.crash`` (default 50 rounds).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import mesogun
from firmware_protocol import AlarmCode, DeviceState
from mesogun.record import SessionRecorder, TreatmentRecord
from mesogun.testing.reliability.common import machine
from mesogun.testing.reliability.device_reports import DeviceReports, Report, start_reporting_simulator
from mesogun.testing.reliability.executions import Answer, ExecutionAudit, Sent, audit_executions
from sims.dispatch import UNLOGGED_COMMANDS

RATE_HZ = 10.0
DOSE_ML = 0.001
WATCHDOG_WAIT_S = 1.5
"""Wait after the kill so the device's 1 s watchdog has tripped before the new host connects."""


@dataclass
class Round:
    """What one kill did and what the record says afterwards."""

    round: int
    kill_after_s: float
    """Seconds between the killed host's first shot line and the SIGKILL."""
    host_printed: int
    """Shot lines the killed host printed before it died."""
    fired: int
    """Shots the device counted during this round."""
    received: int
    """Of those, recorded as received by the killed host."""
    unreceived: int
    """Of those, entered as counted-but-unreceived by the next host's reconciliation."""
    watchdog_tripped: bool
    printed_not_recorded: int
    """Shots the killed host printed that the record lacks (must be 0)."""
    fire_sent: int
    """Fire commands the round's hosts sent (from the record's command log)."""
    fire_executed: int
    """Fire commands the device executed during the round (from its own log)."""
    watchdog_silence_ms: float | None
    """The device's own measure: ms from the last host frame to the watchdog trip."""
    kill_to_trip_ms: float | None
    """SIGKILL → the device's watchdog trip (both on CLOCK_MONOTONIC)."""


class AuditFailed(Exception):
    """The record disagrees with the device."""


def _cli(address: str, db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "mesogun.cli", "--device", address, "--db", str(db), *args]


async def _check_host(address: str, db: Path) -> tuple[int, bool]:
    """Connect as the next host (the record reconciles), clear the watchdog alarm, top up the syringe.

    Returns the device's lifetime counter and whether its watchdog had tripped."""
    with TreatmentRecord(db) as record:
        async with mesogun.connect(address, recorder=SessionRecorder(record)) as gun:
            status = await gun.refresh_status()
            tripped = status.state is DeviceState.ALARM and AlarmCode.COMMUNICATION_LOST in status.active_alarms
            if status.state is DeviceState.FIRING:
                await gun.stop()
            if status.state in (DeviceState.ALARM, DeviceState.EMERGENCY_STOP):
                await gun.clear_alarm()
            status = await gun.refresh_status()
            if status.reservoir_nl < 1000 * status.dose_nl or not status.primed:
                await gun.load_syringe(capacity_ml=10)
                await gun.prime(volume_ml=0.01)
                await gun.configure(dose_ml=DOSE_ML, rate_hz=RATE_HZ, mode="continuous", depth_mm=2.0)
            status = await gun.refresh_status()
            return status.shots_lifetime, tripped


def _record_shots(db: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(db) as con:
        if con.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise AuditFailed("the treatment record failed SQLite's integrity check")
        return [
            (int(i), int(r)) for i, r in con.execute("SELECT shot_index, received FROM all_shots ORDER BY shot_index")
        ]


def _sent_commands(db: Path, after_session: int) -> tuple[list[Sent], int]:
    """Commands the hosts of sessions after ``after_session`` sent, with the device's answers as recorded; and
    the last session id."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT session_id, direction, type, seq, body FROM events WHERE session_id > ? ORDER BY id",
            (after_session,),
        ).fetchall()
        last = con.execute("SELECT COALESCE(MAX(id), 0) FROM sessions").fetchone()[0]
    sent: list[Sent] = []
    index: dict[tuple[int, int], int] = {}
    for session, direction, kind, seq, body in rows:
        if direction == "host" and kind not in UNLOGGED_COMMANDS:
            index[(session, seq)] = len(sent)
            sent.append(Sent(seq, kind, "unanswered"))
        elif direction == "device" and kind in ("ack", "nak") and (session, seq) in index:
            i = index[(session, seq)]
            if json.loads(body).get("command") == sent[i].name:
                answer: Answer = "acked" if kind == "ack" else "refused"
                sent[i] = replace(sent[i], answer=answer)
    return sent, int(last)


def _baseline(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT baseline_lifetime FROM devices").fetchone()[0])


def _printed_indices(path: Path) -> list[int]:
    """Shot indices from the killed host's output lines ``[n] shot INDEX: …``."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if "] shot " in line:
            out.append(int(line.split("] shot ", 1)[1].split(":", 1)[0]))
    return out


def _wait_first_shot(proc: subprocess.Popen[bytes], out: Path, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if b"] shot " in out.read_bytes():
            return True
        time.sleep(0.01)
    return False


def _executions(reports: list[Report]) -> tuple[list[tuple[int, str]], list[tuple[int, str]], Report | None]:
    """(executions, replays, the last watchdog trip) among the device's ``reports``."""
    executed = [(r["seq"], r["name"]) for r in reports if r["event"] == "exec"]
    replayed = [(r["seq"], r["name"]) for r in reports if r["event"] == "replay"]
    trips = [r for r in reports if r["event"] == "watchdog"]
    return executed, replayed, trips[-1] if trips else None


def _add(total: ExecutionAudit, part: ExecutionAudit) -> None:
    """Sum one round's execution audit into the run's."""
    for name in ("sent", "executed", "replays"):
        getattr(total, name).update(getattr(part, name))
    for name in ("executed_once", "unanswered_not_executed", "acked_not_executed", "refused_but_executed"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.duplicated += part.duplicated
    total.unexpected += part.unexpected


def run_crash(rounds: int, seed: int, max_kill_after_s: float, workdir: Path) -> dict[str, Any]:
    """Run ``rounds`` kill-and-audit rounds against one simulator child; return the summary."""
    rng = random.Random(seed)
    nvm, db = workdir / "gun-nvm.json", workdir / "record.sqlite"
    sim: DeviceReports = start_reporting_simulator("--tcp", "127.0.0.1:0", "--nvm", str(nvm))
    address = sim.sim.address
    results: list[Round] = []
    failures: list[str] = []
    commands = ExecutionAudit()
    started = time.monotonic()
    try:
        lifetime, _ = asyncio.run(_check_host(address, db))
        _, last_session = _sent_commands(db, 0)
        sim.drain()
        for n in range(1, rounds + 1):
            before = {i for i, _ in _record_shots(db)}
            out = workdir / f"host-{n}.out"
            with open(out, "wb") as stdout:
                proc = subprocess.Popen(
                    _cli(address, db, "fire", "--count", "0"), stdout=stdout, stderr=subprocess.STDOUT
                )
            try:
                if not _wait_first_shot(proc, out):
                    failures.append(f"round {n}: the host never fired: {out.read_text(errors='replace')[-500:]}")
                    continue
                delay = rng.uniform(0.0, max_kill_after_s)
                time.sleep(delay)
                killed_at = time.monotonic()
                proc.send_signal(signal.SIGKILL)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            time.sleep(WATCHDOG_WAIT_S)
            new_lifetime, tripped = asyncio.run(_check_host(address, db))
            executed, replayed, trip = _executions(sim.drain())
            sent, last_session = _sent_commands(db, last_session)
            audit = audit_executions(sent, executed, replayed)
            _add(commands, audit)
            shots = _record_shots(db)
            indices = [i for i, _ in shots]
            base = _baseline(db)
            round_rows = [(i, r) for i, r in shots if i not in before]
            printed = _printed_indices(out)
            missing_printed = sorted(set(printed) - {i for i, r in shots if r})
            result = Round(
                n,
                round(delay, 3),
                len(printed),
                new_lifetime - lifetime,
                sum(r for _, r in round_rows),
                sum(1 - r for _, r in round_rows),
                tripped,
                len(missing_printed),
                audit.sent["fire"],
                audit.executed["fire"],
                None if trip is None else trip["silent_ms"],
                None if trip is None else round((trip["monotonic"] - killed_at) * 1000, 3),
            )
            results.append(result)
            if len(indices) != len(set(indices)):
                failures.append(f"round {n}: duplicated shot indices in the record")
            if set(indices) != set(range(base + 1, new_lifetime + 1)):
                failures.append(f"round {n}: record holds {len(indices)} shots, device counted {new_lifetime - base}")
            if missing_printed:
                failures.append(f"round {n}: shots printed by the killed host but not recorded: {missing_printed[:10]}")
            if not audit.ok:
                failures.append(
                    f"round {n}: the device's executions disagree with the commands sent: {audit.summary()}"
                )
            if audit.executed["fire"] != 1:
                failures.append(f"round {n}: the device executed {audit.executed['fire']} fire commands, not 1")
            lifetime = new_lifetime
    finally:
        sim.stop()
    silences = [r.watchdog_silence_ms for r in results if r.watchdog_silence_ms is not None]
    kill_to_trip = [r.kill_to_trip_ms for r in results if r.kill_to_trip_ms is not None]
    return {
        "machine": machine(),
        "rounds": len(results),
        "wall_s": round(time.monotonic() - started, 1),
        "shots_fired": sum(r.fired for r in results),
        "shots_received": sum(r.received for r in results),
        "shots_unreceived": sum(r.unreceived for r in results),
        "shots_duplicated": sum(1 for f in failures if "duplicated" in f),
        "fire_commands_sent": sum(r.fire_sent for r in results),
        "fire_commands_executed_on_device": sum(r.fire_executed for r in results),
        "commands_executed_on_device": commands.summary(),
        "watchdog_tripped": sum(r.watchdog_tripped for r in results),
        "watchdog_silence_ms_min_max": [min(silences), max(silences)] if silences else None,
        "kill_to_watchdog_trip_ms_min_max": [min(kill_to_trip), max(kill_to_trip)] if kill_to_trip else None,
        "printed_not_recorded": sum(r.printed_not_recorded for r in results),
        "failures": failures,
        "ok": not failures and len(results) == rounds,
        "per_round": [asdict(r) for r in results],
    }
