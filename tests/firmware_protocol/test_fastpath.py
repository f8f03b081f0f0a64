"""The struct fast path is only a faster route: for every message it gives the construct declaration's bytes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_protocol import CATALOG, BadPayload, Frame, Message, decode_message, encode_message
from firmware_protocol.messages import _wire_value, ignores_trailing_bytes

FAST_SPECS = [spec for spec in CATALOG if spec.fast is not None]


def test_the_hot_messages_take_the_fast_path() -> None:
    """status, shot, alarm, heartbeat and ack are fixed layouts; identity and nak (text) stay on construct."""
    fast = {spec.name for spec in FAST_SPECS}
    assert {"status", "shot", "alarm", "ack", "heartbeat", "set_parameters", "fire"} <= fast
    assert {"identity", "nak"}.isdisjoint(fast)


@pytest.mark.parametrize("spec", FAST_SPECS, ids=lambda s: s.name)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_fast_path_bytes_equal_the_construct_declaration(spec: Any, data: Any, messages_of_spec: Any) -> None:
    """Same values in: the same payload bytes out of struct and construct, and the same message back."""
    message: Message = data.draw(messages_of_spec(spec))
    own = {f.name: _wire_value(f, message.fields[f.name], CATALOG) for f in spec.fields}
    assert spec.fast.build(own) == spec.struct.build(own)
    frame = encode_message(message)
    if spec.name != "ack":  # the encoder packs enum members and flags as they are: still the declared bytes
        assert frame.payload == spec.struct.build(own)
    assert decode_message(frame) == message


@pytest.mark.parametrize("spec", [s for s in FAST_SPECS if s.fields], ids=lambda s: s.name)
def test_a_short_payload_is_bad_payload_on_the_fast_path_too(spec: Any) -> None:
    """Cut inside a field: BadPayload naming the message, never struct.error. (A payload that ends exactly
    before a one-byte field appended later, with its default, is an older sender's: cut one byte more.)"""
    payload = b"\x00" * spec.fast.head.size + (b"\x02\x01" if spec.fast.tail else b"")
    older_sender = ignores_trailing_bytes(spec) and spec.fields[-1].default_value() is not None
    with pytest.raises(BadPayload, match=spec.name):
        decode_message(Frame(spec.type_id, 1, payload[: -2 if older_sender else -1]))
