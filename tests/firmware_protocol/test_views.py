"""Typed message views: one per catalog message, with exactly the catalog's fields and matching types."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence

import pytest

from firmware_protocol import (
    CATALOG,
    AlarmCode,
    DeviceState,
    FieldKind,
    Flag,
    Message,
    Mode,
    decode_message,
    encode_message,
    make,
    views,
)
from firmware_protocol.catalog import Field, MessageSpec

_SCALAR = {FieldKind.INT: int, FieldKind.BOOL: bool, FieldKind.TEXT: str, FieldKind.BYTES: bytes}
_RECORD_VIEWS: dict[tuple[str, str], type] = {
    ("shot_log", "entries"): views.ShotLogEntry,
    ("diagnostics", "alarms"): views.AlarmLogEntry,
    ("identity", "families"): views.FamilyFingerprint,
    ("write_calibration", "volume_gains"): views.VolumeGain,
    ("calibration", "volume_gains"): views.VolumeGain,
}
"""(message, record-list field) → the view of one of its records: every record list of the catalog."""


def _record_view(f: Field) -> type:
    (cls,) = {cls for (_, name), cls in _RECORD_VIEWS.items() if name == f.name}
    return cls


def _own_fields(cls: type) -> list[dataclasses.Field[typing.Any]]:
    return [f for f in dataclasses.fields(cls) if f.name not in views.HEADER_FIELDS and f.name != "echo"]


def _expected_type(f: Field) -> object:
    if f.kind in _SCALAR:
        return _SCALAR[f.kind]
    if f.kind is FieldKind.ENUM:
        return f.enum
    if f.kind is FieldKind.ENUM_LIST:
        return Sequence[f.enum]  # type: ignore[name-defined]
    if f.kind is FieldKind.INT_LIST:
        return Sequence[int]
    if f.kind is FieldKind.RECORD_LIST:
        return Sequence[_record_view(f)]  # type: ignore[misc]
    return views.MessageTypeRef


def test_one_view_per_catalog_message() -> None:
    assert set(views.VIEWS) == set(CATALOG.by_name)


@pytest.mark.parametrize("spec", list(CATALOG), ids=lambda s: s.name)
def test_view_fields_equal_the_catalog_fields(spec: MessageSpec) -> None:
    cls = views.VIEWS[spec.name]
    hints = typing.get_type_hints(cls)
    own = _own_fields(cls)
    assert [f.name for f in own] == [f.name for f in spec.fields]
    for catalog_field in spec.fields:
        assert hints[catalog_field.name] == _expected_type(catalog_field), catalog_field.name


def test_every_record_list_has_a_record_view() -> None:
    record_lists = {(m.name, f.name) for m in CATALOG for f in m.fields if f.kind is FieldKind.RECORD_LIST}
    assert record_lists == set(_RECORD_VIEWS)


@pytest.mark.parametrize(("message", "field"), list(_RECORD_VIEWS), ids=lambda v: str(v))
def test_record_views_have_the_catalog_record_fields_and_types(message: str, field: str) -> None:
    (records,) = [f for f in CATALOG.by_name[message].fields if f.name == field]
    cls = _RECORD_VIEWS[(message, field)]
    hints = typing.get_type_hints(cls)
    assert [f.name for f in dataclasses.fields(cls)] == [r.name for r in records.record]
    for record_field in records.record:
        assert hints[record_field.name] == _expected_type(record_field), record_field.name


def test_echo_views_are_the_echoing_commands() -> None:
    echoing = {m.name for m in CATALOG if m.echoes}
    assert set(typing.get_args(views.EchoView)) == {views.VIEWS[name] for name in echoing}


def test_decoded_status_reads_typed() -> None:
    status = make(
        "status",
        seq=3,
        state="armed",
        depth_um=2000,
        dose_nl=10_000,
        rate_mhz=2000,
        mode="burst",
        needle_depth_um=2000,
        syringe_capacity_nl=2_000_000,
        reservoir_nl=1_000_000,
        primed=True,
        shots_session=1,
        shots_lifetime=9,
        shots_remaining=0,
        device_time_ms=5,
        active_alarms=["reservoir_low"],
    )
    v = views.view(decode_message(encode_message(status)))
    assert isinstance(v, views.Status)
    assert v.state is DeviceState.ARMED and v.mode is Mode.BURST and v.primed is True
    assert list(v.active_alarms) == [AlarmCode.RESERVOIR_LOW]
    assert v.seq == 3 and v.shots_lifetime == 9


def test_ack_view_carries_the_echoed_command_typed() -> None:
    ack = make("ack", seq=8, flags=Flag.REPLY, command="fire", count=10)
    v = views.view(decode_message(encode_message(ack)))
    assert v == views.Ack("fire", views.Fire(10), seq=8, flags=Flag.REPLY)
    plain = views.view(make("ack", seq=2, command="arm"))
    assert plain == views.Ack("arm", None, seq=2)


def test_views_are_frozen() -> None:
    v = views.view_as(make("shot", shot_index=1, fire_seq=2, depth_um=3, dose_nl=4, device_time_ms=5), views.Shot)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.shot_index = 2  # type: ignore[misc]


def test_view_as_refuses_another_message() -> None:
    with pytest.raises(TypeError, match="ack message is not a Shot"):
        views.view_as(make("ack", command="arm"), views.Shot)


def test_fast_constructor_equals_the_dataclass_init() -> None:
    shot = decode_message(
        encode_message(make("shot", seq=4, flags=1, shot_index=1, fire_seq=2, depth_um=3, dose_nl=4, device_time_ms=5))
    )
    fast = views.view_as(shot, views.Shot)
    assert type(fast) is views.Shot
    assert fast == views.Shot(seq=4, flags=1, **shot.fields)
    assert views.view(make("heartbeat", seq=9)) == views.Heartbeat(seq=9)


def test_a_message_without_the_views_fields_is_refused_by_the_dataclass() -> None:
    wrong = Message("shot", seq=1, fields={"shot_index": 1, "fire_seq": 2, "depth_um": 3, "dose_nl": 4, "oops": 5})
    with pytest.raises(TypeError, match="oops"):
        views.view_as(wrong, views.Shot)
    with pytest.raises(TypeError):
        views.view(Message("shot", seq=1, fields={"shot_index": 1}))
