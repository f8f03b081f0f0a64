"""Frame trace (``mesogun --trace``): a transport wrapper that shows every frame sent and received, decoded.

Like pyserial's ``spy://``, but one protocol frame per line instead of raw bytes::

    trace   0.001234 → hello seq=40961 protocol_version=1 fingerprint=2864434397
    trace   0.003410 ← identity seq=40961 [reply] model="MG-1" serial_number="SIM0001" …
    trace   0.250012 → heartbeat seq=40963
    trace   0.251877 ← 8a 02 ff 00 13  (not a frame: CRC mismatch: …)

The time is seconds since the trace started (the host's monotonic clock). Each direction is cut into frames
at the protocol's 0x00 delimiter and decoded with :func:`firmware_protocol.decode_frame` and
:func:`firmware_protocol.decode_message`, independently of the link: what the trace shows is what was on
the wire, heartbeats included, and a run of bytes that does not decode is shown as hex with the reason.
Wrapping the transport (not the link) keeps tracing in one place and sees every link the session makes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from firmware_protocol import Flag, ProtocolError, decode_frame, decode_message, to_json
from firmware_protocol.framing import DELIMITER, MAX_ENCODED
from mesogun.errors import ConnectionLost
from mesogun.transports.base import Receiver, Transport

SENT = "→"
RECEIVED = "←"
HEX_SHOWN = 48
"""Bytes of an undecodable run shown in hex (the rest is counted, not shown)."""


def describe_frame(run: bytes) -> str:
    """One frame's bytes (between delimiters) as ``name seq=N [flags] field=value …``, or hex with the reason."""
    try:
        message = decode_message(decode_frame(run))
    except ProtocolError as exc:
        shown = run[:HEX_SHOWN].hex(" ")
        more = f" … ({len(run)} bytes)" if len(run) > HEX_SHOWN else ""
        return f"{shown}{more}  (not a message: {exc})"
    flags = [flag.name.lower() for flag in (Flag.RETRY, Flag.REPLY) if flag.name and message.flags & flag]
    fields = {k: v for k, v in to_json(message).items() if k not in ("type", "seq", "flags")}
    parts = [message.name, f"seq={message.seq}", *(f"[{name}]" for name in flags)]
    parts += [f"{key}={_value(value)}" for key, value in fields.items()]
    return " ".join(parts)


def _value(value: object) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else json.dumps(value)


class FrameSplitter:
    """Cuts one direction's byte stream into the runs between delimiters (any chunking gives the same runs)."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The runs ``data`` completed; a run longer than any frame is given up as it is (memory stays bounded)."""
        *complete, rest = data.split(DELIMITER)
        runs: list[bytes] = []
        for piece in complete:
            runs.append(bytes(self._pending) + piece)
            self._pending.clear()
        self._pending += rest
        if len(self._pending) > MAX_ENCODED:
            runs.append(bytes(self._pending))
            self._pending.clear()
        return [run for run in runs if run]


class TracingTransport(Transport):
    """``inner`` with every frame in either direction described to ``emit``, one line each."""

    def __init__(
        self, inner: Transport, emit: Callable[[str], None], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.inner = inner
        self._emit = emit
        self._clock = clock
        self._start = clock()
        self._sent = FrameSplitter()
        self._received = FrameSplitter()

    @property
    def url(self) -> str:
        """The wrapped transport's URL (it may change when a replugged gun is found under another path)."""
        return self.inner.url

    @url.setter
    def url(self, value: str) -> None:
        self.inner.url = value

    def _line(self, arrow: str, text: str) -> None:
        self._emit(f"trace {self._clock() - self._start:10.6f} {arrow} {text}")

    def _trace(self, arrow: str, splitter: FrameSplitter, data: bytes) -> None:
        for run in splitter.feed(data):
            self._line(arrow, describe_frame(run))

    def _trace_in(self, data: bytes | ConnectionLost) -> None:
        if isinstance(data, ConnectionLost):
            self._line(RECEIVED, f"connection lost: {data}")
        elif not data:
            self._line(RECEIVED, "end of stream")
        else:
            self._trace(RECEIVED, self._received, data)

    async def open(self) -> None:
        """Open the wrapped transport and say so."""
        await self.inner.open()
        self._line("·", f"opened {self.url}")

    async def read(self) -> bytes:
        """The wrapped transport's next bytes, traced."""
        try:
            data = await self.inner.read()
        except ConnectionLost as exc:
            self._trace_in(exc)
            raise
        self._trace_in(data)
        return data

    async def write(self, data: bytes) -> None:
        """Write through the wrapped transport; the frames are traced once written."""
        try:
            await self.inner.write(data)
        except ConnectionLost as exc:
            self._line(SENT, f"write failed: {exc}")
            raise
        self._trace(SENT, self._sent, data)

    async def close(self) -> None:
        """Close the wrapped transport."""
        await self.inner.close()

    def set_receiver(self, receiver: Receiver | None) -> bool:
        """Push through the wrapped transport, tracing each chunk before ``receiver`` gets it."""
        if receiver is None:
            return self.inner.set_receiver(None)

        def traced(data: bytes | ConnectionLost) -> None:
            self._trace_in(data)
            receiver(data)

        return self.inner.set_receiver(traced)

    async def reopen(self, serial_number: str) -> None:
        """Reopen the wrapped transport (same gun, maybe a new path) and say so."""
        await self.inner.reopen(serial_number)
        self._sent, self._received = FrameSplitter(), FrameSplitter()
        self._line("·", f"reopened {self.url}")
