"""SMP (mcumgr) to a gun, for smpclient: over our own protocol's firmware_update family, or a standard SMP serial
endpoint.

:class:`GunSMPTransport` implements smpclient's ``SMPTransport`` protocol over a connected
:class:`~mesogun.session.gun.Gun`: each SMP frame (8-byte header + CBOR, as the ``smp`` models serialise it) goes
out as one ``smp_request`` and comes back as one ``smp_response``, in our binary frames (CRC-32, acks, retries),
so the host runs **smpclient's** upload logic without the console line's base64 (about 0.73 of the wire rate).
A device that offers only the standard endpoint is reached with smpclient's own ``SMPSerialTransport``:
:func:`open_smp_target` with ``smp-serial:///dev/ttyACM0?baud=115200`` (a device path: a UART, a USB CDC-ACM port,
or a pty; pyserial's ``socket://`` lacks what smpclient's serial transport needs).

The traps the smpclient tracker lists, and what this module does about them: the serial transport's MTU and line
length defaults (128-byte lines, 256 bytes until MCUmgr params are read) cap uploads at a few kB/s
(intercreate/smpclient#22, #73); ``Auto`` sizes from the device's ``buf_size``, and our transport caps its frames
at what one of our messages carries (:data:`SMP_FRAME_MAX`) whatever ``buf_size`` says (#57: a buffer bigger
than the link's MTU).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from smpclient.transport import SMPTransport

from firmware_protocol.catalog import SMP_FRAME_MAX
from firmware_protocol.families import FIRMWARE_UPDATE
from mesogun.errors import ParameterError

__all__ = [
    "SMP_SERIAL_SCHEME",
    "FamilyChannel",
    "GunSMPTransport",
    "SMPTarget",
    "gun_target",
    "open_smp_target",
]

SMP_SERIAL_SCHEME = "smp-serial"
"""``smp-serial:///dev/ttyACM0?baud=115200``: a device's standard SMP serial (console) endpoint."""


class FamilyChannel(Protocol):
    """What the transport needs of a :class:`~mesogun.session.gun.Gun`: a further family's command, its reply."""

    async def family_command(self, family: str, name: str, **fields: Any) -> Any: ...


class GunSMPTransport(SMPTransport):
    """smpclient's transport over a connected gun's firmware_update family (``smp_request`` → ``smp_response``).

    ``connect`` and ``disconnect`` do nothing: the :class:`~mesogun.session.gun.Gun` owns the connection (and its
    reconnection). A lost link raises the Gun's own :class:`~mesogun.errors.ConnectionLost` or
    :class:`~mesogun.errors.LinkTimeout` out of smpclient's calls, for the caller to reconnect and resume.
    """

    def __init__(self, gun: FamilyChannel, *, frame_max: int = SMP_FRAME_MAX) -> None:
        self._gun = gun
        self._frame_max = frame_max
        self._smp_server_transport_buffer_size: int | None = None
        self._reply: bytes | None = None

    async def connect(self, address: str, timeout_s: float) -> None:
        """Nothing to open: the gun is connected."""

    async def disconnect(self) -> None:
        """Nothing to close: the gun's owner closes it."""

    async def send_and_receive(self, data: bytes) -> bytes:
        """One SMP request frame out as ``smp_request``, the device's ``smp_response`` frame back."""
        if len(data) > self._frame_max:
            raise ParameterError(
                f"an SMP frame of {len(data)} bytes exceeds the {self._frame_max} bytes one smp_request carries",
                field="frame",
                value=len(data),
            )
        reply = await self._gun.family_command(FIRMWARE_UPDATE.name, "smp_request", frame=data)
        return bytes(reply["frame"])

    async def send(self, data: bytes) -> None:
        """Send ``data``; its reply waits for :meth:`receive` (smpclient calls :meth:`send_and_receive`)."""
        self._reply = await self.send_and_receive(data)

    async def receive(self) -> bytes:
        """The reply to the last :meth:`send`."""
        reply, self._reply = self._reply, None
        if reply is None:
            raise ParameterError("receive() without a send(): every smp_request has exactly one reply", field="frame")
        return reply

    def initialize(self, smp_server_transport_buffer_size: int) -> None:
        """The device's MCUmgr ``buf_size`` (what smpclient read at connect)."""
        self._smp_server_transport_buffer_size = smp_server_transport_buffer_size

    @property
    def mtu(self) -> int:
        return self._frame_max

    @property
    def max_unencoded_size(self) -> int:
        """The device's buffer, but never more than one of our messages carries."""
        return min(self._smp_server_transport_buffer_size or self._frame_max, self._frame_max)


@dataclass(frozen=True)
class SMPTarget:
    """Where an updater's SMP goes: a transport and its address for smpclient, and how to get the device back after
    a lost connection or a reset (``None``: the transport reconnects by itself on the next ``connect``)."""

    transport: SMPTransport
    address: str
    describe: str
    """What a person reads: ``gun SIM0001`` or the endpoint's URL."""
    reconnect: Callable[[], Awaitable[None]] | None = None
    rejoin: Callable[[], Awaitable[None]] | None = None
    """After the device reset (its reply sent, then it rebooted): a new session with it, so the host reads its
    identity (the new firmware version) again (``None``: nothing to do, as for a standard endpoint)."""
    baud: int | None = None
    """The line's baud rate where known (the standard endpoint's), for a throughput figure."""


def gun_target(gun: Any) -> SMPTarget:
    """A connected :class:`~mesogun.session.gun.Gun` as an SMP target, reconnected by :meth:`Gun.reconnect` (after a
    device reset with ``force``: a new session, the device's identity read again)."""

    async def rejoin() -> None:
        await gun.reconnect(force=True)

    return SMPTarget(GunSMPTransport(gun), "", f"gun {gun.info.serial_number}", reconnect=gun.reconnect, rejoin=rejoin)


def open_smp_target(url: str, *, baud: int | None = None) -> SMPTarget:
    """The standard SMP serial endpoint ``smp-serial://PATH[?baud=N]`` (``PATH`` a device path) through smpclient's
    ``SMPSerialTransport`` (buffer sized from the device's MCUmgr params); ``baud`` overrides the URL's.
    :class:`ParameterError` naming the URL for anything else."""
    from smpclient.transport.serial import Auto, SMPSerialTransport  # pyserial: only for this endpoint

    from mesogun.transports.serial import BAUDRATE, check_baudrate

    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme.lower() != SMP_SERIAL_SCHEME or not parts.path or parts.netloc:
        raise ParameterError(
            f"url={url!r} is not a standard SMP endpoint (smp-serial:///dev/ttyACM0?baud=115200: a device path)",
            field="url",
            value=url,
        )
    query = parse_qs(parts.query)
    given = query.get("baud", [None])[-1]
    if baud is None and given is not None:
        if not given.isdigit():
            raise ParameterError(f"baud={given!r} in {url} is not a whole number of baud", field="baud", value=given)
        baud = int(given)
    rate = check_baudrate(BAUDRATE if baud is None else baud)
    transport = SMPSerialTransport(Auto(), baudrate=rate, timeout=0)
    return SMPTarget(transport, parts.path, url, baud=rate)
