"""The simulated gun in the host's own process (``sim://``): a device and one host connection at a time.

Bytes pass through :class:`~sims.impairments.ImpairedPipe` in both directions, so line time, latency,
drop, corruption and split writes apply exactly as when served over a pty or TCP. Everything runs on the
running event loop's clock: under :func:`sims.clock.run_virtual` it fast-forwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sims import registry
from sims.device import SimulatedGun
from sims.factory import start_device
from sims.impairments import ImpairedPipe, make_rng
from sims.options import SimOptions, parse_query


class SimConnection:
    """One host connection: ``read()`` device→host bytes, ``write()`` host→device bytes."""

    def __init__(self, sim: InProcessSim, index: int) -> None:
        loop = asyncio.get_running_loop()
        options = sim.options
        self._loop = loop
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._receiver: Callable[[bytes], None] | None = None
        self._ended = False
        self._eof_read = False
        self._writing = False
        self._deferred = 0
        """Chunks handed to the loop for the next turn, not yet pushed (later ones queue behind them)."""
        imp, seed = options.impairments, options.seed
        self.to_device = ImpairedPipe(sim.device.receive, imp, make_rng(seed, f"h2d{index}"), loop)
        self.to_host = ImpairedPipe(self._to_host, imp, make_rng(seed, f"d2h{index}"), loop)

    def _to_host(self, data: bytes) -> None:
        """Device→host bytes off the line: to the receiver if one is set, else queued for :meth:`read`.

        The receiver gets them as from a real port's readiness callback: at once when the device sends on its
        own (a status, a shot: the device's timer is that callback), on the loop's next turn when the device
        answers inside the host's own write (a reply cannot arrive before the command's sender has yielded)."""
        if self._receiver is None:
            self._queue.put_nowait(data)
        elif self._writing or self._deferred:  # behind a reply still on its way: first in, first out
            self._deferred += 1
            self._loop.call_soon(self._push_deferred, data)
        else:
            self._push(data)

    def _push_deferred(self, data: bytes) -> None:
        self._deferred -= 1
        self._push(data)

    def _push(self, data: bytes) -> None:
        """To the receiver set now (bytes in flight when it was removed are queued for the next reader)."""
        if self._receiver is not None and self._queue.empty():
            self._eof_read = self._eof_read or not data
            self._receiver(data)
        else:
            self._queue.put_nowait(data)

    def set_receiver(self, receiver: Callable[[bytes], None] | None) -> None:
        """Hand device→host bytes (``b""`` at the end) to ``receiver`` as they arrive instead of queueing them for
        :meth:`read`; bytes already queued go first. ``None`` goes back to queueing."""
        self._receiver = receiver
        while receiver is not None and not self._queue.empty() and not self._eof_read:
            data = self._queue.get_nowait()
            if not data:
                self._eof_read = True
            receiver(data)

    async def read(self) -> bytes:
        """Next bytes from the device (any chunking); ``b""`` once unplugged or closed."""
        if self._eof_read:
            return b""
        data = await self._queue.get()
        if not data:
            self._eof_read = True
        return data

    async def write(self, data: bytes) -> None:
        """Send bytes to the device; ``ConnectionError`` if this connection was unplugged or closed."""
        if self._ended:
            raise ConnectionError("simulated gun unplugged or connection closed")
        self._writing = True
        try:
            self.to_device.send(bytes(data))
        finally:
            self._writing = False

    def close(self) -> None:
        """End this connection (pending bytes are lost); idempotent."""
        self._end()

    @property
    def ended(self) -> bool:
        """Whether this connection was closed, unplugged or replaced."""
        return self._ended

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        self.to_device.close()
        self.to_host.close()
        self._to_host(b"")


class InProcessSim:
    """A started simulated gun plus its (at most one) host connection."""

    def __init__(self, device: SimulatedGun, options: SimOptions) -> None:
        self.device = device
        """The device: inspect it and inject faults (``sim.device.inject("occlusion", after_shots=5)``)."""
        self.options = options
        self._connection: SimConnection | None = None
        self._connections = 0
        self._disconnect_timer: asyncio.TimerHandle | None = None
        registry.register(device)  # found by serial number: sim-balance://?gun=SERIAL weighs what it delivers
        if options.disconnect_at_s is not None:
            loop = asyncio.get_running_loop()
            self._disconnect_timer = loop.call_at(loop.time() + options.disconnect_at_s, self.unplug)

    def connect(self) -> SimConnection:
        """A new host connection; the previous one, if any, ends (its ``read()`` returns ``b""``)."""
        self._drop_connection()
        self._connections += 1
        connection = SimConnection(self, self._connections)
        self._connection = connection
        self.device.attach(connection.to_host.send)
        return connection

    def unplug(self) -> None:
        """Cable pulled: the connection's ``read()`` returns ``b""``, ``write()`` raises; the device runs on."""
        self._drop_connection()

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection._end()
            self._connection = None
            self.device.detach()

    async def close(self) -> None:
        """Unplug and power the device off (cancel its timers); idempotent."""
        if self._disconnect_timer is not None:
            self._disconnect_timer.cancel()
        registry.unregister(self.device)
        self._drop_connection()
        await self.device.close()

    async def __aenter__(self) -> InProcessSim:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start_inprocess(query: str = "") -> InProcessSim:
    """Start a fresh simulated gun on the running event loop.

    ``query`` is the query string of a ``sim://`` URL, e.g.
    ``"serial=SIM0001&latency_ms=5&drop=0.001&fault=occlusion:after_shots=5&nvm=/tmp/g.json"``; option
    names are the ``mesogun sim`` options with underscores. Bad options raise
    :class:`~sims.errors.SimConfigError` (a ``ValueError``) naming option, value and allowed range.
    """
    options = parse_query(query)
    device = await start_device(options)
    return InProcessSim(device, options)
