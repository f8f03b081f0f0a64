"""The firmware update family in the contract: smp_request and smp_response carry one whole SMP frame each (a u16
length and the bytes), round-trip through bytes and JSON (hex), refuse a frame that cannot fit a payload, and are
allowed in every device state."""

from __future__ import annotations

import pytest
from smp import os_management as smpos

from firmware_protocol import (
    CATALOG,
    BadPayload,
    DeviceState,
    InvalidField,
    decode_message,
    encode_message,
    from_json,
    make,
    rules,
    to_json,
    views,
)
from firmware_protocol.catalog import SMP_FRAME_MAX
from firmware_protocol.families import FIRMWARE_UPDATE, family_of
from firmware_protocol.framing import MAX_PAYLOAD, Frame

ECHO = bytes(smpos.EchoWriteRequest(d="hello", sequence=3))


def test_the_family_holds_smp_request_and_smp_response() -> None:
    names = {m.name for m in CATALOG if family_of(m.type_id) is FIRMWARE_UPDATE}
    assert names == {"smp_request", "smp_response"}
    assert CATALOG.by_name["smp_request"].type_id == 0x50
    assert CATALOG.by_name["smp_response"].type_id == 0xD0
    assert CATALOG.by_name["smp_request"].reply == "smp_response"
    assert "firmware_update" in CATALOG.family_fingerprints


@pytest.mark.parametrize("name", ["smp_request", "smp_response"])
@pytest.mark.parametrize("frame", [b"", ECHO, bytes(range(256)) * 3 + bytes(SMP_FRAME_MAX - 768)])
def test_a_frame_round_trips_through_bytes_and_json(name: str, frame: bytes) -> None:
    message = make(name, seq=9, frame=frame)
    wire = encode_message(message)
    assert wire.payload == len(frame).to_bytes(2, "little") + frame
    assert decode_message(wire) == message
    obj = to_json(message)
    assert obj["frame"] == frame.hex()
    assert from_json(obj) == message
    view = views.view(message)
    assert isinstance(view, views.SmpRequest | views.SmpResponse)
    assert view.frame == frame


def test_the_largest_frame_fills_the_payload_exactly() -> None:
    assert SMP_FRAME_MAX == MAX_PAYLOAD - 2
    assert len(encode_message(make("smp_request", frame=bytes(SMP_FRAME_MAX))).payload) == MAX_PAYLOAD


@pytest.mark.parametrize(
    ("value", "words"),
    [(bytes(SMP_FRAME_MAX + 1), "1023 bytes long; the limit is 1022 bytes"), ("zz", "not a hex string"), (7, "bytes")],
)
def test_a_frame_that_cannot_be_carried_is_refused_naming_the_field(value: object, words: str) -> None:
    with pytest.raises(InvalidField, match=r"smp_request\.frame") as caught:
        make("smp_request", frame=value)
    assert words in str(caught.value)


def test_a_length_past_the_payload_is_a_bad_payload() -> None:
    payload = (100).to_bytes(2, "little") + b"short"
    with pytest.raises(BadPayload, match=r"smp_request\.frame"):
        decode_message(Frame(0x50, 1, payload))


def test_bytes_after_the_frame_are_a_bad_payload() -> None:
    payload = (2).to_bytes(2, "little") + b"ok" + b"!"
    with pytest.raises(BadPayload, match="unexpected bytes"):
        decode_message(Frame(0x50, 1, payload))


@pytest.mark.parametrize("state", list(DeviceState))
def test_smp_request_is_accepted_in_every_state(state: DeviceState) -> None:
    outcome = rules.outcome("smp_request", state)
    assert outcome.accepted and outcome.to == () and outcome.naks == ()
