"""A simulated gun that outlives each command: served from a thread of the test's process on a loopback TCP port
(our protocol, ``socket://``) and on a pty (its standard SMP serial endpoint, ``smp-serial://``), as ``mesogun sim
--tcp … --smp-pty`` serves it, so one CLI command uploads, the next tests, another confirms."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

from sims.device import SimulatedGun
from sims.factory import start_device
from sims.options import parse_query
from sims.serving import TcpServer
from sims.smp_serial import PtyEndpoint, serve_on_pty

T = TypeVar("T")


class ServedGun:
    """``with ServedGun(query) as served:`` ``served.url`` (``socket://…``), ``served.smp_url``
    (``smp-serial://PTY``), ``served.call(coroutine_function)`` on the gun's loop, ``served.device``."""

    def __init__(self, query: str) -> None:
        self._query = query
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="served gun", daemon=True)
        self.device: SimulatedGun
        self._tcp: TcpServer
        self._smp: PtyEndpoint
        self.url = self.smp_url = ""

    def __enter__(self) -> ServedGun:
        self._thread.start()
        self.call(self._start)
        return self

    async def _start(self) -> None:
        options = parse_query(self._query)
        self.device = await start_device(options)
        self._tcp = TcpServer(self.device, options)
        host, port = await self._tcp.start("127.0.0.1", 0)
        self._smp = serve_on_pty(self.device)
        self.url, self.smp_url = f"socket://{host}:{port}", f"smp-serial://{self._smp.path}"

    def call(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``work()`` on the gun's loop and return its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(work(), self._loop)
        return future.result(timeout=30)

    async def _stop(self) -> None:
        self._smp.close()
        await self._tcp.close()
        await self.device.close()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.call(self._stop)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
