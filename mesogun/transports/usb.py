"""``usb://VID:PID[/SERIAL]`` transport: a CDC-ACM gun opened with pyusb, without the kernel's tty driver.

``usb://1209:6D67/SIM0001`` opens the gun with that USB serial number; ``usb://1209:6D67`` (or ``usb://``, the
simulated gun's ids) the only one plugged in; ``?backend=libusb1|libusb0|openusb`` picks pyusb's backend.
:data:`GUN_IDS` are the VID:PIDs ``mesogun devices`` looks for: 1209:6D67, a product id of pid.codes' open
range (VID 0x1209) that the simulated gun presents (a production gun gets its own; add it there).

I/O strategy, and why: libusb's synchronous calls block, and pyusb offers no event-loop integration, so the
transport opens, closes and writes through ``asyncio.to_thread`` and reads on one daemon thread (one packet
per read, :data:`READ_TIMEOUT_MS` at most, so closing never waits longer), handing each packet to the event
loop with ``call_soon_threadsafe``; the loop never blocks. A backend that never waits and delivers on the
event loop (the simulated one, :mod:`mesogun.testing.usb_backend`: ``runs_on_event_loop = True``) is called
on the loop instead and tells the transport when bytes arrive (``add_listener``), so the same code runs in
virtual time. The CDC-ACM details (kernel driver, line coding, DTR, zero-length packets) are
:mod:`mesogun.transports.cdc_acm`'s. :func:`use_backend` sets the backend of every ``usb://`` opened without
one (tests, ``mesogun devices`` under test).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from mesogun.errors import ConnectionLost, ParameterError, PortNotFound
from mesogun.i18n import N_
from mesogun.transports.base import Receiver, Transport
from mesogun.wording import Quoted, Word, Wording

GUN_VID = 0x1209
"""pid.codes' vendor id (open-source hardware; product ids allocated on request)."""
GUN_PID = 0x6D67
"""The simulated gun's product id ("mg" in ASCII)."""
GUN_IDS: tuple[tuple[int, int], ...] = ((GUN_VID, GUN_PID),)
"""The VID:PIDs that ``mesogun devices`` lists as USB guns."""
BACKENDS = frozenset({"libusb1", "libusb0", "openusb"})
"""pyusb's backends, by the name ``?backend=`` takes."""
READ_TIMEOUT_MS = 100
"""Each read's bound on the reader thread: the longest close waits for it."""

_default_backend: Any = None


def set_backend(backend: Any) -> Any:
    """Use ``backend`` (a pyusb ``IBackend``) for every ``usb://`` opened or listed without one; ``None`` goes
    back to pyusb's own choice. Returns the previous one."""
    global _default_backend
    previous, _default_backend = _default_backend, backend
    return previous


@contextlib.contextmanager
def use_backend(backend: Any) -> Iterator[Any]:
    """``with use_backend(SimUsbBackend()) as backend:`` every ``usb://`` in the block goes through it."""
    previous = set_backend(backend)
    try:
        yield backend
    finally:
        set_backend(previous)


@dataclass(frozen=True)
class UsbTarget:
    """What a ``usb://`` URL names."""

    vid: int
    pid: int
    serial_number: str | None
    backend: str | None
    """A pyusb backend by name (:data:`BACKENDS`), ``None`` for the default."""

    @property
    def vid_pid(self) -> str:
        return f"{self.vid:04X}:{self.pid:04X}"


