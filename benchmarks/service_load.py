"""Load test of the gun service (issue 13 item 8): 20 clients stream a gun's events while it fires at 10 shots/s.

Processes, as in use: the simulated gun (``mesogun sim --serial-port A --control 127.0.0.1:0``) on one end of a
socat pty pair; a real ``mesogun serve`` process owning the other end; the clients in this process (one asyncio
loop, one HTTP connection each, signed in as a practitioner). The gun fires the practitioner's way: the
simulator's handpiece trigger held down (its control channel's ``press`` … ``release``) in continuous mode at
10 shots/s, the gun armed through the API by a client that attends it (heartbeats).

Two bursts. The first (:attr:`Settings.load_baseline_seconds`) is watched by one client: the service's CPU
then is the peer. Then the other clients subscribe, and the second burst (:attr:`Settings.load_seconds`, 5
minutes in a full run) is watched by all :attr:`Settings.load_clients`. Throughout, one more client — the slow
one, its socket's receive buffer shrunk to :data:`SLOW_RCVBUF` before it connects — subscribes first and then
reads nothing for :attr:`Settings.slow_stall_seconds` (at most until the second burst ends): its socket and
the service's buffers for it fill up and the service must drop events for it, and tell it so with a
``missed`` event once it reads again, while the others miss nothing.

Checks: every prompt client received every shot of the second burst exactly once, in order — the shot
indices the device fired (``shots_lifetime`` before and after, from its snapshot) — and no ``missed`` event;
the record holds the same shots; the slow client was told it missed at least as many events as the shots it
lacks. CPU: the service process's user + system time (``/proc/<pid>/stat``, all threads) over each burst
once it has settled, as a percentage of one core.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.record import Better, Result
from benchmarks.runner import Benchmark
from benchmarks.service import ServedService, process_cpu_seconds, served_service
from benchmarks.service_client import ServiceClient
from benchmarks.settings import Settings
from benchmarks.simulator import served_simulator_with_control
from benchmarks.sse import SocketOption, Tally, follow

RATE_HZ = 10.0
DOSE_ML = 0.001
"""The smallest dose: two bursts of a full run (about 3,350 shots) and the prime fit the 10 mL syringe."""
SETTLE_S = 1.0
"""Seconds of firing before a burst's CPU window opens."""
SUBSCRIBE_TIMEOUT_S = 20.0
"""Seconds a client may take to receive its stream's first event."""
DRAIN_TIMEOUT_S = 20.0
"""Seconds every client may take, once the burst ended, to have received its last shot."""
SLOW_CATCH_UP_S = 2.0
"""Seconds the slow client is given to read its backlog once told it missed events."""
SLOW_RCVBUF = 4096
"""The slow client's socket receive buffer, set before it connects (bytes; Linux doubles it). With the default,
autotuned, a client that stops reading holds minutes of events in its own kernel (a full run's, stalled 150 s,
held about 1 MB and lost nothing): the service then drops nothing and has nothing to tell it."""

COMPLETE_PEER = "every client, every shot the device fired"
TOLD_PEER = "told it missed events (1)"
RECORD_PEER = "the shots the device fired (its snapshot)"
CPU_PEER = "the same service, one client (first burst, same run)"


