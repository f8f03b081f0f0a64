"""Text lines over a byte pipe, for the instruments: a command out, its reply back within a timeout.

The pipe is a :class:`~mesogun.transports.Transport` (a serial port or ``socket://`` through pyserial's
``serial_for_url``, read on the event loop without a thread, as for the guns), or an in-process simulated
instrument (:class:`InProcessLine`). A closed or failing line and a missing reply become the instrument's own
errors, each naming the URL and the command.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mesogun.balance.errors import BalanceDisconnected, BalanceError, BalanceTimeout, BalanceUnavailable
from mesogun.errors import ConnectionLost, ParameterError, PortNotFound
from mesogun.transports import Transport, is_serial_line, transport_for_url

if TYPE_CHECKING:
    from sims.instruments import LineConnection

MAX_LINE = 4096
"""A line longer than this without its end is no instrument's reply (a wrong baud rate's noise): dropped."""


@dataclass(frozen=True)
class LineErrors:
    """Which error classes an instrument raises, and how its messages name it (``balance``, ``depth gauge``)."""

    what: str
    unavailable: type[BalanceUnavailable]
    disconnected: type[BalanceDisconnected]
    timeout: type[BalanceTimeout]
    advice: str
    """What to check when it does not answer (cable, baud rate, interface settings)."""


class InProcessLine(Transport):
    """A byte pipe to an in-process simulated instrument's connection (``sim-balance://``, ``sim-gauge://``)."""

    def __init__(self, url: str, connection: LineConnection) -> None:
        self.url = url
        self._connection = connection

    async def open(self) -> None:
        """Nothing to do: the simulated instrument was started with its connection."""

    async def read(self) -> bytes:
        return await self._connection.read()

    async def write(self, data: bytes) -> None:
        try:
            await self._connection.write(data)
        except ConnectionError as exc:
            raise ConnectionLost(f"{self.url}: {exc}") from exc

    async def close(self) -> None:
        self._connection.close()


async def open_pyserial(url: str, *, baudrate: int, errors: LineErrors) -> Transport:
    """An opened transport for a serial port or ``socket://`` URL (``baudrate`` on a serial line only).

    A URL the transports do not take (an unknown scheme, ``sim://``: a gun) is a :class:`ParameterError`;
    a port that does not open is ``errors.unavailable``."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme == "sim":
        raise ParameterError(
            f"url={url!r} is a simulated gun; a simulated {errors.what} is sim-{errors.what.split()[-1]}://",
            field="url",
            value=url,
        )
    option = errors.what.split()[-1]  # the command's option: --balance, --gauge
    try:
        transport = transport_for_url(url, baudrate=baudrate if is_serial_line(url) else None)
    except ParameterError as exc:  # named as the instrument's URL, with the instrument's schemes, not a gun's
        detail = str(exc).removeprefix(f"url={url!r}: ").split(" (known:")[0]
        raise ParameterError(
            f"{option}={url!r} is not a {errors.what} URL ({detail}): a serial port (e.g. /dev/ttyUSB0), "
            f"socket://HOST:PORT or sim-{option}://",
            field=option,
            value=url,
        ) from None
    try:
        await transport.open()
    except PortNotFound as exc:  # one clean line: the transport and pyserial both name the URL
        text = str(exc).replace(f"cannot open {url}: ", "").replace(f"Could not open port {url}: ", "")
        raise errors.unavailable(f"the {errors.what} at {url} does not open: {text}", url=url) from exc
    return transport


class LinePort:
    """Lines to and from one instrument: :meth:`send` a command, :meth:`read_line` the next reply line."""

    def __init__(self, transport: Transport, errors: LineErrors, *, newline: bytes = b"\r\n") -> None:
        self.transport = transport
        self.url = transport.url
        self._errors = errors
        self._newline = newline
        self._buffer = bytearray()
        self._closed = False

    async def send(self, line: str, *, command: str) -> None:
        """Write ``line`` and the line end; a failing line is ``errors.disconnected``."""
        if self._closed:
            raise self._errors.disconnected(f"the {self._errors.what} at {self.url} is closed", url=self.url)
        try:
            await self.transport.write(line.encode("ascii") + self._newline)
        except ConnectionLost as exc:
            raise self._lost(command, str(exc)) from exc

    async def read_line(self, *, timeout_s: float, command: str) -> str:
        """The next non-empty line (its CR LF or LF stripped) within ``timeout_s``: ``errors.timeout`` if none came,
        ``errors.disconnected`` if the line closed."""
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    end = self._buffer.find(b"\n")
                    if end >= 0:
                        raw = bytes(self._buffer[:end]).rstrip(b"\r")
                        del self._buffer[: end + 1]
                        text = raw.decode("ascii", errors="replace").strip()
                        if text:
                            return text
                        continue
                    if len(self._buffer) > MAX_LINE:
                        self._buffer.clear()
                    try:
                        chunk = await self.transport.read()
                    except ConnectionLost as exc:
                        raise self._lost(command, str(exc)) from exc
                    if not chunk:
                        raise self._lost(command, "the line closed")
                    self._buffer += chunk
        except TimeoutError:
            errors = self._errors
            message = (
                f"no reply from the {errors.what} at {self.url} to {command!r} within {timeout_s:g} s ({errors.advice})"
            )
            raise errors.timeout(message, url=self.url, command=command, timeout_s=timeout_s) from None

    def discard_pending(self) -> None:
        """Forget bytes already received (a late reply to a command given up on)."""
        self._buffer.clear()

    async def close(self) -> None:
        """Close the transport; idempotent."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                await self.transport.close()

    def _lost(self, command: str, why: str) -> BalanceError:
        self._closed = True
        return self._errors.disconnected(
            f"the {self._errors.what} at {self.url} disconnected during {command!r} ({why}): reconnect it and "
            "start the measurement again",
            url=self.url,
            command=command,
        )
