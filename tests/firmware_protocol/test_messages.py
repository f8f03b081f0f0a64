"""Messages: every catalog message round-trips through bytes and JSON; the issue's JSON is accepted as
written; bad input is refused with an error naming the field, the value and the limit."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import construct as cs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_protocol import (
    CATALOG,
    BadPayload,
    Frame,
    InvalidField,
    Message,
    Mode,
    NakCode,
    ProtocolError,
    ShotSource,
    UnknownMessageType,
    decode_frame,
    decode_message,
    encode_message,
    from_json,
    make,
    to_json,
    to_wire,
)

PER_MESSAGE = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
ISSUE_EXAMPLES = [
    {"type": "set_parameters", "seq": 7, "depth_um": 2500, "dose_nl": 50000, "rate_mhz": 3000, "mode": "burst"},
    {"type": "fire", "seq": 8, "count": 10},
]


@pytest.mark.parametrize("name", [m.name for m in CATALOG])
@PER_MESSAGE
@given(data=st.data())
def test_every_message_round_trips_through_wire_bytes(name: str, data: st.DataObject, messages_of_spec: Any) -> None:
    message = data.draw(messages_of_spec(CATALOG.by_name[name]))
    assert decode_message(decode_frame(to_wire(message))) == message


@pytest.mark.parametrize("name", [m.name for m in CATALOG])
@PER_MESSAGE
@given(data=st.data())
def test_every_message_round_trips_through_json_text(name: str, data: st.DataObject, messages_of_spec: Any) -> None:
    message = data.draw(messages_of_spec(CATALOG.by_name[name]))
    text = json.dumps(to_json(message))
    assert from_json(json.loads(text)) == message
    assert to_wire(from_json(json.loads(text))) == to_wire(message)


@pytest.mark.parametrize("example", ISSUE_EXAMPLES, ids=lambda e: e["type"])
def test_issue_json_examples_encode_and_decode_back_to_the_same_fields(example: dict[str, Any]) -> None:
    decoded = to_json(decode_message(decode_frame(to_wire(from_json(example)))))
    assert decoded == example


def test_every_appendix_command_is_accepted_as_written(appendix_commands: list[dict[str, Any]]) -> None:
    for command in appendix_commands:
        decoded = to_json(decode_message(decode_frame(to_wire(from_json(command)))))
        assert decoded | command == decoded, f"{command} came back as {decoded}"
        assert CATALOG.by_name[command["type"]].direction.name == "HOST_TO_DEVICE"


def test_hello_defaults_carry_this_catalogs_version_and_fingerprint() -> None:
    hello = from_json({"type": "hello", "seq": 1})
    assert hello["protocol_version"] == 1
    assert hello["fingerprint"] == CATALOG.fingerprint


def test_ack_of_an_echoing_command_carries_its_applied_values_in_the_commands_layout() -> None:
    ack = make(
        "ack", seq=7, flags=2, command="set_parameters", depth_um=2500, dose_nl=50000, rate_mhz=3000, mode="burst"
    )
    command = encode_message(make("set_parameters", seq=7, depth_um=2500, dose_nl=50000, rate_mhz=3000, mode="burst"))
    payload = encode_message(ack).payload
    assert payload == bytes([0x10]) + command.payload
    assert decode_message(decode_frame(to_wire(ack)))["mode"] is Mode.BURST


def test_ack_of_a_command_without_values_is_the_command_byte_only() -> None:
    assert encode_message(make("ack", seq=7, flags=2, command="arm")).payload == bytes([0x13])


def test_ack_of_an_echoing_command_without_its_values_is_refused_naming_the_missing_field() -> None:
    with pytest.raises(InvalidField, match=r"ack\.count is required"):
        make("ack", seq=8, command="fire")


def test_nak_can_answer_a_type_this_catalog_does_not_know() -> None:
    """A device naks unknown types; the nak must encode and decode with the raw type id."""
    nak = make("nak", seq=5, flags=2, command=0x7E, code="unknown_type", detail="firmware update not supported")
    decoded = decode_message(decode_frame(to_wire(nak)))
    assert decoded["command"] == 0x7E
    assert decoded["code"] is NakCode.UNKNOWN_TYPE
    assert to_json(decoded)["command"] == 0x7E


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"type": "fire", "seq": 1}, ["fire.count", "required", "u32"]),
        ({"type": "fire", "seq": 1, "count": -1}, ["fire.count=-1", "u32", "4294967295"]),
        ({"type": "fire", "seq": 1, "count": 2.5}, ["fire.count=2.5", "integer", "shots"]),
        (
            {"type": "set_parameters", "depth_um": 70000, "dose_nl": 1, "rate_mhz": 1, "mode": "single"},
            ["set_parameters.depth_um=70000", "µm", "65535"],
        ),
        (
            {"type": "set_parameters", "depth_um": 2500, "dose_nl": 1, "rate_mhz": 1, "mode": "turbo"},
            ["set_parameters.mode='turbo'", "single, burst, continuous, nappage"],
        ),
        ({"type": "fire", "count": 1, "speed": 3}, ["fire has no field speed", "count"]),
        ({"type": "fire", "seq": 70000, "count": 1}, ["fire.seq=70000", "65535"]),
        ({"type": "nak", "command": "fire", "code": "busy", "detail": "é" * 200}, ["nak.detail", "400 bytes", "255"]),
        ({"type": "fyre"}, ["'fyre'", "fire"]),
        ({"seq": 1}, ['"type"']),
        (["fire"], ["JSON object"]),
    ],
)
def test_bad_input_is_refused_with_an_error_naming_field_value_and_limit(obj: Any, expected: list[str]) -> None:
    with pytest.raises(ProtocolError) as caught:
        from_json(obj)
    for text in expected:
        assert text in str(caught.value)


def test_invalid_fields_are_value_errors_for_callers_that_catch_those() -> None:
    with pytest.raises(ValueError, match="count"):
        make("fire", count=-1)


def _frame(type_id: int, payload: bytes) -> Frame:
    return Frame(type_id, 1, payload)


def test_decoding_an_unknown_type_id_names_it() -> None:
    with pytest.raises(UnknownMessageType, match="0x7E"):
        decode_message(_frame(0x7E, b""))


def test_decoding_a_short_payload_is_bad_payload_naming_the_message() -> None:
    with pytest.raises(BadPayload, match="set_parameters"):
        decode_message(_frame(0x10, b"\x01\x02"))


def test_a_command_with_extra_bytes_after_its_last_field_is_bad_payload() -> None:
    """Commands are strict: a device never acts on a command carrying a field it does not know."""
    with pytest.raises(BadPayload, match="2 unexpected bytes"):
        decode_message(_frame(0x15, struct.pack("<I", 10) + b"\x00\x00"))


def _newer_catalog() -> Any:
    """This catalog as a later version might extend it: one field appended to identity, status and shot."""
    from dataclasses import replace

    from firmware_protocol.catalog import Catalog, Field

    appended = Field("added_later_ms", cs.Int32ul, "u32", "ms", "a field a later catalog appends")
    grown = {"identity", "status", "shot"}
    return Catalog(replace(m, fields=(*m.fields, appended)) if m.name in grown else m for m in CATALOG)


def test_an_older_host_decodes_a_newer_devices_longer_replies_and_events() -> None:
    """The versioning rule: fields are appended at the end, an older receiver ignores the bytes it does not know."""
    from firmware_protocol.rules import REFERENCE_IDENTITY

    newer = _newer_catalog()
    assert newer.fingerprint != CATALOG.fingerprint
    status_fields = {
        "state": "armed", "depth_um": 2000, "dose_nl": 10_000, "rate_mhz": 2000, "mode": "burst",
        "needle_depth_um": 2000, "syringe_capacity_nl": 2_000_000, "reservoir_nl": 1_000_000, "primed": True,
        "shots_session": 3, "shots_lifetime": 9, "shots_remaining": 0, "device_time_ms": 5, "active_alarms": [7],
    }  # fmt: skip
    shot_fields = {
        "shot_index": 9, "fire_seq": 4, "depth_um": 2000, "dose_nl": 10_000, "device_time_ms": 5, "source": "remote"
    }  # fmt: skip
    for name, fields in (("identity", dict(REFERENCE_IDENTITY)), ("status", status_fields), ("shot", shot_fields)):
        sent = make(name, seq=3, flags=2, catalog=newer, added_later_ms=1234, **fields)
        frame = encode_message(sent, newer)
        received = decode_message(frame)  # the older host's catalog
        assert received == make(name, seq=3, flags=2, **fields)
        assert len(frame.payload) == len(encode_message(received).payload) + 4


def _older_catalog() -> Any:
    """This catalog as the first release had it: identity without the fields appended since, shot without source."""
    from dataclasses import replace

    from firmware_protocol.catalog import Catalog

    since = {"identity": "hardware_id", "shot": "source"}

    def first_release(m: Any) -> Any:
        names = [f.name for f in m.fields]
        return replace(m, fields=m.fields[: names.index(since[m.name])]) if m.name in since else m

    return Catalog(first_release(m) for m in CATALOG)


def test_a_newer_host_decodes_an_older_devices_shorter_identity_and_shot_with_the_defaults() -> None:
    """The other direction of the versioning rule: a device that predates appended fields sends shorter replies
    and events; the host fills in each missing field's default (so a newer host can still read its identity,
    name its fingerprint and send it stop and emergency_stop)."""
    from firmware_protocol.rules import REFERENCE_IDENTITY

    older = _older_catalog()
    first_fields = {f.name for f in older.by_name["identity"].fields}
    old_identity = {k: v for k, v in REFERENCE_IDENTITY.items() if k in first_fields}
    received = decode_message(encode_message(make("identity", seq=1, flags=2, catalog=older, **old_identity), older))
    got = received.fields
    assert (got["hardware_id"], got["counter_epoch"], list(got["families"])) == ("", 0, [])
    assert (got["remote_fire"], got["burst_count_max"]) == (True, 1)
    assert got["serial_number"] == REFERENCE_IDENTITY["serial_number"]
    shot = {"shot_index": 9, "fire_seq": 4, "depth_um": 2000, "dose_nl": 10_000, "device_time_ms": 5}
    assert (
        decode_message(encode_message(make("shot", seq=3, catalog=older, **shot), older)).fields["source"].json_name
        == "remote"
    )


def test_a_payload_cut_inside_a_field_or_before_a_field_without_default_is_still_bad_payload() -> None:
    """Only a payload that ends exactly before fields that all have a default is an older sender's."""
    frame = encode_message(
        make("identity", seq=1, flags=2, **__import__("firmware_protocol.rules").rules.REFERENCE_IDENTITY)
    )
    names = [f.name for f in CATALOG.by_name["identity"].fields]
    assert names.index("hardware_id") > 0
    with pytest.raises(BadPayload, match="identity"):
        decode_message(Frame(frame.msg_type, 1, frame.payload[:20], frame.flags))  # inside the first fields
    with pytest.raises(BadPayload, match="set_parameters"):
        decode_message(_frame(0x10, b"\x01\x02"))  # a command never takes defaults for missing bytes


