"""Incremental stream decoder: bytes in, in chunks of any size; whole frames out; never raises.

Contract (after pymodbus' framers): :meth:`StreamDecoder.feed` takes any bytes and returns the frames
completed by them. Hunting rules:

* bytes before the first delimiter, and any run between delimiters that is not a valid frame, are
  dropped and counted (by the reason of the :class:`~firmware_protocol.errors.FrameError`);
* a run longer than :data:`~firmware_protocol.framing.MAX_ENCODED` without a delimiter is dropped as
  ``oversize`` as soon as it gets that long (the rest of it, up to the next delimiter, with it), so memory
  stays bounded on a line of noise;
* a run cut short (its COBS ends mid-block, or it holds fewer bytes than its header declares) counts as
  ``truncated`` when at least its header arrived; a run too mangled to show a header counts as garbage;
* because every frame starts with a delimiter, a valid frame that follows garbage is always decoded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from firmware_protocol.errors import FrameError
from firmware_protocol.framing import DELIMITER, MAX_ENCODED, Frame, parse_body, unstuff


@dataclass
class DecoderStats:
    """What the decoder accepted and what it dropped, by reason."""

    frames: int = 0
    """Valid frames decoded."""
    bytes_in: int = 0
    """All bytes fed."""
    garbage_bytes: int = 0
    """Bytes dropped that were not COBS frames at all (noise, a frame whose head was lost)."""
    crc_errors: int = 0
    """Frames dropped because their CRC did not match."""
    truncated: int = 0
    """Frames dropped because they were shorter than their header says."""
    bad_length: int = 0
    """Frames dropped because their length field was absurd or disagreed with the bytes received."""
    oversize: int = 0
    """Runs dropped for growing past the largest possible frame without a delimiter."""

    @property
    def dropped(self) -> int:
        """Frames and runs dropped for any reason (garbage bytes not included)."""
        return self.crc_errors + self.truncated + self.bad_length + self.oversize

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict (for JSON summaries)."""
        return asdict(self)


class StreamDecoder:
    """Turns a byte stream into :class:`Frame` objects, counting what it drops in :attr:`stats`.

    The frames returned and every counter are the same however the stream is cut into chunks.
    """

    def __init__(self) -> None:
        self.stats = DecoderStats()
        self._pending = bytearray()
        self._synced = False  # True once a delimiter was seen: _pending is then a frame candidate
        self._overflowed = False  # the current run grew past MAX_ENCODED: drop it up to the next delimiter

    def feed(self, data: bytes) -> list[Frame]:
        """Take the next chunk of the stream; return the frames it completed, in order."""
        self.stats.bytes_in += len(data)
        frames: list[Frame] = []
        start = 0
        while True:
            end = data.find(DELIMITER, start)
            if end < 0:
                break
            if self._pending or self._overflowed:
                self._take(data[start:end])
                run = bytes(self._pending)
                self._pending.clear()
            else:
                run = data[start:end]
            start = end + 1
            if not run and self._synced and not self._overflowed:  # the empty run between two delimiters
                continue
            frame = self._end_run(run)
            if frame is not None:
                frames.append(frame)
        if start < len(data):
            self._take(data[start:])
        return frames

    def _take(self, chunk: bytes) -> None:
        """Append bytes of the current run, dropping the run once it is longer than any frame can be."""
        if self._overflowed:
            if not self._synced:
                self.stats.garbage_bytes += len(chunk)
            return
        pending = self._pending
        pending += chunk
        if len(pending) > MAX_ENCODED:
            if self._synced:
                self.stats.oversize += 1
            else:
                self.stats.garbage_bytes += len(pending)
            pending.clear()
            self._overflowed = True

    def _end_run(self, run: bytes) -> Frame | None:
        """A delimiter arrived: classify the run before it; return its frame if it is a valid one."""
        stats = self.stats
        if self._overflowed:
            self._overflowed = False
            self._synced = True
            return None
        if not self._synced:
            stats.garbage_bytes += len(run)
            self._synced = True
            return None
        if not run:
            return None
        if len(run) > MAX_ENCODED:
            stats.oversize += 1
            return None
        try:
            frame = parse_body(unstuff(run))
        except FrameError as exc:
            if exc.counter == "garbage_bytes":
                stats.garbage_bytes += len(run)
            else:
                setattr(stats, exc.counter, getattr(stats, exc.counter) + 1)
            return None
        stats.frames += 1
        return frame

    @property
    def buffered(self) -> int:
        """Bytes held waiting for a delimiter (never more than the longest possible frame)."""
        return len(self._pending)
