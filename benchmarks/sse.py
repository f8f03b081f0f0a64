"""Reading a gun service's event stream (Server-Sent Events) as a client would, and tallying what arrived.

:func:`stream_lines` is the HTTP/1.1 client of the stream: a plain non-blocking socket whose options are set
*before* it connects (httpx sets them after: a receive buffer shrunk on a connected socket makes Linux prune
queued data and the sender back off for seconds), read only when the caller asks for more (no buffering in
between: a caller that stops reading leaves the bytes in the kernel, as a stalled tablet would), with ``h11``
(httpx's own HTTP/1.1 parser) for the response and its chunked body.

The framing is the W3C one the service sends: ``event: KIND`` and ``data: JSON`` lines, a blank line ending
each event, ``:`` lines being comments (keep-alives); it is a few lines, parsed by :class:`SseParser`. A
:class:`Tally` keeps what the load test checks: every shot's lifetime index in arrival order, and the
``missed`` events the service sent (with their counts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h11

Event = tuple[str, dict[str, Any]]
SocketOption = tuple[int, int, int]
READ_BYTES = 65536


class StreamRefused(RuntimeError):
    """The service answered the event stream's request with an error (the message has its body)."""


async def stream_lines(
    url: str, headers: Sequence[tuple[str, str]], socket_options: Sequence[SocketOption] = ()
) -> AsyncIterator[str]:
    """``GET url`` (an ``http://host:port/path?query``) and yield the body's lines, without line endings."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in (parts.hostname or "") else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        for option in socket_options:
            sock.setsockopt(*option)
        await loop.sock_connect(sock, (parts.hostname or "127.0.0.1", parts.port or 80))
        http = h11.Connection(h11.CLIENT)
        request = h11.Request(
            method="GET", target=target, headers=[("Host", parts.netloc), ("Accept", "text/event-stream"), *headers]
        )
        await loop.sock_sendall(sock, http.send(request) + (http.send(h11.EndOfMessage()) or b""))
        pending, status = b"", 0
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                http.receive_data(await loop.sock_recv(sock, READ_BYTES))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                if status != 200:
                    raise StreamRefused(f"GET {target} answered {status}: {bytes(event.data)[:500]!r}")
                pending += event.data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.rstrip(b"\r").decode()
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                if status != 200:
                    raise StreamRefused(f"GET {target} answered {status} with no body")
                return
    finally:
        with contextlib.suppress(OSError):
            sock.close()


class SseParser:
    """Turns the stream's lines into (kind, data) events; :meth:`line` returns one when a blank line ends it."""

    def __init__(self) -> None:
        self._kind = "message"
        self._data: list[str] = []

    def line(self, text: str) -> Event | None:
        """Feed one line (without its line ending); the event it completes, if any."""
        if not text:
            if not self._data:
                self._kind = "message"
                return None
            kind, data = self._kind, "\n".join(self._data)
            self._kind, self._data = "message", []
            return kind, json.loads(data)
        if text.startswith(":"):
            return None
        name, _, value = text.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._kind = value
        elif name == "data":
            self._data.append(value)
        return None


async def events_of(lines: AsyncIterable[str]) -> AsyncIterator[Event]:
    """The events in a stream of lines."""
    parser = SseParser()
    async for text in lines:
        event = parser.line(text)
        if event is not None:
            yield event


@dataclass
class Tally:
    """What one client received: shot indices in arrival order, ``missed`` events, the rest counted."""

    name: str
    shots: list[int] = field(default_factory=list)
    missed: int = 0
    """Events the service said it dropped for this client (the sum of its ``missed`` events' counts)."""
    missed_events: int = 0
    events: int = 0
    first_missed_at: float | None = None
    """``time.monotonic()`` when the first ``missed`` event arrived."""
    started: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the first event (the stream's opening status) arrived: the client is subscribed."""

    def add(self, kind: str, data: dict[str, Any]) -> None:
        """Count one event."""
        self.events += 1
        if kind == "shot":
            self.shots.append(int(data["index"]))
        elif kind == "missed":
            self.missed += int(data["count"])
            self.missed_events += 1
            if self.first_missed_at is None:
                self.first_missed_at = time.monotonic()
        self.started.set()


async def follow(lines: AsyncIterable[str], tally: Tally, resume: asyncio.Event | None = None) -> None:
    """Read events into ``tally`` until cancelled; with ``resume``, read the first one, then nothing until it is set
    (a client that stops reading: its socket and the service's buffers fill up)."""
    stream = events_of(lines)
    async for kind, data in stream:
        tally.add(kind, data)
        if resume is not None and not resume.is_set():
            await resume.wait()