def test_a_newer_hosts_longer_hello_is_read_by_an_older_device() -> None:
    """hello has a frozen prefix: a device reads the version and fingerprint of any host."""
    frame = encode_message(make("hello", seq=1))
    assert decode_message(Frame(frame.msg_type, 1, frame.payload + b"\x01\x02")) == make("hello", seq=1)


def test_a_newer_device_reads_an_older_hosts_hello_without_its_host_id() -> None:
    """host_id was appended to hello: an older host's hello (version and fingerprint only) reads as host_id 0."""
    older = struct.pack("<BI", 2, 0x1234_5678)
    received = decode_message(_frame(0x01, older))
    assert received["fingerprint"] == 0x1234_5678 and received["host_id"] == 0


def test_a_newer_host_reads_an_older_devices_shot_without_source_or_host_id() -> None:
    """Fields appended to a device→host message take their declared defaults when an older device omits them."""
    older = struct.pack("<IHHII", 9, 4, 2000, 10_000, 5)
    shot = decode_message(_frame(0x84, older))
    assert (shot["shot_index"], shot["source"], shot["host_id"]) == (9, ShotSource.REMOTE, 0)
    with pytest.raises(BadPayload, match="shot"):  # a field without a default is still required
        decode_message(_frame(0x84, older[:-4]))