def parse_usb_url(url: str) -> UsbTarget:
    """``usb://VID:PID[/SERIAL][?backend=NAME]`` read; :class:`ParameterError` naming the URL if malformed."""
    parts = urlsplit(url)
    hint = "use usb://VVVV:PPPP[/SERIAL], e.g. usb://1209:6D67/SIM0001"
    vid, pid = GUN_VID, GUN_PID
    if parts.netloc:
        try:
            vid_text, pid_text = parts.netloc.split(":")
            vid, pid = int(vid_text, 16), int(pid_text, 16)
        except ValueError:
            raise ParameterError(
                f"url={url!r}: {parts.netloc!r} is no VID:PID ({hint})", field="url", value=url
            ) from None
        if not (0 <= vid <= 0xFFFF and 0 <= pid <= 0xFFFF):
            raise ParameterError(f"url={url!r}: VID and PID are 0000..FFFF ({hint})", field="url", value=url)
    raw_serial = parts.path.strip("/")
    if "/" in raw_serial:
        raise ParameterError(f"url={url!r}: one serial number after the VID:PID ({hint})", field="url", value=url)
    serial = unquote(raw_serial) or None
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"backend"})
    if unknown:
        raise ParameterError(f"url={url!r}: unknown option {unknown[0]!r} (known: backend)", field="url", value=url)
    backend = query.get("backend", [None])[-1]
    if backend is not None and backend not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise ParameterError(f"url={url!r}: backend={backend!r} is none of {known}", field="url", value=url)
    return UsbTarget(vid, pid, serial, backend)


def usb_url(vid: int, pid: int, serial_number: str | None) -> str:
    """The ``usb://`` URL of one gun (by serial number if it has one)."""
    tail = f"/{quote(serial_number, safe='')}" if serial_number else ""
    return f"usb://{vid:04X}:{pid:04X}{tail}"


def _resolve_backend(name: str | None, given: Any = None) -> Any:
    """The backend to use: the one given, else :func:`set_backend`'s, else pyusb's ``name`` (``None``: its choice)."""
    if given is not None:
        return given
    if _default_backend is not None:
        return _default_backend
    if name is None:
        return None
    import importlib

    module = importlib.import_module(f"usb.backend.{name}")
    backend = module.get_backend()
    if backend is None:
        raise PortNotFound(f"pyusb backend {name} is not available (is its library, e.g. libusb-1.0, installed?)")
    return backend


def _find(vid: int, pid: int, backend: Any) -> list[Any]:
    """Every device with this VID:PID (pyusb ``Device`` objects); none if there is no usable USB stack."""
    import usb.core

    try:
        return list(usb.core.find(find_all=True, idVendor=vid, idProduct=pid, backend=backend))
    except usb.core.NoBackendError:
        return []


def _string(device: Any, name: str) -> str | None:
    """A string descriptor (``serial_number``, ``product``), ``None`` if absent or unreadable (permissions)."""
    try:
        value = getattr(device, name)
    except (ValueError, NotImplementedError, OSError):
        return None
    return value if isinstance(value, str) else None


def _release(device: Any) -> None:
    import usb.util

    with contextlib.suppress(Exception):
        usb.util.dispose_resources(device)


@dataclass(frozen=True)
class UsbGun:
    """A USB device that may be a gun, as its descriptors say."""

    url: str
    vid_pid: str
    serial_number: str | None
    product: str
    """The product string ("" if unreadable: on Linux, a udev rule grants access)."""


def list_usb_guns(vid_pid: str | None = None, *, backend: Any = None) -> list[UsbGun]:
    """The USB devices with a gun's VID:PID (:data:`GUN_IDS`, or ``vid_pid`` "VVVV:PPPP"), sorted by URL."""
    from mesogun.transports.discovery import _parse_vid_pid

    ids = [_parse_vid_pid(vid_pid)] if vid_pid is not None else list(GUN_IDS)
    chosen = _resolve_backend(None, backend)
    found: list[UsbGun] = []
    for vid, pid in ids:
        for device in _find(vid, pid, chosen):
            serial = _string(device, "serial_number")
            product = _string(device, "product") or ""
            _release(device)
            found.append(UsbGun(usb_url(vid, pid, serial), f"{vid:04X}:{pid:04X}", serial, product))
    return sorted(found, key=lambda gun: gun.url)


