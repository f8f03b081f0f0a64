"""The stream decoder under faults: bit flips, garbage, truncation, absurd lengths, oversize runs, any
chunking. Each test names the fault and what must still hold; the decoder must never raise."""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Sequence

from cobs import cobs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from firmware_protocol import DecoderStats, Frame, StreamDecoder, decode_frame, encode_frame
from firmware_protocol.framing import HEADER_SIZE, MAX_ENCODED, MAX_PAYLOAD

QUICK = settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])


def feed_in_chunks(data: bytes, cuts: Sequence[int] = ()) -> tuple[list[Frame], StreamDecoder]:
    """Feed ``data`` cut at the given offsets; return the frames in order and the decoder."""
    decoder = StreamDecoder()
    frames: list[Frame] = []
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
    for start, end in itertools.pairwise(bounds):
        frames += decoder.feed(data[start:end])
        assert decoder.buffered <= MAX_ENCODED
    return frames, decoder


def feed_bytewise(data: bytes) -> tuple[list[Frame], StreamDecoder]:
    """Feed ``data`` one byte at a time."""
    return feed_in_chunks(data, range(1, len(data)))


def cut_points(data: bytes) -> st.SearchStrategy[list[int]]:
    """Random places to split ``data`` into chunks."""
    return st.lists(st.integers(1, max(1, len(data) - 1)), max_size=12)


def _raw_body(msg_type: int, seq: int, length_field: int, payload: bytes) -> bytes:
    body = struct.pack("<BBHBH", 1, msg_type, seq, 0, length_field) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def _frames_in(garbage: bytes) -> list[Frame]:
    return StreamDecoder().feed(b"\x00" + garbage + b"\x00")


# ---------------------------------------------------------------------------------------------------
# Single-bit flips


def _check_flip(before: Frame, damaged_wire: bytes, original: Frame, after: Frame, in_delimiter: bool) -> None:
    stream = encode_frame(before) + damaged_wire + encode_frame(after)
    frames, decoder = feed_in_chunks(stream)
    assert frames[0] == before and frames[-1] == after, "a flip in one frame cost a neighbouring frame"
    middle = frames[1:-1]
    if in_delimiter:
        # The frame's own bytes are intact: it may still arrive, but only exactly as sent.
        assert middle in ([], [original])
    else:
        assert middle == [], f"a frame with a flipped bit was accepted: {middle}"
    if not middle:
        stats = decoder.stats
        assert stats.dropped + stats.garbage_bytes > 0, "the damaged frame was dropped without being counted"


def test_single_bit_flip_anywhere_in_real_frames_is_never_accepted(sample_wires: list[bytes]) -> None:
    """Fault: every single-bit flip, exhaustively, of real frames (delimiters included).
    Must hold: the damaged frame never comes out altered; the frames around it still come out."""
    before, after = Frame(0x02, 1), Frame(0x03, 2)
    for wire in sample_wires:
        original = decode_frame(wire)
        for index in range(len(wire)):
            for bit in range(8):
                damaged = bytearray(wire)
                damaged[index] ^= 1 << bit
                in_delimiter = index in (0, len(wire) - 1)
                _check_flip(before, bytes(damaged), original, after, in_delimiter)


@QUICK
@given(data=st.data())
def test_single_bit_flip_of_any_frame_is_never_accepted(
    data: st.DataObject, frame_strategy: st.SearchStrategy[Frame]
) -> None:
    """Fault: one bit flipped anywhere in a random valid frame. Must hold: as above, for any frame."""
    original = data.draw(frame_strategy)
    wire = bytearray(encode_frame(original))
    index = data.draw(st.integers(0, len(wire) - 1))
    wire[index] ^= 1 << data.draw(st.integers(0, 7))
    _check_flip(Frame(0x02, 1), bytes(wire), original, Frame(0x03, 2), index in (0, len(wire) - 1))


# ---------------------------------------------------------------------------------------------------
# Garbage between frames, any chunking


