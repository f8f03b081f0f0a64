"""The balance driver over real I/O: ``python -m sims balance`` in a child process, on a pty and on TCP
(``socket://``): identity, weighing, overload, never settles, and the line dying mid-read."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import serial

from mesogun.balance import BalanceIdentity, Reading, open_balance
from mesogun.balance.errors import BalanceDisconnected, BalanceNeverSettles, BalanceOverload
from sims.spawn import SpawnedSimulator, start_simulator

pytestmark = pytest.mark.realio

BALANCE = (sys.executable, "-m", "sims", "balance")


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start ``python -m sims balance ARGS``; every one started is stopped at the end."""
    started: list[SpawnedSimulator] = []

    def start(*args: str) -> SpawnedSimulator:
        spawned = start_simulator(*args, launcher=BALANCE)
        started.append(spawned)
        return spawned

    yield start
    for spawned in started:
        spawned.stop()


def test_weighing_over_a_pty(real: Any, serve: Any) -> None:
    """The driver weighs over a real pty; then a plain pyserial client (9600 8N1) sees ES, EL and ET."""
    sim = serve("--pty", "--settle-s", "0.05", "--noise-mg", "0", "--load-g", "1.5", "--serial-number", "B55")
    assert sim.kind == "PTY"

    async def scenario() -> None:
        async with await open_balance(sim.address, expected_model="XPR") as balance:
            assert balance.identity == BalanceIdentity("XPR205", "B55", "2.40.1", 0.00001, 220.0)
            assert await balance.stable_weight() == Reading(1.5, stable=True)
            assert await balance.immediate_weight() == Reading(1.5, stable=True)
            assert await balance.tare() == pytest.approx(1.5)
            assert await balance.stable_weight() == Reading(0.0, stable=True)
            await balance.reset()
            await balance.zero()
            assert await balance.stable_weight() == Reading(0.0, stable=True)

    real(scenario)
    with serial.Serial(sim.address, baudrate=9600, timeout=5) as port:
        for line, reply in ((b"XYZ\r\n", b"ES\r\n"), (b"S 1\r\n", b"EL\r\n"), (b"S\x01\r\n", b"ET\r\n")):
            port.write(line)
            assert port.read_until(b"\r\n") == reply


def test_overload_and_never_settles_over_tcp(real: Any, serve: Any) -> None:
    heavy = serve("--tcp", "127.0.0.1:0", "--load-g", "250")
    shaky = serve("--tcp", "127.0.0.1:0", "--noise-mg", "1", "--stability-wait-s", "0.2")
    assert heavy.address.startswith("socket://127.0.0.1:")

    async def scenario() -> None:
        async with await open_balance(heavy.address) as balance:
            await balance.identify()
            with pytest.raises(BalanceOverload, match="exceeds its capacity 220 g"):
                await balance.stable_weight()
        async with await open_balance(shaky.address) as balance:
            with pytest.raises(BalanceNeverSettles, match=r"did not settle within 0\.5 s"):
                await balance.stable_weight(timeout_s=0.5)

    real(scenario)


@pytest.mark.parametrize("transport", ["--pty", "--tcp"])
def test_the_balance_dies_mid_read(real: Any, serve: Any, transport: str) -> None:
    args = ("--tcp", "127.0.0.1:0") if transport == "--tcp" else ("--pty",)
    sim = serve(*args, "--noise-mg", "1", "--stability-wait-s", "60")

    async def scenario() -> None:
        balance = await open_balance(sim.address)
        await balance.identify()
        weighing = asyncio.create_task(balance.stable_weight())
        await asyncio.sleep(0.2)
        await asyncio.to_thread(sim.stop)
        with pytest.raises(BalanceDisconnected, match="disconnected during 'S'"):  # not a reply timeout
            await weighing
        await balance.close()

    real(scenario)
