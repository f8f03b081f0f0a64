"""The simulated gun's standard SMP serial endpoint: SMP over a console line, as Zephyr's UART transport frames it
and `smpclient`'s ``SMPSerialTransport`` expects (issue 17, item 4).

A request arrives as lines: the first starts with 0x06 0x09, each continuation with 0x04 0x14, each ends with a
newline; the base64 text of all lines decodes to a big-endian u16 length, the SMP frame and its CRC16/XMODEM
(:mod:`smp.packet`). The frame goes to the gun's SMP server (:meth:`sims.firmware.FirmwareUpdate.handle_smp`,
shared with the family messages) and the response goes back framed the same way, in lines of
:data:`LINE_LENGTH` bytes. Other bytes on the line (a console's text) are ignored; a line that does not decode
(bad base64, bad CRC, a frame larger than ``buf_size``) drops the request, as the server would.

:class:`SmpSerialEndpoint` is a line device (``attach``/``detach``/``receive``), served in process or on a pty
(:func:`serve_on_pty`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import Callable, Generator

from smp import packet as smppacket

from sims.device import SimulatedGun
from sims.flash import PowerCut
from sims.impairments import ImpairedPipe, Impairments, make_rng
from sims.serving import open_pty

DEFAULT_BUF_SIZE = 1024
"""The decoded frame buffer the endpoint reports in its MCUmgr parameters (Zephyr's
CONFIG_MCUMGR_TRANSPORT_NETBUF_SIZE, set up from its 384-byte default as a quick UART setup does): requests of up
to ``buf_size`` − 4 bytes (the length and CRC share it)."""
LINE_LENGTH = 128
"""Bytes per line the endpoint writes (the SMP serial convention)."""
_FRAME_OVERHEAD = 4
_LINE_LIMIT = 4096
"""Longest line kept while waiting for its newline (longer: garbage, dropped)."""


class SmpSerialEndpoint:
    """The standard SMP serial endpoint of one simulated gun (``buf_size``: its reported reassembly buffer)."""

    def __init__(self, gun: SimulatedGun, *, buf_size: int = DEFAULT_BUF_SIZE) -> None:
        self._gun = gun
        self.buf_size = buf_size
        self._send: Callable[[bytes], None] | None = None
        self._line = bytearray()
        self._frame: bytearray | None = None
        self._expected = 0
        self.dropped = 0
        """Requests dropped because a line did not decode."""

    def attach(self, send: Callable[[bytes], None]) -> None:
        """Responses go to ``send`` from now on."""
        self._send = send

    def detach(self) -> None:
        """Nobody listens: responses are lost."""
        self._send = None

    def receive(self, data: bytes) -> None:
        """Bytes from the host, in any chunking."""
        for byte in data:
            self._line.append(byte)
            if byte == 0x0A:
                line, self._line = bytes(self._line), bytearray()
                self._on_line(line)
            elif len(self._line) > _LINE_LIMIT:
                self._line.clear()

    def _on_line(self, line: bytes) -> None:
        start = line.find(smppacket.START_DELIMITER)
        more = line.find(smppacket.CONTINUE_DELIMITER)
        if start >= 0 and (more < 0 or start < more):
            self._frame, self._expected = bytearray(), 0
            text = line[start + 2 : -1]
        elif more >= 0 and self._frame is not None:
            text = line[more + 2 : -1]
        else:
            return  # console text, or a continuation without its start
        try:
            self._frame.extend(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            self._drop()
            return
        if not self._expected and len(self._frame) >= 2:
            self._expected = 2 + int.from_bytes(self._frame[:2], "big")
            if self._expected - 2 > self.buf_size:
                self._drop()
                return
        if self._expected and len(self._frame) >= self._expected:
            body = bytes(self._frame[2 : self._expected])
            self._frame = None
            request, crc = body[:-2], int.from_bytes(body[-2:], "big")
            if len(body) < 2 or smppacket.crc16_func(request) != crc:
                self.dropped += 1
                return
            self._answer(request)

    def _drop(self) -> None:
        self._frame = None
        self.dropped += 1

    def _answer(self, request: bytes) -> None:
        try:
            response = self._gun.firmware.handle_smp(request, buf_size=self.buf_size)
        except PowerCut:  # the supply failed mid-request: no answer; the gun powers on again
            self._gun.firmware.power_cuts += 1
            self._gun.power_cycle()
            return
        if self._send is not None:
            for line in encode(response):
                self._send(line)


def encode(frame: bytes) -> Generator[bytes, None, None]:
    """``frame`` as SMP console lines (:func:`smp.packet.encode` at :data:`LINE_LENGTH`)."""
    yield from smppacket.encode(frame, line_length=LINE_LENGTH)


class PtyEndpoint:
    """An endpoint served on a new raw pty: open :attr:`path` with any serial client; :meth:`close` when done.

    Bytes cross the line as the gun's own serial line carries them (:class:`~sims.impairments.ImpairedPipe` both
    ways): ``impairments.baud`` paces them at 10/baud s a byte (a UART's rate), latency, drop and corruption as
    for ``mesogun sim``; all zero (the default), they pass at once."""

    def __init__(
        self, endpoint: SmpSerialEndpoint, impairments: Impairments | None = None, seed: int | None = None
    ) -> None:
        import asyncio

        self._endpoint = endpoint
        self._master, self._slave, self.path = open_pty()
        os.set_blocking(self._master, False)
        self._loop = asyncio.get_running_loop()
        line = impairments if impairments is not None else Impairments()
        self._to_device = ImpairedPipe(endpoint.receive, line, make_rng(seed, "smp-h2d"), self._loop)
        self._to_host = ImpairedPipe(self._write, line, make_rng(seed, "smp-d2h"), self._loop)
        endpoint.attach(self._to_host.send)
        self._loop.add_reader(self._master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except OSError:
            return
        if data:
            self._to_device.send(data)

    def _write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):  # like a UART nobody listens to: lost
            os.write(self._master, data)

    def close(self) -> None:
        """Stop serving and close the pty."""
        self._loop.remove_reader(self._master)
        self._endpoint.detach()
        self._to_device.close()
        self._to_host.close()
        for fd in (self._slave, self._master):
            with contextlib.suppress(OSError):
                os.close(fd)


def serve_on_pty(
    gun: SimulatedGun,
    *,
    buf_size: int = DEFAULT_BUF_SIZE,
    impairments: Impairments | None = None,
    seed: int | None = None,
) -> PtyEndpoint:
    """The gun's standard SMP serial endpoint on a new pty (on the running loop), over a line with
    ``impairments`` (``baud``: the line's rate; default: none)."""
    return PtyEndpoint(SmpSerialEndpoint(gun, buf_size=buf_size), impairments, seed)