@pytest.mark.parametrize(
    ("type_id", "payload", "detail"),
    [
        (0x10, b"\x01\x02", "set_parameters.dose_nl (u32) at payload offset 2 runs past the end of the 2-byte "
         "payload (0 bytes left; set_parameters takes 9 bytes)"),
        (0x12, b"\x01", "prime.volume_nl (u32) at payload offset 0 runs past the end of the 1-byte payload "
         "(1 byte left; prime takes 4 bytes)"),
        (0x82, b"\x10\x02\x05ab", "nak.detail (str8) at payload offset 2 runs past the end of the 5-byte payload "
         "(3 bytes left)"),
        (0x82, b"\x10\x02\x02\xff\xfe", "nak.detail (str8) at payload offset 2 is not valid UTF-8"),
        (0x83, b"\x00" * 37 + b"\x03\x01", "status.active_alarms (u8 count + u8[]) at payload offset 37 runs past "
         "the end of the 39-byte payload (2 bytes left)"),
    ],
)  # fmt: skip
def test_an_unparsable_payload_is_described_in_protocol_terms(type_id: int, payload: bytes, detail: str) -> None:
    """Field, wire type, offset and lengths: what a technician reading a nak detail can check against the spec."""
    with pytest.raises(BadPayload) as caught:
        decode_message(_frame(type_id, payload))
    assert str(caught.value) == detail
    for leak in ("struct", "unpack", "buffer", "Error", "construct"):
        assert leak not in str(caught.value)


def test_decoding_an_undefined_enum_value_is_bad_payload_naming_the_field() -> None:
    payload = struct.pack("<HIHB", 2500, 50000, 3000, 9)
    with pytest.raises(BadPayload, match="mode"):
        decode_message(_frame(0x10, payload))


def test_identity_from_a_newer_device_with_appended_fields_still_decodes() -> None:
    """identity has a frozen prefix: a later version appends fields, an older host ignores them."""
    from firmware_protocol.rules import REFERENCE_IDENTITY

    identity = make("identity", seq=1, flags=2, **REFERENCE_IDENTITY)
    frame = encode_message(identity)
    newer = Frame(frame.msg_type, frame.seq, frame.payload + b"\x07\x08\x09", frame.flags)
    assert decode_message(newer) == identity


def test_message_is_a_flat_value_with_field_access() -> None:
    message = make("fire", seq=8, count=10)
    assert message == Message("fire", 8, {"count": 10})
    assert message["count"] == 10 and message.get("missing", "x") == "x"
    assert zlib.crc32(b"") == 0  # sanity: zlib is the CRC the framing names
