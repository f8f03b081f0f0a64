"""pyserial transport: device paths (``/dev/ttyACM0``, a pty) and pyserial URLs (``socket://``, ``rfc2217://``).

I/O strategy, and why: ports are opened with ``serial.serial_for_url(url, timeout=0)`` (non-blocking reads).
When the port has a file descriptor (POSIX serial ports and ptys, and pyserial's ``socket://`` handler)
the event loop watches it with ``loop.add_reader``: no thread, no polling, and it works the same for a pty
path and a TCP socket. Handlers without one (``loop://``, and ``rfc2217://`` which runs its own thread
inside pyserial) are polled every :data:`POLL_INTERVAL` s on the event loop. No extra dependency is
needed. pyserial's ``SerialException`` on read, including "device reports readiness to read but
returned no data" (an unplugged USB port, pyserial #341), is a disconnect: it becomes
:class:`~mesogun.errors.ConnectionLost`, never a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from typing import Any

import serial

from mesogun.errors import ConnectionLost, ParameterError, PortNotFound
from mesogun.i18n import N_
from mesogun.transports.base import Receiver, Transport
from mesogun.wording import Quoted, Word, Wording

#: Poll period for pyserial handlers without a file descriptor, in seconds.
POLL_INTERVAL = 0.005
#: Bytes asked for per read.
READ_CHUNK = 65536
#: Default baud rate (a USB CDC gun ignores it).
BAUDRATE = 115200
#: The baud rates a port may be opened at: pyserial's standard rates, lowest to highest.
BAUDRATE_RANGE = (min(serial.Serial.BAUDRATES), max(serial.Serial.BAUDRATES))


def check_baudrate(baudrate: int) -> int:
    """``baudrate`` if it is a whole number within :data:`BAUDRATE_RANGE`; :class:`ParameterError` if not."""
    low, high = BAUDRATE_RANGE
    if isinstance(baudrate, bool) or not isinstance(baudrate, int) or not low <= baudrate <= high:
        raise ParameterError(f"baudrate={baudrate!r} is outside {low}–{high} baud", field="baudrate", value=baudrate)
    return baudrate


class SerialTransport(Transport):
    """A pyserial port or URL, read through the event loop."""

    def __init__(self, url: str, *, baudrate: int = BAUDRATE) -> None:
        self.url = url
        self._baudrate = check_baudrate(baudrate)
        self._port: Any = None
        self._chunks: asyncio.Queue[bytes | ConnectionLost] | None = None
        self._fd: int | None = None
        self._poller: asyncio.Task[None] | None = None
        self._eof = False
        self._receiver: Receiver | None = None

    async def open(self) -> None:
        """Open the port; :class:`PortNotFound` names the URL and pyserial's reason if it cannot be opened."""
        if self._port is not None:
            return
        kwargs: dict[str, Any] = {"baudrate": self._baudrate, "timeout": 0, "write_timeout": 2.0}
        if "://" not in self.url and os.name == "posix":
            kwargs["exclusive"] = True  # keep a second process off a real port
        try:
            port = serial.serial_for_url(self.url, **kwargs)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortNotFound(Wording(N_("cannot open {url}: {why}"), url=self.url, why=_why_not_opened(exc))) from exc
        self._port = port
        self._chunks = asyncio.Queue()
        self._eof = False
        fd = self._fileno(port)
        loop = asyncio.get_running_loop()
        if fd is not None:
            self._fd = fd
            loop.add_reader(fd, self._on_readable)
        else:
            self._poller = loop.create_task(self._poll(), name=f"mesogun-poll {self.url}")

    @staticmethod
    def _fileno(port: Any) -> int | None:
        try:
            fd = port.fileno()
        except (AttributeError, OSError, NotImplementedError, ValueError, serial.SerialException):
            return None
        return fd if isinstance(fd, int) else None

    def _read_now(self) -> bytes | ConnectionLost:
        """What the port has right now: bytes, ``b""`` if nothing, or the disconnect as an exception.

        With a file descriptor (device paths, ptys, ``socket://``) this is one ``os.read`` on the readiness
        callback (pyserial's read adds a select and a loop per call, on the command path); end of stream
        after readiness is a disconnect, as pyserial says of an unplugged USB port (pyserial #341).
        """
        if self._fd is not None:
            try:
                chunk = os.read(self._fd, READ_CHUNK)
            except BlockingIOError:
                return b""
            except OSError as exc:
                return self._unplugged(Quoted(str(exc)))
            if not chunk:
                return self._unplugged(Word("readable but no data", N_("readable but no data")))
            return chunk
        try:
            data: bytes = self._port.read(READ_CHUNK)
        except (serial.SerialException, OSError) as exc:
            return self._unplugged(Quoted(str(exc)))
        return data

    def _unplugged(self, why: object) -> ConnectionLost:
        """The port went away (``why``: the OS's words, or what was seen)."""
        return ConnectionLost(Wording(N_("{url}: port closed or unplugged ({why})"), url=self.url, why=why))

    def _on_readable(self) -> None:
        assert self._chunks is not None
        result = self._read_now()
        if isinstance(result, BaseException) or result:
            if isinstance(result, BaseException):
                self._stop_watching()
            if self._receiver is not None:
                self._receiver(result)
            else:
                self._chunks.put_nowait(result)

    def set_receiver(self, receiver: Receiver | None) -> bool:
        """Push bytes straight from the readiness callback (ports with a file descriptor only)."""
        if receiver is None:
            self._receiver = None
            return True
        if self._fd is None or self._chunks is None:
            return False
        self._receiver = receiver
        while not self._chunks.empty():  # bytes that arrived before the receiver was set come first
            receiver(self._chunks.get_nowait())
        return True

    async def _poll(self) -> None:
        assert self._chunks is not None
        while True:
            result = self._read_now()
            if isinstance(result, BaseException):
                self._chunks.put_nowait(result)
                return
            if result:
                self._chunks.put_nowait(result)
            else:
                await asyncio.sleep(POLL_INTERVAL)

    def _stop_watching(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._fd)
            self._fd = None

    async def read(self) -> bytes:
        """Next bytes from the port; ``b""`` once closed; :class:`ConnectionLost` if the port failed."""
        if self._chunks is None or self._eof:
            return b""
        item = await self._chunks.get()
        if isinstance(item, BaseException):
            self._eof = True
            raise item
        return item

    async def write(self, data: bytes) -> None:
        """Write all of ``data``; a failing port raises :class:`ConnectionLost`."""
        if self._port is None:
            raise ConnectionLost(Wording(N_("{url}: port is not open"), url=self.url))
        try:
            written = 0
            if self._fd is not None:  # one os.write on the command path; pyserial only for what did not fit
                with contextlib.suppress(BlockingIOError):
                    written = os.write(self._fd, data)
            if written < len(data):
                self._port.write(data[written:])
        except (serial.SerialException, OSError) as exc:
            raise ConnectionLost(
                Wording(N_("{url}: write failed ({error})"), url=self.url, error=Quoted(str(exc)))
            ) from exc

    async def close(self) -> None:
        """Stop watching the port and close it (idempotent); a pending :meth:`read` returns ``b""``."""
        self._stop_watching()
        self._receiver = None
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        port, self._port = self._port, None
        if self._chunks is not None:  # first: a close cancelled while the port closes still ends a pending read
            self._chunks.put_nowait(b"")
            self._chunks = None
        if port is not None:
            # In a thread: pyserial's socket:// close sleeps 0.3 s, which on the loop would freeze every other
            # gun's link (heartbeats, stops) in a service; shielded, so a cancelled close still closes the port.
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.to_thread(port.close))

    async def reopen(self, serial_number: str) -> None:
        """Open the same URL again; if it is a device path that vanished, find the gun by serial number."""
        await self.close()
        if "://" not in self.url and not os.path.exists(self.url):
            from mesogun.transports.discovery import find_by_serial

            port = find_by_serial(serial_number)
            if port is None:
                raise PortNotFound(
                    Wording(
                        N_("no serial port with serial number {serial} (was {url})"),
                        serial=repr(serial_number),
                        url=self.url,
                    )
                )
            self.url = port.device
        await self.open()


def _why_not_opened(exc: BaseException) -> Word | Quoted:
    """Why a port did not open, in a technician's words (pyserial nests the OS error in its own text), else the
    OS's own words."""
    errno_value = getattr(exc, "errno", None)
    text = str(exc)
    if errno_value == errno.ENOENT or "No such file or directory" in text:
        return Word.own(N_("no such port (unplugged, or a mistyped path; see 'mesogun devices')"))
    if errno_value in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return Word.own(N_("permission denied (add the user to the 'dialout' group, or check the port's owner)"))
    if errno_value == errno.EBUSY or "Device or resource busy" in text or "exclusively lock" in text:
        return Word.own(N_("busy: another program has the port open"))
    return Quoted(text)
