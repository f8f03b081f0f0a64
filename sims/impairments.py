"""Link impairments: one direction of a serial line as a byte pipe that takes time and damages bytes.

Each byte takes 10/baud s on the line (start + 8 data + stop bits), chunks queue behind each other,
then a fixed latency is added. Bytes are dropped or corrupted (XOR with a random non-zero value) with
the given probabilities, from a seedable RNG; split writes deliver each chunk in random 1–16-byte
pieces, each when its last byte arrives. Everything runs on the event loop's clock (``call_at``).

A line is first in, first out: pieces wait in one queue behind one timer, so two pieces due at the same
instant arrive in the order they were sent. (One timer per piece would not do: the loop's timer heap does not
keep the order of equal deadlines, and on looptime's 1 µs grid equal deadlines are common, e.g. a periodic
status and the reply to a command that arrived on the same tick.)
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

SPLIT_MAX = 16
"""Largest piece a split write delivers at once."""


@dataclass(frozen=True)
class Impairments:
    """What the line does to bytes. All zero: a perfect, instantaneous line."""

    baud: int = 0
    """Line speed in bit/s (10 bits per byte); 0: no line time."""
    latency_ms: float = 0.0
    """Added one-way delay."""
    drop: float = 0.0
    """Probability that a byte is lost."""
    corrupt: float = 0.0
    """Probability that a byte is changed."""
    split_writes: bool = False
    """Deliver each write in random pieces (exercises partial-frame handling)."""

    @property
    def byte_time_s(self) -> float:
        """Line time of one byte."""
        return 10.0 / self.baud if self.baud else 0.0


@dataclass
class PipeStats:
    """What one direction of the line did."""

    bytes_in: int = 0
    bytes_out: int = 0
    dropped: int = 0
    corrupted: int = 0


class ImpairedPipe:
    """One direction of the line: :meth:`send` bytes now, ``sink`` gets them (maybe damaged) later."""

    def __init__(
        self,
        sink: Callable[[bytes], None],
        impairments: Impairments,
        rng: random.Random,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._sink = sink
        self.impairments = impairments
        self._rng = rng
        self._loop = loop
        self._free_at = 0.0
        self._in_flight: deque[tuple[float, bytes]] = deque()
        """Pieces on the line, oldest first, with the loop time each is due (non-decreasing)."""
        self._timer: asyncio.TimerHandle | None = None
        """The one timer, due when the oldest piece in flight is."""
        self.closed = False
        self.stats = PipeStats()

    def send(self, data: bytes) -> None:
        """Put ``data`` on the line (returns at once, like a write into a UART buffer)."""
        if self.closed or not data:
            return
        imp = self.impairments
        self.stats.bytes_in += len(data)
        data = self._damage(data)
        pieces = self._split(data) if imp.split_writes else [data]
        now = self._loop.time()
        start = max(now, self._free_at)
        latency = imp.latency_ms / 1000
        for piece in pieces:
            start += len(piece) * imp.byte_time_s
            self._deliver_at(start + latency, piece)
        self._free_at = start

    def _damage(self, data: bytes) -> bytes:
        imp = self.impairments
        if not imp.drop and not imp.corrupt:
            return data
        rng = self._rng
        out = bytearray()
        for byte in data:
            if imp.drop and rng.random() < imp.drop:
                self.stats.dropped += 1
                continue
            if imp.corrupt and rng.random() < imp.corrupt:
                byte ^= rng.randrange(1, 256)
                self.stats.corrupted += 1
            out.append(byte)
        return bytes(out)

    def _split(self, data: bytes) -> list[bytes]:
        pieces = []
        i = 0
        while i < len(data):
            n = self._rng.randint(1, SPLIT_MAX)
            pieces.append(data[i : i + n])
            i += n
        return pieces

    def _deliver_at(self, when: float, piece: bytes) -> None:
        if not piece:
            return
        if when <= self._loop.time() and not self._in_flight:
            self._deliver(piece)
            return
        self._in_flight.append((when, piece))
        if self._timer is None:
            self._schedule()

    def _schedule(self) -> None:
        when = self._in_flight[0][0]
        self._timer = self._loop.call_at(when, self._deliver_due, when)

    def _deliver_due(self, due: float) -> None:
        """The oldest piece is due (its timer fired): deliver it and every later one due by now, in order."""
        self._timer = None
        now = max(due, self._loop.time())
        while self._in_flight and self._in_flight[0][0] <= now and not self.closed:
            self._deliver(self._in_flight.popleft()[1])
        if self._in_flight and self._timer is None and not self.closed:
            self._schedule()

    def _deliver(self, piece: bytes) -> None:
        if self.closed:
            return
        self.stats.bytes_out += len(piece)
        self._sink(piece)

    def close(self) -> None:
        """Cut the line: bytes in flight are lost, later sends are ignored."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._in_flight.clear()


def make_rng(seed: int | None, stream: str) -> random.Random:
    """An RNG for one impairment stream; the same seed gives the same damage on every run."""
    return random.Random(f"{seed}:{stream}") if seed is not None else random.Random()
