"""The frame trace (``mesogun.transports.trace``): every frame both ways, decoded, one line each."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

import mesogun
from firmware_protocol import Flag, make, to_wire
from mesogun.transports import transport_for_url
from mesogun.transports.sim import SimTransport
from mesogun.transports.trace import FrameSplitter, TracingTransport, describe_frame
from sims.spawn import spawn_simulator

LINE = re.compile(r"^trace +\d+\.\d{6} (→|←|·) \S")


def frames(lines: list[str], arrow: str, name: str) -> list[str]:
    return [line for line in lines if f" {arrow} {name} seq=" in line]


def test_a_session_is_traced_both_ways_heartbeats_included(virtual: Any) -> None:
    async def scenario() -> None:
        lines: list[str] = []
        loop = asyncio.get_running_loop()
        traced = TracingTransport(SimTransport("sim://?serial=SIM0777"), lines.append, clock=loop.time)
        async with mesogun.connect(traced) as gun:
            await gun.configure(depth_mm=1.5)
            await asyncio.sleep(2.0)  # idle: the session keeps the device's watchdog fed
        assert all(LINE.match(line) for line in lines), lines
        hello = frames(lines, "→", "hello")
        assert len(hello) == 1 and "protocol_version=1" in hello[0]
        (identity,) = frames(lines, "←", "identity")
        assert "[reply] " in identity and 'serial_number="SIM0777"' in identity
        assert frames(lines, "→", "set_parameters") and "depth_um=1500" in frames(lines, "→", "set_parameters")[0]
        assert frames(lines, "→", "heartbeat") and frames(lines, "←", "ack")
        assert frames(lines, "←", "status")  # unsolicited periodic statuses too
        assert 'state="' in frames(lines, "←", "status")[0]  # enums by their names, not numbers
        assert lines[0].endswith("· opened sim://?serial=SIM0777")

    virtual(scenario)


def test_a_run_that_does_not_decode_is_shown_in_hex_with_the_reason() -> None:
    wire = bytearray(to_wire(make("heartbeat", seq=7)))
    wire[-3] ^= 0xFF  # a byte of the CRC changed on the line
    (run,) = FrameSplitter().feed(bytes(wire))
    text = describe_frame(run)
    assert text.startswith(run[:4].hex(" ")) and "(not a message: CRC mismatch" in text
    assert "not a message" in describe_frame(b"\x01\x02\x03")


def test_flags_are_named_and_the_same_frames_come_out_however_the_bytes_are_cut() -> None:
    stream = to_wire(make("fire", seq=9, flags=int(Flag.RETRY), count=3)) + to_wire(make("heartbeat", seq=10))
    whole = [describe_frame(run) for run in FrameSplitter().feed(stream)]
    splitter = FrameSplitter()
    bytewise = [describe_frame(run) for i in range(len(stream)) for run in splitter.feed(stream[i : i + 1])]
    assert whole == bytewise == ["fire seq=9 [retry] count=3", "heartbeat seq=10"]


def test_a_run_longer_than_any_frame_is_given_up_not_buffered_forever() -> None:
    splitter = FrameSplitter()
    runs = [run for _ in range(20) for run in splitter.feed(b"\x55" * 1000)]
    assert runs and all("not a message" in describe_frame(run) for run in runs)


@pytest.mark.realio
def test_a_pushing_serial_port_is_traced_too(real: Any) -> None:
    """Over a pty the serial transport pushes bytes from the readiness callback: the trace sees them there."""

    with spawn_simulator("--pty", "--serial", "PTY0042") as sim:

        async def scenario() -> None:
            lines: list[str] = []
            async with mesogun.connect(TracingTransport(transport_for_url(sim.address), lines.append)) as gun:
                await gun.refresh_status()
            assert frames(lines, "→", "hello") and 'serial_number="PTY0042"' in frames(lines, "←", "identity")[0]
            assert frames(lines, "←", "status")

        real(scenario)
