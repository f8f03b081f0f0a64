"""Framing: the CRC's catalogue check value, the construct declaration against the struct fast path, and
the single-frame decoder's errors."""

from __future__ import annotations

import struct
import zlib

import construct as cs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_protocol import (
    CRC_CHECK,
    CRC_NAME,
    MAX_PAYLOAD,
    BadLength,
    CobsError,
    CrcMismatch,
    Frame,
    FrameError,
    TruncatedFrame,
    crc32,
    decode_frame,
    encode_frame,
    make,
    to_wire,
)
from firmware_protocol.framing import FRAME, frame_body, parse_body

QUICK = settings(deadline=None, max_examples=200)


def _construct_build(frame: Frame) -> bytes:
    header = {
        "version": frame.version,
        "type": frame.msg_type,
        "seq": frame.seq,
        "flags": frame.flags,
        "length": len(frame.payload),
        "payload": frame.payload,
    }
    return bytes(FRAME.build({"body": {"value": header}}))


def test_crc_is_crc32_iso_hdlc_with_its_catalogue_check_value() -> None:
    assert CRC_NAME == "CRC-32/ISO-HDLC"
    assert crc32(b"123456789") == CRC_CHECK == 0xCBF43926


def test_worked_example_of_the_docs_and_readme_is_what_the_encoder_sends() -> None:
    """The fire frame quoted in README.md and docs/protocol.md, byte for byte."""
    assert to_wire(make("fire", seq=8, count=10)).hex() == "0004011508010204020a010105ea247a2400"


@QUICK
@given(
    frame=st.builds(
        Frame,
        msg_type=st.integers(0, 255),
        seq=st.integers(0, 0xFFFF),
        payload=st.binary(max_size=300),
        flags=st.integers(0, 255),
        version=st.integers(0, 255),
    )
)
def test_construct_declaration_and_struct_fast_path_produce_identical_bytes(frame: Frame) -> None:
    """FRAME (the source of truth) and frame_body/parse_body (the fast path) agree both ways."""
    body = frame_body(frame)
    assert _construct_build(frame) == body
    parsed = FRAME.parse(body)
    assert (parsed.body.value.version, parsed.body.value.type, parsed.body.value.seq) == (
        frame.version,
        frame.msg_type,
        frame.seq,
    )
    assert (parsed.body.value.flags, parsed.body.value.payload) == (frame.flags, frame.payload)
    assert parsed.crc == zlib.crc32(body[:-4])
    assert parse_body(body) == frame
    assert decode_frame(encode_frame(frame)) == frame


@QUICK
@given(data=st.data())
def test_construct_and_fast_path_both_reject_a_corrupted_crc(data: st.DataObject) -> None:
    """Fault: one CRC byte changed. Both readers must refuse the frame."""
    frame = data.draw(
        st.builds(Frame, msg_type=st.integers(0, 255), seq=st.integers(0, 0xFFFF), payload=st.binary(max_size=40))
    )
    body = bytearray(frame_body(frame))
    index = data.draw(st.integers(len(body) - 4, len(body) - 1))
    body[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(cs.ChecksumError):
        FRAME.parse(bytes(body))
    with pytest.raises(CrcMismatch):
        parse_body(bytes(body))


def test_encoded_frame_has_a_delimiter_before_and_after_and_none_inside() -> None:
    wire = encode_frame(Frame(0x15, 0, bytes(20)))
    assert wire[0] == 0 and wire[-1] == 0
    assert 0 not in wire[1:-1]


def test_decoding_rejects_a_bad_crc_naming_both_values() -> None:
    wire = bytearray(to_wire(make("fire", seq=8, count=10)))
    wire[-2] ^= 0x01
    with pytest.raises(CrcMismatch, match=r"0x[0-9A-F]{8}.*0x[0-9A-F]{8}"):
        decode_frame(bytes(wire))


def test_decoding_a_frame_cut_short_says_truncated_with_declared_and_received_sizes() -> None:
    wire = to_wire(make("nak", seq=3, command="fire", code="busy", detail="depth motor moving"))
    with pytest.raises(TruncatedFrame, match=r"payload.*\d+ bytes"):
        decode_frame(wire[:15])


def test_decoding_an_absurd_length_field_says_bad_length_naming_the_maximum() -> None:
    body = struct.pack("<BBHBH", 1, 0x15, 8, 0, 60000) + b"\x01\x02"
    body += struct.pack("<I", zlib.crc32(body))
    with pytest.raises(BadLength, match=f"60000.*{MAX_PAYLOAD}"):
        parse_body(body)


def test_decoding_a_length_field_smaller_than_the_payload_says_bad_length() -> None:
    body = struct.pack("<BBHBH", 1, 0x15, 8, 0, 1) + b"\x01\x02\x03"
    body += struct.pack("<I", zlib.crc32(body))
    with pytest.raises(BadLength):
        parse_body(body)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", TruncatedFrame),
        (b"\x00\x00", TruncatedFrame),
        (b"\x00\x02\x01\x00\x02\x01\x00", CobsError),  # two frames where one is expected
        (b"\x00\x05\x01\x02\x00", CobsError),  # a COBS block cut short before any header
    ],
)
def test_decoding_malformed_input_raises_a_frame_error_never_something_else(
    data: bytes, error: type[FrameError]
) -> None:
    with pytest.raises(error):
        decode_frame(data)


