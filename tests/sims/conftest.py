"""Shared helpers for the simulator tests: a minimal host speaking only ``firmware_protocol``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from firmware_protocol import Flag, Message, StreamDecoder, decode_message, make, to_wire
from sims.inprocess import InProcessSim, SimConnection, start_inprocess

FILL_2ML = {"capacity_nl": 2_000_000, "fill_nl": 2_000_000}

Runner = Callable[[Callable[[], Any]], Any]
"""The shared ``virtual`` fixture's type (tests/conftest.py): run a coroutine factory in virtual time."""


class Host:
    """A bare-bones host: sends commands, collects replies and events from one connection."""

    def __init__(self, connection: SimConnection) -> None:
        self.connection = connection
        self.decoder = StreamDecoder()
        self.messages: list[Message] = []
        self._changed = asyncio.Event()
        self._seq = 0
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._keepalive: asyncio.Task[None] | None = None
        self.eof = False

    async def _read(self) -> None:
        while True:
            data = await self.connection.read()
            if not data:
                self.eof = True
                self._changed.set()
                return
            for frame in self.decoder.feed(data):
                self.messages.append(decode_message(frame))
            self._changed.set()

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFF
        return self._seq

    async def send(self, name: str, seq: int | None = None, flags: int = 0, **fields: Any) -> int:
        seq = self.next_seq() if seq is None else seq
        await self.connection.write(to_wire(make(name, seq=seq, flags=flags, **fields)))
        return seq

    async def request(self, name: str, seq: int | None = None, flags: int = 0, **fields: Any) -> Message:
        """Send a command and return its reply (the first REPLY-flagged message with its seq, sent after)."""
        start = len(self.messages)
        seq = await self.send(name, seq, flags, **fields)
        return await self.wait_for(lambda m: m.seq == seq and bool(m.flags & Flag.REPLY), start=start)

    async def wait_for(self, predicate: Callable[[Message], bool], start: int = 0, timeout: float = 30.0) -> Message:
        """The first message from index ``start`` on matching ``predicate`` (virtual-time timeout)."""

        async def scan() -> Message:
            index = start
            while True:
                while index < len(self.messages):
                    message = self.messages[index]
                    index += 1
                    if predicate(message):
                        return message
                if self.eof:
                    raise ConnectionError("connection ended while waiting")
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)

    def events(self, name: str) -> list[Message]:
        """Unsolicited messages of one type received so far."""
        return [m for m in self.messages if m.name == name and not m.flags & Flag.REPLY]

    @staticmethod
    def code(message: Message) -> str:
        """The nak code's JSON name ('' if the message is not a nak)."""
        return str(message["code"].json_name) if message.name == "nak" else ""

    def alarms_raised(self) -> list[tuple[str, str]]:
        return [(m["code"].json_name, m["priority"].json_name) for m in self.events("alarm") if m["raised"]]

    def start_heartbeat(self, period_s: float = 0.3) -> None:
        async def beat() -> None:
            while True:
                await asyncio.sleep(period_s)
                await self.send("heartbeat")

        self._keepalive = asyncio.get_running_loop().create_task(beat())

    async def stop_heartbeat(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            await asyncio.gather(self._keepalive, return_exceptions=True)
            self._keepalive = None

    async def close(self) -> None:
        await self.stop_heartbeat()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)

    async def ready_to_fire(self, *, mode: str = "burst", rate_mhz: int = 2000, dose_nl: int = 10_000) -> None:
        """hello, load, prime, set parameters, wait for the motor, arm."""
        assert (await self.request("hello")).name == "identity"
        assert (await self.request("load_syringe", **FILL_2ML)).name == "ack"
        assert (await self.request("prime", volume_nl=50_000)).name == "ack"
        await asyncio.sleep(1.5)
        reply = await self.request("set_parameters", depth_um=2000, dose_nl=dose_nl, rate_mhz=rate_mhz, mode=mode)
        assert reply.name == "ack", reply
        assert (await self.request("arm")).name == "ack"


SimTest = Callable[[InProcessSim, Host], Awaitable[None]]


@pytest.fixture
def sim_run(virtual: Runner) -> Callable[..., None]:
    """``sim_run(test, query="")``: run ``async test(sim, host)`` on a fresh simulator in virtual time."""

    def run(test: SimTest, query: str = "") -> None:
        async def main() -> None:
            sim = await start_inprocess(query)
            host = Host(sim.connect())
            try:
                await test(sim, host)
            finally:
                await host.close()
                await sim.close()

        virtual(main)

    return run
