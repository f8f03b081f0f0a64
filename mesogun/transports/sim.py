"""``sim://`` transport: a fresh simulated gun running on the same event loop (options in the query string).

``sim://?serial=SIM0001&latency_ms=5&drop=0.001`` starts ``sims.inprocess.start_inprocess(query)``; the
option names are those of ``mesogun sim`` (see ``mesogun sim --help``). :meth:`SimTransport.attach` wraps
a simulator a test started itself, so the test keeps its handle for fault injection and for replugging.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mesogun.errors import ConnectionLost, ParameterError
from mesogun.transports.base import Receiver, Transport

if TYPE_CHECKING:
    from sims.inprocess import InProcessSim, SimConnection


class SimTransport(Transport):
    """Bytes to and from an in-process simulated gun; it is started on :meth:`open` unless attached."""

    def __init__(self, url: str = "sim://") -> None:
        self.url = url
        self._query = urlsplit(url).query
        self._sim: InProcessSim | None = None
        self._owns_sim = True
        self._conn: SimConnection | None = None
        self._receiver: Receiver | None = None

    @classmethod
    def attach(cls, sim: InProcessSim, url: str = "sim://") -> SimTransport:
        """A transport to a simulator the caller started and keeps (closing the transport leaves it running)."""
        transport = cls(url)
        transport._sim = sim
        transport._owns_sim = False
        return transport

    @property
    def sim(self) -> InProcessSim:
        """The simulator behind this transport (tests use ``sim.device`` for fault injection)."""
        if self._sim is None:
            raise ConnectionLost(f"{self.url}: not open")
        return self._sim

    async def open(self) -> None:
        """Start the simulator (unless attached) and plug a new connection into it."""
        if self._conn is not None:
            return
        if self._sim is None:
            from sims.inprocess import start_inprocess

            try:
                self._sim = await start_inprocess(self._query)
            except ValueError as exc:  # sims.errors.SimConfigError names option, value and range
                raise ParameterError(f"{self.url}: {exc}", field="url", value=self.url) from exc
        self._conn = self._sim.connect()
        if self._receiver is not None:
            self._conn.set_receiver(self._receiver)

    def set_receiver(self, receiver: Receiver | None) -> bool:
        """Push the simulated gun's bytes straight to ``receiver`` as the line delivers them (no reader task hop)."""
        self._receiver = receiver
        if self._conn is not None:
            self._conn.set_receiver(receiver)
        return True

    async def read(self) -> bytes:
        """Next bytes from the simulated gun; ``b""`` once unplugged or closed."""
        conn = self._conn
        if conn is None:
            return b""
        try:
            return await conn.read()
        except ConnectionError as exc:
            raise ConnectionLost(f"{self.url}: {exc}") from exc

    async def write(self, data: bytes) -> None:
        """Send ``data`` to the simulated gun; raises :class:`ConnectionLost` if unplugged."""
        conn = self._conn
        if conn is None:
            raise ConnectionLost(f"{self.url}: not open")
        try:
            await conn.write(data)
        except ConnectionError as exc:
            raise ConnectionLost(f"{self.url}: unplugged or closed ({exc})") from exc

    async def close(self) -> None:
        """Unplug this connection; stop the simulator too if this transport started it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        if self._owns_sim and self._sim is not None:
            sim, self._sim = self._sim, None
            await sim.close()

    async def reopen(self, serial_number: str) -> None:
        """Replug: a new connection to the same simulator, which kept running (attached, or started by this
        transport and not closed); a transport whose own simulator was closed starts a fresh one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        await self.open()