def test_encoding_refuses_a_payload_over_the_maximum_naming_the_limit() -> None:
    with pytest.raises(BadLength, match=f"{MAX_PAYLOAD + 1} bytes.*{MAX_PAYLOAD}"):
        encode_frame(Frame(0x15, 0, bytes(MAX_PAYLOAD + 1)))


def test_encoding_refuses_a_sequence_number_over_16_bits() -> None:
    with pytest.raises(BadLength, match="65536"):
        encode_frame(Frame(0x15, 65536))


def test_largest_payload_round_trips() -> None:
    frame = Frame(0x15, 0xFFFF, bytes(range(256)) * 4, flags=0xFF)
    assert len(frame.payload) == MAX_PAYLOAD
    assert decode_frame(encode_frame(frame)) == frame


def _c_cobs_encode(src: bytes) -> bytes:
    """docs/protocol.md's C ``cobs_encode``, line by line."""
    dst = bytearray(len(src) + len(src) // 254 + 1)
    code_at, out, code = 0, 1, 1
    for byte in src:
        if byte != 0:
            dst[out] = byte
            out += 1
            code += 1
        if byte == 0 or code == 0xFF:
            dst[code_at] = code
            code = 1
            code_at = out
            out += 1
    dst[code_at] = code
    return bytes(dst[:out])


def _c_cobs_decode(src: bytes) -> bytes | None:
    """docs/protocol.md's C ``cobs_decode``, line by line (``None`` for -1)."""
    out = bytearray()
    i, n = 0, len(src)
    while i < n:
        code = src[i]
        i += 1
        if i + code - 1 > n:
            return None
        out += src[i : i + code - 1]
        i += code - 1
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


@pytest.mark.parametrize("size", [0, 1, 253, 254, 255, 508, 1039])
def test_the_specs_c_cobs_and_the_hosts_cobs_read_each_other(size: int) -> None:
    """The trailing empty block after a full 254-byte block: the C encoder emits it, the host's omits it, and
    both decoders accept both forms."""
    from cobs import cobs

    from firmware_protocol.framing import unstuff

    body = bytes((i % 255) + 1 for i in range(size)) if size != 1039 else bytes(range(256)) * 4 + bytes(15)
    c_form, host_form = _c_cobs_encode(body), cobs.encode(body)
    if size in (254, 508):
        assert c_form == host_form + b"\x01"  # the one difference: the extra empty last block
    else:
        assert c_form == host_form
    for form in (c_form, host_form):
        assert unstuff(form) == body
        assert _c_cobs_decode(form) == body
