"""Test support for code that drives a gun: the pytest plugin behind ``--gun-url`` (hardware-in-the-loop),
and :func:`sim_gun` for tests that want a simulated gun and a Gun connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from mesogun.session.gun import Gun, connect
from mesogun.transports.sim import SimTransport

if TYPE_CHECKING:
    from sims.inprocess import InProcessSim


@asynccontextmanager
async def sim_gun(query: str = "", **connect_options: Any) -> AsyncIterator[tuple[Gun, InProcessSim]]:
    """A fresh in-process simulated gun (``sim://?query``) the caller keeps, and a Gun connected to it.

    The simulator handle is for fault injection and replugging; both are closed when the block ends.
    """
    from sims.inprocess import start_inprocess

    simulator = await start_inprocess(query)
    try:
        async with connect(SimTransport.attach(simulator), **connect_options) as gun:
            yield gun, simulator
    finally:
        await simulator.close()
