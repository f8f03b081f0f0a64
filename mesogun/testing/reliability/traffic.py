"""Real wire traffic of a short session with the simulated gun: seeds for the fuzzers and frame samples.

Runs a bare host script against :class:`sims.device.SimulatedGun` on a private virtual-time loop (no
transport, no host library) and keeps every frame in both directions.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from firmware_protocol import Frame, StreamDecoder, make, to_wire
from sims.clock import new_virtual_loop
from sims.device import SimulatedGun

SESSION: tuple[tuple[str, dict[str, Any], float], ...] = (
    ("hello", {}, 0.0),
    ("get_status", {}, 0.0),
    ("set_parameters", {"depth_um": 1500, "dose_nl": 20_000, "rate_mhz": 5000, "mode": "burst"}, 1.0),
    ("load_syringe", {"capacity_nl": 2_000_000, "fill_nl": 2_000_000}, 0.0),
    ("prime", {"volume_nl": 100_000}, 3.0),
    ("arm", {}, 0.0),
    ("fire", {"count": 3}, 1.0),
    ("heartbeat", {}, 0.0),
    ("fire", {"count": 0}, 0.5),
    ("stop", {}, 0.3),
    ("disarm", {}, 0.0),
    ("emergency_stop", {}, 0.0),
    ("arm", {}, 0.0),
    ("clear_alarm", {}, 0.0),
)
"""(command, fields, device seconds to let pass afterwards) of the sample session."""


@functools.cache
def session_bytes() -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """(host→device wire chunks, device→host wire chunks) of the sample session."""
    host: list[bytes] = []
    device_out: list[bytes] = []
    loop = new_virtual_loop()
    try:
        gun = SimulatedGun()
        loop.run_until_complete(gun.start())
        gun.attach(device_out.append)
        for seq, (name, fields, wait_s) in enumerate(SESSION, start=1):
            data = to_wire(make(name, seq=seq, **fields))
            host.append(data)
            gun.receive(data)
            if wait_s:
                loop.run_until_complete(asyncio.sleep(wait_s))
        loop.run_until_complete(gun.close())
    finally:
        loop.close()
    return tuple(host), tuple(device_out)


@functools.cache
def sample_frames() -> tuple[Frame, ...]:
    """One frame of every distinct (type, payload) seen in the sample session, both directions."""
    frames: dict[tuple[int, bytes], Frame] = {}
    decoder = StreamDecoder()
    for chunk in (*session_bytes()[0], *session_bytes()[1]):
        for frame in decoder.feed(chunk):
            frames.setdefault((frame.msg_type, frame.payload), frame)
    return tuple(frames.values())
