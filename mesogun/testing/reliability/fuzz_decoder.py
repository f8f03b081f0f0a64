"""Fuzz the stream decoder and message decoding: no exception but the documented ones, chunking-independent.

The input is read as a little program (:func:`build_stream`) that mixes raw noise, intact frames (random
headers and payloads, and real session messages), damaged frames and oversize runs, so random bytes reach
deep states. What must hold for every input:

* :class:`~firmware_protocol.StreamDecoder` never raises, buffers at most ``MAX_ENCODED`` bytes, and gives
  the same frames and counters however the stream is chunked;
* every intact frame put in the stream comes out (in order), whatever garbage precedes it;
* ``decode_frame`` raises only ``FrameError``; ``decode_message`` only ``MessageError``; a message that
  decodes survives encode → decode and JSON → message unchanged.

The campaign: ``python -m benchmarks.reliability.fuzz_decoder --seconds 600``.
"""

from __future__ import annotations

from firmware_protocol import (
    FrameError,
    MessageError,
    StreamDecoder,
    decode_frame,
    decode_message,
    encode_frame,
    encode_message,
    from_json,
    to_json,
)
from firmware_protocol.framing import MAX_ENCODED, MAX_PAYLOAD, Frame
from mesogun.testing.reliability.common import ByteSource
from mesogun.testing.reliability.traffic import sample_frames, session_bytes

MAX_OPS = 64


def build_stream(src: ByteSource) -> tuple[bytes, list[Frame]]:
    """The byte stream an input describes, and the intact frames in it (in order)."""
    samples = sample_frames()
    out = bytearray()
    intact: list[Frame] = []
    for _ in range(MAX_OPS):
        if src.exhausted:
            break
        op = src.below(6)
        if op == 0:  # raw noise (may contain delimiters)
            out += src.take(src.below(64))
        elif op in (1, 2):  # an intact frame: random header and payload, or a real message with a new seq
            if op == 1:
                length = src.below(48) if src.below(16) else src.below(MAX_PAYLOAD + 1)
                frame = Frame(src.uint(1), src.uint(2), bytes(src.take(length)).ljust(length, b"\x00"), src.uint(1))
                frame = Frame(frame.msg_type, frame.seq, frame.payload, frame.flags, src.uint(1))
            else:
                base = samples[src.below(len(samples))]
                frame = Frame(base.msg_type, src.uint(2), base.payload, base.flags, base.version)
            out += encode_frame(frame)
            intact.append(frame)
        elif op == 3:  # a damaged frame: cut, a byte changed, dropped or inserted
            base = samples[src.below(len(samples))]
            wire = bytearray(encode_frame(base))
            where = src.below(len(wire))
            how = src.below(4)
            if how == 0:
                del wire[where:]
            elif how == 1:
                wire[where] ^= src.uint(1) or 1
            elif how == 2:
                del wire[where]
            else:
                wire.insert(where, src.uint(1))
            out += wire
        elif op == 4:  # a run longer than any frame, without a delimiter
            out += bytes((src.uint(1) or 1) for _ in range(1)) * (MAX_ENCODED + src.below(300))
        else:  # a slice of real session traffic
            chunks = session_bytes()[src.below(2)]
            out += chunks[src.below(len(chunks))]
    return bytes(out), intact


def feed_chunked(stream: bytes, sizes: bytes) -> tuple[list[Frame], dict[str, int], int]:
    """Feed ``stream`` in chunks whose sizes cycle through ``sizes`` (1..256); frames, stats, max buffered."""
    decoder = StreamDecoder()
    frames: list[Frame] = []
    peak = 0
    pos, i = 0, 0
    while pos < len(stream):
        n = (sizes[i % len(sizes)] if sizes else 0) + 1
        i += 1
        frames += decoder.feed(stream[pos : pos + n])
        pos += n
        peak = max(peak, decoder.buffered)
    return frames, decoder.stats.as_dict(), peak


def is_subsequence(needles: list[Frame], haystack: list[Frame]) -> bool:
    """Whether ``needles`` occur in ``haystack`` in order (other frames may come between)."""
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


def check_message(frame: Frame) -> None:
    """Decode one frame's message; a message that decodes must survive a re-encode and a JSON round trip."""
    try:
        message = decode_message(frame)
    except MessageError:
        return
    again = decode_message(encode_message(message))
    if again != message:
        raise AssertionError(f"re-encoding changed the message: {message} -> {again}")
    via_json = from_json(to_json(message))
    if via_json != message:
        raise AssertionError(f"the JSON round trip changed the message: {message} -> {via_json}")


def target(data: bytes) -> None:
    """One fuzz input: the raw bytes and the stream they describe, each decoded whole and in chunks."""
    src = ByteSource(data)
    sizes = src.take(src.below(8))
    stream, intact = build_stream(src)
    for candidate in (data, stream):
        whole = StreamDecoder()
        frames = whole.feed(candidate)
        chunked, stats, peak = feed_chunked(candidate, sizes)
        if chunked != frames or stats != whole.stats.as_dict():
            raise AssertionError(f"chunking changed the result: {whole.stats.as_dict()} vs {stats}")
        if peak > MAX_ENCODED or whole.buffered > MAX_ENCODED:
            raise AssertionError(f"decoder buffered {max(peak, whole.buffered)} bytes > {MAX_ENCODED}")
        if whole.stats.frames != len(frames):
            raise AssertionError("stats.frames disagrees with the frames returned")
        for frame in frames:
            check_message(frame)
    if not is_subsequence(intact, StreamDecoder().feed(stream)):
        raise AssertionError("an intact frame in the stream was not decoded")
    try:
        frame = decode_frame(data)
    except FrameError:
        return
    check_message(frame)


def seeds() -> list[bytes]:
    """Starting corpus: the real session's chunks, both directions."""
    host, device = session_bytes()
    return [*host, *device, b"".join(host), b"".join(device)]