@st.composite
def garbage(draw: st.DrawFn, wires: Sequence[bytes]) -> bytes:
    """Noise that looks like the protocol: random bytes, 0x00 runs, and slices of real frames and headers."""
    pieces = st.one_of(
        st.binary(max_size=40),
        st.binary(max_size=4).map(lambda b: b"\x00" + b + b"\x00"),
        st.integers(1, 4).map(lambda n: b"\x00" * n),
        st.sampled_from(list(wires)).flatmap(
            lambda w: st.tuples(st.integers(0, len(w) - 1), st.integers(1, len(w) - 1)).map(
                lambda ab: w[min(ab) : max(ab)]
            )
        ),
        st.sampled_from(list(wires)).map(lambda w: w[: 1 + HEADER_SIZE]),
    )
    result = b"".join(draw(st.lists(pieces, max_size=5)))
    assume(not _frames_in(result))  # a slice could be a whole frame, which would rightly come out
    return result


@QUICK
@given(data=st.data())
def test_valid_frames_interleaved_with_garbage_all_come_out_exactly_and_in_order(
    data: st.DataObject, frame_strategy: st.SearchStrategy[Frame], sample_wires: list[bytes]
) -> None:
    """Fault: garbage (zeros, header look-alikes, slices of real frames) before, between and after frames,
    fed in random chunks. Must hold: every frame comes out, once, unchanged, in order."""
    sent = data.draw(st.lists(frame_strategy, min_size=1, max_size=6))
    noise = garbage(sample_wires)
    stream = data.draw(noise) + b"".join(encode_frame(f) + data.draw(noise) for f in sent)
    frames, decoder = feed_in_chunks(stream, data.draw(cut_points(stream)))
    assert frames == sent
    assert decoder.stats.frames == len(sent)


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_frames_interleaved_with_garbage_come_out_when_fed_one_byte_at_a_time(
    data: st.DataObject, frame_strategy: st.SearchStrategy[Frame], sample_wires: list[bytes]
) -> None:
    """Fault: as above, with the stream fed one byte at a time. Must hold: the same frames come out."""
    sent = data.draw(st.lists(frame_strategy, min_size=1, max_size=4))
    noise = garbage(sample_wires)
    stream = data.draw(noise) + b"".join(encode_frame(f) + data.draw(noise) for f in sent)
    frames, _ = feed_bytewise(stream)
    assert frames == sent