class Gun:
    """The simulated gun's trigger and counters through its control channel (blocking calls, a few ms)."""

    def __init__(self, address: str) -> None:
        from sims.control import ControlClient

        self._control = ControlClient(address)

    def close(self) -> None:
        """Close the control connection."""
        self._control.close()

    def request(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """One control request; :class:`RuntimeError` with the simulator's reason if it was refused."""
        answer = self._control.request(cmd, **fields)
        if not answer.get("ok"):
            raise RuntimeError(f"the simulator refused {cmd}: {answer.get('error')}")
        return answer

    def snapshot(self) -> dict[str, Any]:
        """The device's state now."""
        snap: dict[str, Any] = self.request("snapshot")["snapshot"]
        return snap

    async def until_not_firing(self, timeout: float = 5.0) -> dict[str, Any]:
        """Poll until the burst's last shot is done; the snapshot then."""
        deadline = time.monotonic() + timeout
        while (snap := self.snapshot())["state"] == "firing":
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gun still fires {timeout:g} s after the trigger was let go")
            await asyncio.sleep(0.05)
        return snap


async def _burst(gun: Gun, service_pid: int, seconds: float) -> dict[str, float]:
    """Hold the trigger: settle, measure the service's and this process's CPU over ``seconds``, let go."""
    gun.request("press", source="trigger")
    await asyncio.sleep(SETTLE_S)
    cpu0, own0, wall0 = process_cpu_seconds(service_pid), time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, own, wall = process_cpu_seconds(service_pid) - cpu0, time.process_time() - own0, time.monotonic() - wall0
    gun.request("release")
    await gun.until_not_firing()
    return {"cpu_s": cpu, "wall_s": wall, "clients_cpu_s": own}


class Streams:
    """The clients' event streams, each read by a task into its :class:`Tally` until :meth:`close`."""

    def __init__(self, api: ServiceClient, serial: str) -> None:
        self._api, self._serial = api, serial
        self._tasks: list[asyncio.Task[None]] = []

    async def open(
        self,
        tally: Tally,
        *,
        buffer: int | None = None,
        socket_options: list[SocketOption] | None = None,
        resume: asyncio.Event | None = None,
    ) -> None:
        """Subscribe a client (its own connection) and wait for its stream's first event."""

        async def read() -> None:
            await follow(self._api.event_lines(self._serial, buffer, socket_options or ()), tally, resume)

        task = asyncio.create_task(read(), name=f"events {tally.name}")
        self._tasks.append(task)
        started = asyncio.create_task(tally.started.wait())
        await asyncio.wait({task, started}, timeout=SUBSCRIBE_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if task.done():
            task.result()  # the stream failed: raise why
        if not tally.started.is_set():
            raise RuntimeError(f"{tally.name}: no event within {SUBSCRIBE_TIMEOUT_S:g} s of subscribing")

    def check(self) -> None:
        """Raise the error of a stream that ended (a stream only ends when the service fails)."""
        for task in self._tasks:
            if task.done():
                task.result()
                raise RuntimeError(f"{task.get_name()} ended before the test did")

    async def close(self) -> None:
        """End every stream."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _has(tally: Tally, last: int) -> bool:
    return bool(tally.shots) and tally.shots[-1] >= last


async def _until_received(tallies: Iterable[Tally], last: int, streams: Streams) -> None:
    """Wait until every tally has the shot ``last`` (or :data:`DRAIN_TIMEOUT_S` passed: the checks say who not)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    waiting = list(tallies)
    while waiting and time.monotonic() < deadline:
        streams.check()
        waiting = [t for t in waiting if not _has(t, last)]
        await asyncio.sleep(0.1)


async def _until_slow_read(slow: Tally, last: int, streams: Streams) -> None:
    """Wait until the slow client, reading again, has the shot ``last`` or was told it missed events and had
    :data:`SLOW_CATCH_UP_S` to read its backlog (its buffer may have dropped the burst's last shots)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    told_by: float | None = None
    while not _has(slow, last) and time.monotonic() < deadline:
        streams.check()
        if slow.first_missed_at is not None:
            told_by = told_by or time.monotonic() + SLOW_CATCH_UP_S
            if time.monotonic() > told_by:
                return
        await asyncio.sleep(0.1)


async def _measure(svc: ServedService, control: str, settings: Settings) -> dict[str, Any]:
    gun = Gun(control)
    try:
        async with ServiceClient(svc.url) as api:
            await api.login(svc.user, svc.pin)
            serial = await api.first_gun()
            async with api.attending(serial, "benchmarks.service_load"):
                await api.get_ready(serial, dose_ml=DOSE_ML, rate_hz=RATE_HZ)
                await api.arm(serial)
                streams = Streams(api, serial)
                try:
                    figures = await _bursts(gun, svc, streams, settings)
                    figures["recorded"] = await _recorded(api, int(figures["after"]))
                    return figures
                finally:
                    await streams.close()
                    await api.disarm(serial)
    finally:
        gun.close()


async def _bursts(gun: Gun, svc: ServedService, streams: Streams, settings: Settings) -> dict[str, Any]:
    slow, resume = Tally("slow client"), asyncio.Event()
    options = [(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)]
    await streams.open(slow, buffer=settings.slow_buffer, socket_options=options, resume=resume)
    stalled_at = time.monotonic()
    resumer = asyncio.get_running_loop().call_later(settings.slow_stall_seconds, resume.set)
    prompt = [Tally(f"client {i + 1}") for i in range(settings.load_clients)]
    await streams.open(prompt[0])
    baseline = await _burst(gun, svc.pid, settings.load_baseline_seconds)
    for tally in prompt[1:]:
        await streams.open(tally)
    before = int(gun.snapshot()["shots_lifetime"])
    main = await _burst(gun, svc.pid, settings.load_seconds)
    after = int((await gun.until_not_firing())["shots_lifetime"])
    resumer.cancel()
    resumed_after = time.monotonic() - stalled_at if not resume.is_set() else settings.slow_stall_seconds
    resume.set()
    await _until_received(prompt, after, streams)
    await _until_slow_read(slow, after, streams)
    return {
        "baseline": baseline,
        "main": main,
        "before": before,
        "after": after,
        "prompt": prompt,
        "slow": slow,
        "slow_stalled_s": min(resumed_after, settings.slow_stall_seconds),
        "slow_told_after_s": None if slow.first_missed_at is None else slow.first_missed_at - stalled_at,
    }


async def _recorded(api: ServiceClient, last: int) -> list[int]:
    """The record's shot indices once it holds the shot ``last`` (or after :data:`DRAIN_TIMEOUT_S`)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while True:
        indices = await api.recorded_shot_indices()
        if (indices and max(indices) >= last) or time.monotonic() > deadline:
            return indices
        await asyncio.sleep(0.2)


def _burst_shots(shots: list[int], before: int) -> list[int]:
    return [i for i in shots if i > before]


def _pct(figures: dict[str, float]) -> float:
    return round(figures["cpu_s"] / figures["wall_s"] * 100, 2)


def evaluate(figures: dict[str, Any], settings: Settings) -> list[Result]:
    """The result lines from what the device fired, what each client received and what the record holds."""
    recorded: list[int] = figures["recorded"]
    before, after = int(figures["before"]), int(figures["after"])
    expected = list(range(before + 1, after + 1))
    if not expected:
        raise RuntimeError("the second burst fired no shot: nothing to check")
    prompt: list[Tally] = figures["prompt"]
    slow: Tally = figures["slow"]
    got = {t.name: _burst_shots(t.shots, before) for t in prompt}
    complete = [t.name for t in prompt if got[t.name] == expected and t.missed == 0]
    lacking = {t.name: len(set(expected) - set(got[t.name])) for t in prompt if t.name not in complete}
    slow_got = _burst_shots(slow.shots, before)
    slow_lacks = len(set(expected) - set(slow_got))
    told = slow.missed > 0 and slow.missed >= slow_lacks
    in_record = _burst_shots(recorded, before)
    record_ok = len(set(in_record) & set(expected)) - (len(in_record) - len(set(in_record)))
    main, baseline = figures["main"], figures["baseline"]
    n = settings.load_clients
    extra: dict[str, Any] = {
        "clients": n,
        "burst_s": round(main["wall_s"] + SETTLE_S, 1),
        "shots_fired": len(expected),
        "shots_per_s": round(len(expected) / (main["wall_s"] + SETTLE_S), 2),
        "events_per_client_min": min(t.events for t in prompt),
        "clients_incomplete": lacking,
        "prompt_clients_missed_events": sum(t.missed for t in prompt),
        "slow_missed_events": slow.missed,
        "slow_missed_notices": slow.missed_events,
        "slow_lacks_shots": slow_lacks,
        "slow_caught_up": bool(slow_got) and slow_got[-1] == after,
        "slow_stalled_s": round(figures["slow_stalled_s"], 1),
        "slow_told_after_s": None if figures["slow_told_after_s"] is None else round(figures["slow_told_after_s"], 1),
        "slow_buffer_events": settings.slow_buffer or 256,
        "record_shots": len(in_record),
        "service_cpu_s": round(main["cpu_s"], 2),
        "clients_process_cpu_pct": round(main["clients_cpu_s"] / main["wall_s"] * 100, 1),
        "baseline_s": round(baseline["wall_s"], 1),
    }
    note = f"{n} SSE clients + 1 slow, trigger held at 10 shots/s, real mesogun serve on a socat pty pair"
    common: dict[str, Any] = {"note": note, "extra": extra}
    return [
        Result(
            "service_sse_clients_complete",
            round(len(complete) / n, 4),
            COMPLETE_PEER,
            1.0,
            "fraction of clients",
            Better.HIGHER,
            1.0,
            **common,
        ),
        Result(
            "service_sse_slow_client_told",
            1.0 if told else 0.0,
            TOLD_PEER,
            1.0,
            "1 = told",
            Better.HIGHER,
            1.0,
            **common,
        ),
        Result(
            "service_record_shots_vs_device",
            round(record_ok / len(expected), 4),
            RECORD_PEER,
            1.0,
            "fraction of shots",
            Better.HIGHER,
            1.0,
            **common,
        ),
        Result(
            "service_cpu_while_streaming",
            _pct(main),
            CPU_PEER,
            _pct(baseline),
            "% of a core",
            Better.LOWER,
            None,
            **common,
        ),
    ]


def run(settings: Settings) -> list[Result]:
    """Serve, fire two trigger bursts with clients streaming, check what each received, report the CPU."""
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mesogun-bench-load-")))
        host_end, control = stack.enter_context(served_simulator_with_control())
        svc = stack.enter_context(served_service(host_end, tmp))
        figures = asyncio.run(_measure(svc, control, settings))
    return evaluate(figures, settings)


BENCHMARK = Benchmark(
    "service_load",
    run,
    (
        ("service_sse_clients_complete", COMPLETE_PEER, "fraction of clients", Better.HIGHER, 1.0),
        ("service_sse_slow_client_told", TOLD_PEER, "1 = told", Better.HIGHER, 1.0),
        ("service_record_shots_vs_device", RECORD_PEER, "fraction of shots", Better.HIGHER, 1.0),
        ("service_cpu_while_streaming", CPU_PEER, "% of a core", Better.LOWER, None),
    ),
)
