"""Incremental stream decoder: bytes in, in chunks of any size; whole frames out; never raises.

Contract (after pymodbus' framers): :meth:`StreamDecoder.feed` takes any bytes and returns the frames
completed by them. Hunting rules:

* bytes before the first delimiter, and any run between delimiters that is not a valid frame, are
  dropped and counted (by the reason of the :class:`~firmware_protocol.errors.FrameError`);
* a run longer than :data:`~firmware_protocol.framing.MAX_ENCODED` without a delimiter is dropped as
  ``oversize`` as soon as it gets that long, so memory stays bounded on a line of noise;
* because every frame starts with a delimiter, a valid frame that follows garbage is always decoded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cobs import cobs

from firmware_protocol.errors import FrameError
from firmware_protocol.framing import DELIMITER, MAX_ENCODED, Frame, parse_body


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
    """Turns a byte stream into :class:`Frame` objects, counting what it drops in :attr:`stats`."""

    def __init__(self) -> None:
        self.stats = DecoderStats()
        self._pending = bytearray()
        self._synced = False  # True once a delimiter was seen: _pending is then a frame candidate

    def feed(self, data: bytes) -> list[Frame]:
        """Take the next chunk of the stream; return the frames it completed, in order."""
        stats = self.stats
        stats.bytes_in += len(data)
        frames: list[Frame] = []
        pending = self._pending
        start = 0
        while True:
            end = data.find(DELIMITER, start)
            if end < 0:
                break
            if pending:
                pending += data[start:end]
                run = bytes(pending)
                pending.clear()
            else:
                run = data[start:end]
            start = end + 1
            if not self._synced:
                stats.garbage_bytes += len(run)
                self._synced = True
                continue
            if run:
                frame = self._decode_run(run)
                if frame is not None:
                    frames.append(frame)
        if start < len(data):
            pending += data[start:]
            if len(pending) > MAX_ENCODED:
                if self._synced:
                    stats.oversize += 1
                else:
                    stats.garbage_bytes += len(pending)
                pending.clear()
                self._synced = False
        return frames

    def _decode_run(self, run: bytes) -> Frame | None:
        stats = self.stats
        try:
            body = cobs.decode(run)
        except cobs.DecodeError:
            stats.garbage_bytes += len(run)
            return None
        try:
            frame = parse_body(body)
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
        """Bytes held waiting for a delimiter."""
        return len(self._pending)