@QUICK
@given(data=st.data())
def test_frames_and_counters_do_not_depend_on_how_the_stream_is_chunked(
    data: st.DataObject, frame_strategy: st.SearchStrategy[Frame], sample_wires: list[bytes]
) -> None:
    """Fault: the same bytes (frames, garbage, long runs) arrive in different chunkings. Must hold: the
    same frames and the same value in every counter."""
    pieces = st.one_of(
        frame_strategy.map(encode_frame),
        st.binary(max_size=30),
        st.sampled_from(sample_wires).map(lambda w: w[: len(w) // 2]),
        st.integers(MAX_ENCODED - 2, MAX_ENCODED + 40).map(lambda n: b"\x5a" * n),
    )
    stream = b"".join(data.draw(st.lists(pieces, max_size=6)))
    whole, whole_decoder = feed_in_chunks(stream)
    chunked, chunked_decoder = feed_in_chunks(stream, data.draw(cut_points(stream)))
    assert chunked == whole
    assert chunked_decoder.stats == whole_decoder.stats
    assert whole_decoder.stats.bytes_in == len(stream)


@QUICK
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise_and_are_all_accounted_for(data: bytes) -> None:
    """Fault: pure noise. Must hold: feed never raises and holds no more than one frame's worth."""
    frames, decoder = feed_in_chunks(data, range(0, len(data), 97))
    assert decoder.stats.bytes_in == len(data)
    assert all(isinstance(f, Frame) for f in frames)


def test_bytes_before_the_first_delimiter_are_counted_as_garbage() -> None:
    frames, decoder = feed_in_chunks(b"\x11\x22\x33" + encode_frame(Frame(0x15, 4, b"\x01")))
    assert frames == [Frame(0x15, 4, b"\x01")]
    assert decoder.stats.garbage_bytes == 3


# ---------------------------------------------------------------------------------------------------
# Truncated frames, absurd lengths, oversize runs


@QUICK
@given(data=st.data())
def test_truncated_frame_is_counted_as_truncated_and_the_next_frame_decodes(
    data: st.DataObject, frame_strategy: st.SearchStrategy[Frame]
) -> None:
    """Fault: a frame loses its tail (bytes dropped mid-frame), the next frame follows. Must hold: no
    exception, the cut frame is dropped and counted as truncated once its header arrived, the next
    frame comes out."""
    cut, following = data.draw(frame_strategy), data.draw(frame_strategy)
    wire = encode_frame(cut)
    kept = data.draw(st.integers(2, len(wire) - 2))  # the leading delimiter and at least one byte
    stream = wire[:kept] + encode_frame(following)
    frames, decoder = feed_in_chunks(stream, data.draw(cut_points(stream)))
    assert frames == [following]
    stats = decoder.stats
    if kept - 1 >= HEADER_SIZE + 1:  # COBS: n encoded bytes always hold at least n - 1 body bytes
        assert stats.truncated == 1
    else:
        assert stats.truncated + stats.garbage_bytes > 0
    assert stats.crc_errors == stats.bad_length == stats.oversize == 0


@QUICK
@given(
    length=st.integers(MAX_PAYLOAD + 1, 0xFFFF),
    payload=st.binary(max_size=40),
    following=st.builds(
        Frame, msg_type=st.integers(0, 255), seq=st.integers(0, 0xFFFF), payload=st.binary(max_size=20)
    ),
)
def test_absurd_length_field_is_counted_as_bad_length_never_raised(
    length: int, payload: bytes, following: Frame
) -> None:
    """Fault: a frame with a valid CRC whose length field is over the maximum. Must hold: counted in
    bad_length, not raised, and the next frame decodes."""
    stream = b"\x00" + cobs.encode(_raw_body(0x15, 1, length, payload)) + b"\x00" + encode_frame(following)
    frames, decoder = feed_bytewise(stream)
    assert frames == [following]
    assert decoder.stats.bad_length == 1


def test_length_field_disagreeing_with_the_bytes_received_is_counted_by_direction() -> None:
    """Fault: a length field one too small (bad_length) or one too large (truncated), CRC valid."""
    too_small = b"\x00" + cobs.encode(_raw_body(0x15, 1, 3, b"\x01\x02\x03\x04")) + b"\x00"
    too_large = b"\x00" + cobs.encode(_raw_body(0x15, 2, 5, b"\x01\x02\x03\x04")) + b"\x00"
    frames, decoder = feed_in_chunks(too_small + too_large)
    assert frames == []
    assert (decoder.stats.bad_length, decoder.stats.truncated) == (1, 1)


def test_crc_failure_is_counted_as_a_crc_error() -> None:
    wire = bytearray(encode_frame(Frame(0x15, 1, b"\x0a\x01\x02\x03")))
    wire[-2] ^= 0x80
    frames, decoder = feed_in_chunks(bytes(wire))
    assert frames == [] and decoder.stats.crc_errors == 1


@settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(MAX_ENCODED + 1, 3 * MAX_ENCODED),
    chunk=st.sampled_from([1, 7, 256, 100_000]),
    following=st.builds(
        Frame, msg_type=st.integers(0, 255), seq=st.integers(0, 0xFFFF), payload=st.binary(max_size=20)
    ),
)
def test_oversize_run_without_delimiter_is_dropped_counted_and_the_next_frame_decodes(
    size: int, chunk: int, following: Frame
) -> None:
    """Fault: a run longer than any frame with no delimiter (a stuck line). Must hold: memory stays
    bounded, the run is counted once as oversize whatever the chunk size, the next frame decodes."""
    stream = b"\x00" + b"\x7f" * size + encode_frame(following)
    frames, decoder = feed_in_chunks(stream, range(chunk, len(stream), chunk))
    assert frames == [following]
    assert decoder.stats.oversize == 1
    assert decoder.stats == DecoderStats(
        frames=1, bytes_in=len(stream), oversize=1, garbage_bytes=0, crc_errors=0, truncated=0, bad_length=0
    )