class UsbTransport(Transport):
    """A CDC-ACM gun over pyusb (see the module's note for the I/O strategy)."""

    def __init__(self, url: str, *, backend: Any = None) -> None:
        self.url = url
        self._target = parse_usb_url(url)
        self._backend = backend
        self._port: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._chunks: asyncio.Queue[bytes | ConnectionLost] | None = None
        self._receiver: Receiver | None = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._listener: Callable[[], None] | None = None
        self._listening: Any = None
        """The backend :attr:`_listener` is registered with (an event-loop backend only)."""
        self._on_loop = False
        self._ended = False
        self._eof = False
        self._write_lock = asyncio.Lock()

    @property
    def serial_number(self) -> str | None:
        """The serial number this transport opens (from the URL, or the gun found at the last open)."""
        return self._target.serial_number

    async def open(self) -> None:
        """Find the gun (by serial number if the URL names one), claim it and start reading.

        :class:`PortNotFound` names what exists if no device matches; :class:`ParameterError` if several do and
        the URL names none."""
        if self._port is not None:
            return
        backend = _resolve_backend(self._target.backend, self._backend)
        self._on_loop = bool(getattr(backend, "runs_on_event_loop", False))
        port = self._select(backend) if self._on_loop else await asyncio.to_thread(self._select, backend)
        try:
            if self._on_loop:
                port.open()
            else:
                await asyncio.to_thread(port.open)
        except Exception as exc:
            raise PortNotFound(Wording(N_("cannot open {url}: {why}"), url=self.url, why=_why_not_opened(exc))) from exc
        self._port = port
        self._loop = asyncio.get_running_loop()
        self._chunks = asyncio.Queue()
        self._ended = self._eof = False
        self._stop = threading.Event()
        if self._on_loop:
            self._listener, self._listening = self._drain, backend
            backend.add_listener(self._listener)
            self._drain()  # bytes that came before the listener
        else:
            self._reader = threading.Thread(target=self._read_forever, name=f"mesogun-usb {self.url}", daemon=True)
            self._reader.start()

    def _select(self, backend: Any) -> Any:
        """The :class:`~mesogun.transports.cdc_acm.CdcAcmPort` of the one matching device (blocking: USB traffic)."""
        from mesogun.transports.cdc_acm import CdcAcmPort

        target = self._target
        devices = _find(target.vid, target.pid, backend)
        serials = [_string(device, "serial_number") for device in devices]
        if target.serial_number is not None:
            chosen = [device for device, serial in zip(devices, serials, strict=True) if serial == target.serial_number]
        else:
            chosen = devices
        for device in devices:
            if device not in chosen[:1]:
                _release(device)
        if not chosen:
            seen = ", ".join(usb_url(target.vid, target.pid, s) for s in serials) or "none"
            if target.serial_number:
                template = N_("no USB gun {gun} with serial number {serial} (found: {seen}; see 'mesogun devices')")
            else:
                template = N_("no USB gun {gun} (found: {seen}; see 'mesogun devices')")
            raise PortNotFound(Wording(template, gun=target.vid_pid, serial=repr(target.serial_number), seen=seen))
        if len(chosen) > 1:
            urls = ", ".join(usb_url(target.vid, target.pid, s) for s in serials)
            _release(chosen[0])
            raise ParameterError(
                f"url={self.url!r}: {len(chosen)} USB guns {target.vid_pid} are plugged in; name one by its serial "
                f"number: {urls}",
                field="url",
                value=self.url,
            )
        if target.serial_number is None:
            self._target = UsbTarget(target.vid, target.pid, serials[0], target.backend)  # reconnect finds this one
        return CdcAcmPort(chosen[0])

    # ------------------------------------------------------------------ reading

    def _read_forever(self) -> None:
        """The reader thread: one packet at a time until closed or the device goes away."""
        port, stop = self._port, self._stop
        while not stop.is_set():
            try:
                data = port.read(READ_TIMEOUT_MS)
            except Exception as exc:
                if not stop.is_set():
                    self._post(ConnectionLost(Wording(N_("{url}: {why}"), url=self.url, why=_why_lost(exc))))
                return
            if data:
                self._post(data)

    def _post(self, item: bytes | ConnectionLost) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed under a closing transport
                loop.call_soon_threadsafe(self._deliver, item)

    def _drain(self) -> None:
        """Backend on the event loop: read every packet there is now (a ZLP is not the end; ``None`` is)."""
        port = self._port
        while port is not None and not self._ended:
            try:
                data = port.read(READ_TIMEOUT_MS)
            except Exception as exc:
                self._deliver(ConnectionLost(Wording(N_("{url}: {why}"), url=self.url, why=_why_lost(exc))))
                return
            if data is None:
                return
            if data:
                self._deliver(data)

    def _deliver(self, item: bytes | ConnectionLost) -> None:
        if self._ended or self._chunks is None:
            return
        if isinstance(item, ConnectionLost):
            self._ended = True
        if self._receiver is not None:
            self._receiver(item)
        else:
            self._chunks.put_nowait(item)

    def set_receiver(self, receiver: Receiver | None) -> bool:
        """Push each packet's bytes to ``receiver`` as it arrives (bytes already queued go first)."""
        self._receiver = receiver
        while receiver is not None and self._chunks is not None and not self._chunks.empty():
            receiver(self._chunks.get_nowait())
        return True

    async def read(self) -> bytes:
        """Next bytes from the gun; ``b""`` once closed; :class:`ConnectionLost` if it went away."""
        if self._chunks is None or self._eof:
            return b""
        item = await self._chunks.get()
        if isinstance(item, BaseException):
            self._eof = True
            raise item
        return item

    # ------------------------------------------------------------------ writing, closing

    async def write(self, data: bytes) -> None:
        """Send all of ``data`` (and a ZLP if it ends on a packet boundary); :class:`ConnectionLost` if the gun
        went away or takes nothing within the write timeout."""
        port = self._port
        if port is None or self._ended:
            raise ConnectionLost(f"{self.url}: not open" if port is None else f"{self.url}: the gun went away")
        try:
            if self._on_loop:
                port.write(bytes(data))
            else:
                async with self._write_lock:
                    await asyncio.to_thread(port.write, bytes(data))
        except Exception as exc:
            raise ConnectionLost(
                Wording(N_("{url}: write failed ({error})"), url=self.url, error=_why_lost(exc))
            ) from exc

    async def close(self) -> None:
        """Stop reading, drop DTR, release the interfaces (idempotent); a pending :meth:`read` returns ``b""``."""
        port, self._port = self._port, None
        self._stop.set()
        if self._listening is not None:
            with contextlib.suppress(Exception):
                self._listening.remove_listener(self._listener)
        self._listener = self._listening = None
        reader, self._reader = self._reader, None
        if reader is not None:
            await asyncio.to_thread(reader.join, 2 * READ_TIMEOUT_MS / 1000)
        if port is not None:
            if self._on_loop:
                port.close()
            else:
                await asyncio.to_thread(port.close)
        self._receiver = None
        if self._chunks is not None:
            self._chunks.put_nowait(b"")
            self._chunks = None
        self._ended = True

    async def reopen(self, serial_number: str) -> None:
        """Close, then find the gun again by ``serial_number`` (a replugged gun is a new USB device)."""
        await self.close()
        target = self._target
        self._target = UsbTarget(target.vid, target.pid, serial_number, target.backend)
        await self.open()


def _why_lost(exc: BaseException) -> Wording | Quoted:
    """A lost USB connection in a technician's words (the driver's own in brackets), else the driver's words."""
    from mesogun.transports.cdc_acm import is_disconnect

    if is_disconnect(exc):
        return Wording(N_("unplugged or reset ({error})"), error=Quoted(str(exc)))
    import usb.core

    if isinstance(exc, usb.core.USBTimeoutError):
        return Wording(N_("the gun took no bytes ({error})"), error=Quoted(str(exc)))
    return Quoted(str(exc) or type(exc).__name__)


def _why_not_opened(exc: BaseException) -> Word | Quoted:
    """Why a gun did not open (permission, busy, not CDC-ACM), in a technician's words, else the driver's."""
    import errno

    value = getattr(exc, "errno", None)
    if value in (errno.EACCES, errno.EPERM):
        words = N_("permission denied (on Linux, a udev rule giving the user access to the gun's VID:PID)")
        return Word.own(words)
    if value == errno.EBUSY:
        words = N_("busy: another program has the gun open")
        return Word.own(words)
    return Quoted(str(exc))
