"""The calibration family in the contract: its messages round-trip through bytes and JSON, the signed depth
offset, the calibration id appended to identity, shot and the shot log, and the state rules of its commands."""

from __future__ import annotations

from typing import Any

import pytest

from firmware_protocol import (
    CATALOG,
    DeviceState,
    Flag,
    InvalidField,
    NakCode,
    decode_message,
    encode_message,
    from_json,
    make,
    rules,
    to_json,
    views,
)
from firmware_protocol.families import CALIBRATION, family_of
from firmware_protocol.framing import Frame

CONSTANTS: dict[str, Any] = {
    "volume_gains": [{"brand": "BD", "gain_ppm": 1_030_000}, {"brand": "Terumo", "gain_ppm": 970_000}],
    "depth_offset_um": -80,
    "depth_gain_ppm": 1_020_000,
    "rate_gain_ppm": 998_000,
    "calibrated_at": 1_767_225_600,
    "due_at": 1_798_761_600,
    "technician": "A. Tech",
    "certificate_id": "CAL-2026-001",
}
MESSAGES: dict[str, dict[str, Any]] = {
    "get_calibration": {},
    "write_calibration": CONSTANTS,
    "set_syringe_brand": {"brand": "Terumo"},
    "hold_depth": {"depth_um": 2500},
    "release_depth": {},
    "deliver": {"count": 10, "dose_nl": 20_000, "rate_mhz": 1000},
    "calibration": {"calibration_id": 7, **CONSTANTS},
}


def test_the_calibration_family_is_its_own_range_and_fingerprint() -> None:
    names = {m.name for m in CATALOG if family_of(m.type_id) is CALIBRATION}
    assert names == set(MESSAGES)
    assert "calibration" in CATALOG.family_fingerprints
    assert all(CATALOG.by_name[n].type_id in CALIBRATION.commands for n in names - {"calibration"})
    assert CATALOG.by_name["calibration"].type_id == 0xC0


@pytest.mark.parametrize("name", list(MESSAGES))
def test_every_calibration_message_round_trips_through_bytes_and_json(name: str) -> None:
    message = make(name, seq=42, **MESSAGES[name])
    decoded = decode_message(encode_message(message))
    assert decoded == message
    assert from_json(to_json(decoded)) == message
    assert isinstance(views.view(decoded), views.VIEWS[name])


def test_the_views_read_typed_records() -> None:
    v = views.view_as(decode_message(encode_message(make("calibration", **MESSAGES["calibration"]))), views.Calibration)
    assert v.volume_gains == (views.VolumeGain("BD", 1_030_000), views.VolumeGain("Terumo", 970_000))
    assert (v.calibration_id, v.depth_offset_um) == (7, -80)


def test_the_depth_offset_is_a_signed_16_bit_twos_complement() -> None:
    payload = encode_message(make("write_calibration", **{**CONSTANTS, "volume_gains": []})).payload
    assert payload[1:3] == (-80).to_bytes(2, "little", signed=True) == b"\xb0\xff"
    for bad in (-32_769, 32_768):
        with pytest.raises(InvalidField, match=r"depth_offset_um=.* does not fit its wire type i16 \(-32768..32767"):
            make("write_calibration", **{**CONSTANTS, "depth_offset_um": bad})


def test_acks_of_hold_depth_and_deliver_echo_the_values_applied() -> None:
    ack = make("ack", seq=3, flags=Flag.REPLY, command="deliver", count=10, dose_nl=20_000, rate_mhz=1000)
    assert views.echoed(decode_message(encode_message(ack)), views.Deliver) == views.Deliver(10, 20_000, 1000)
    held = make("ack", seq=4, flags=Flag.REPLY, command="hold_depth", depth_um=2500)
    assert views.echoed(decode_message(encode_message(held)), views.HoldDepth).depth_um == 2500


@pytest.mark.parametrize("name", ["identity", "shot"])
def test_an_older_senders_identity_and_shot_read_as_factory_calibration(name: str) -> None:
    """``calibration_id`` is appended: a payload that ends before it reads as 0 (factory)."""
    spec = CATALOG.by_name[name]
    values = {f.name: f.default_value() for f in spec.fields}
    values.update(rules.REFERENCE_IDENTITY if name == "identity" else {})
    values.update({"calibration_id": 9})
    if name == "shot":
        values.update(shot_index=1, fire_seq=2, depth_um=2000, dose_nl=10_000, device_time_ms=5)
    full = encode_message(make(name, **values))
    older = Frame(full.msg_type, full.seq, full.payload[:-4], full.flags)
    assert decode_message(encode_message(make(name, **values)))["calibration_id"] == 9
    assert decode_message(older)["calibration_id"] == 0


def test_a_shot_log_entry_carries_its_calibration_id() -> None:
    entry = {
        "shot_index": 1,
        "fire_seq": 2,
        "depth_um": 2000,
        "dose_nl": 20_000,
        "device_time_ms": 9,
        "source": "remote",
        "partial": False,
        "delivered_nl": 20_000,
        "host_id": 5,
        "calibration_id": 3,
    }
    page = decode_message(encode_message(make("shot_log", oldest_index=1, newest_index=1, entries=[entry])))
    assert views.view_as(page, views.ShotLog).entries[0].calibration_id == 3


@pytest.mark.parametrize("state", [DeviceState.ARMED, DeviceState.FIRING, DeviceState.PRIMING])
def test_writes_are_refused_while_armed_firing_or_priming(state: DeviceState) -> None:
    rule = rules.outcome("write_calibration", state)
    assert not rule.accepted
    assert rule.naks == ((NakCode.BUSY,) if state is DeviceState.PRIMING else (NakCode.WRONG_STATE,))


def test_the_rules_of_the_measurement_moves() -> None:
    S = DeviceState
    assert rules.accepting_states("write_calibration") == (S.IDLE, S.READY)
    assert rules.accepting_states("hold_depth") == (S.IDLE, S.READY)
    assert rules.accepting_states("deliver") == rules.accepting_states("fire") == (S.ARMED,)
    assert rules.expected_state("deliver") is S.FIRING
    assert rules.accepting_states("release_depth") == tuple(S)
    assert rules.accepting_states("get_calibration") == tuple(S)
    assert rules.accepting_states("set_syringe_brand") == rules.accepting_states("load_syringe")
