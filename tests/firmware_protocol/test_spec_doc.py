"""docs/protocol.md: its generated reference is in step with the catalog, it covers every message and
field, and the device rules and reference values it publishes are complete and consistent."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_protocol import (
    CATALOG,
    AlarmCode,
    AlarmPriority,
    DeviceState,
    Direction,
    Mode,
    NakCode,
    make,
    rules,
    to_wire,
)
from firmware_protocol.tools import spec

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
REGENERATE = "python -m firmware_protocol spec --write docs/protocol.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _section(doc: str, heading: str) -> str:
    after = doc.split(heading + "\n", 1)[1]
    return after.split("\n#### ", 1)[0].split("\n### ", 1)[0]


def test_docs_reference_is_in_step_with_the_catalog(doc: str) -> None:
    assert spec.is_current(doc), f"docs/protocol.md is out of step with the catalog; run: {REGENERATE}"


def test_docs_describe_every_message_and_every_field(doc: str) -> None:
    """Field by field, independently of how the generator lays the tables out."""
    for message in CATALOG:
        section = _section(doc, f"#### 0x{message.type_id:02X} {message.name}")
        for f in (field for top in message.fields for field in (top, *top.record)):
            row = next((line for line in section.splitlines() if f"| `{f.name}` |" in line), None)
            assert row is not None, f"{message.name}.{f.name} missing from docs/protocol.md"
            assert f"| {f.wire_type} |" in row and (f.unit or "—") in row


def test_docs_list_every_enum_value_with_a_meaning(doc: str) -> None:
    for enum_cls in (DeviceState, Mode, AlarmCode, AlarmPriority, NakCode):
        section = _section(doc, f"#### {enum_cls.__name__}")
        for member in enum_cls:
            row = f"| {member.value} | `{member.json_name}` |"
            assert row in section, f"{enum_cls.__name__}.{member.name} missing"
        assert set(spec.enum_member_docs(enum_cls)) == set(enum_cls), f"{enum_cls.__name__} member without a doc"


@pytest.mark.parametrize(
    "fact",
    [
        "0x04C11DB7",  # CRC polynomial
        "0xFFFFFFFF",  # init and xorout
        "0xCBF43926",  # check value
        "COBS",
        "before and after every frame",
        "little-endian",
        "at most 1024",
        "RETRY",
        "REPLY",
        "does not act again",
        "event counter",
        "watchdog",
        "SHA-256",
        "0x40`–`0x4F",
        "0x50`–`0x5F",
        "0x60`–`0x6F",
        "Frozen prefixes",
    ],
)
def test_docs_prose_states_what_a_firmware_engineer_needs(doc: str, fact: str) -> None:
    prose = doc.split(spec.BEGIN_MARKER, 1)[0]
    assert fact in prose


def test_worked_example_in_docs_is_the_encoders_output(doc: str) -> None:
    wire = to_wire(make("fire", seq=8, count=10))
    assert f"on the wire:               {wire.hex(' ')}" in doc


def test_splice_replaces_only_the_generated_part_and_needs_both_markers() -> None:
    document = f"prose\n{spec.BEGIN_MARKER}\nold\n{spec.END_MARKER}\nmore prose\n"
    spliced = spec.splice(document, "new\n")
    assert spliced.startswith("prose\n") and spliced.endswith(f"{spec.END_MARKER}\nmore prose\n")
    assert "new" in spliced and "old" not in spliced
    assert spec.splice(spliced, "new\n") == spliced
    with pytest.raises(ValueError, match="markers"):
        spec.splice("no markers here", "new\n")


def test_a_hand_edit_of_a_generated_table_is_detected(doc: str) -> None:
    edited = doc.replace("| 0 | `count` | u32 |", "| 0 | `count` | u16 |", 1)
    assert edited != doc
    assert not spec.is_current(edited)


# ---------------------------------------------------------------------------------------------------
# State rules and reference values


def test_state_table_covers_every_command_in_every_state() -> None:
    commands = {m.name for m in CATALOG if m.direction is Direction.HOST_TO_DEVICE}
    assert set(rules.STATE_TABLE) == commands
    for name, row in rules.STATE_TABLE.items():
        assert set(row) == set(DeviceState), name
        for state, outcome in row.items():
            assert outcome.accepted or outcome.naks, f"{name} in {state.json_name}: refused without a code"


@pytest.mark.parametrize(
    ("command", "allowed"),
    [  # as the MessageSpec docs of catalog.py state them
        ("set_parameters", {"idle", "ready", "armed"}),
        ("load_syringe", {"idle", "ready"}),
        ("prime", {"idle", "ready"}),
        ("arm", {"ready"}),
        ("disarm", {"armed"}),
        ("fire", {"armed"}),
        ("stop", {s.json_name for s in DeviceState}),
        ("emergency_stop", {s.json_name for s in DeviceState}),
    ],
)
def test_state_table_agrees_with_the_catalog_docs(command: str, allowed: set[str]) -> None:
    row = rules.STATE_TABLE[command]
    assert {s.json_name for s, o in row.items() if o.accepted} == allowed


def test_state_table_sends_latched_alarms_to_clear_alarm_first() -> None:
    for name in ("set_parameters", "load_syringe", "prime", "arm", "disarm", "fire"):
        for state in (DeviceState.ALARM, DeviceState.EMERGENCY_STOP):
            assert rules.STATE_TABLE[name][state].naks == (NakCode.ALARM_ACTIVE,)
    assert rules.STATE_TABLE["emergency_stop"][DeviceState.IDLE].to == (DeviceState.EMERGENCY_STOP,)


def test_reference_identity_is_the_reference_device_model_in_wire_units() -> None:
    """The reference device: depth 1.0–4.0 mm step 0.1, dose 0.001–0.200 mL step 0.001, rate 0.5–10 /s step 0.1."""
    ref = rules.REFERENCE_IDENTITY
    um, nl, mhz = 1000, 1_000_000, 1000  # per mm, per mL, per shot/s
    assert (ref["depth_min_um"], ref["depth_max_um"], ref["depth_step_um"]) == (1.0 * um, 4.0 * um, round(0.1 * um))
    assert (ref["dose_min_nl"], ref["dose_max_nl"], ref["dose_step_nl"]) == (
        round(0.001 * nl),
        round(0.200 * nl),
        round(0.001 * nl),
    )
    assert (ref["rate_min_mhz"], ref["rate_max_mhz"], ref["rate_step_mhz"]) == (0.5 * mhz, 10 * mhz, round(0.1 * mhz))
    assert ref["syringe_sizes_nl"] == [2 * nl, 3 * nl, 5 * nl, 10 * nl]
    assert ref["modes"] == [m.json_name for m in Mode]
    assert ref["fingerprint"] == CATALOG.fingerprint


def test_reference_identity_is_a_valid_identity_message() -> None:
    message = make("identity", seq=1, flags=2, **rules.REFERENCE_IDENTITY)
    assert set(message.fields) == {f.name for f in CATALOG.by_name["identity"].fields}


def test_reference_alarm_priorities_cover_every_alarm_and_communication_lost_is_high() -> None:
    assert set(rules.ALARM_PRIORITIES) == set(AlarmCode)
    assert rules.ALARM_PRIORITIES[AlarmCode.COMMUNICATION_LOST] is AlarmPriority.HIGH


def test_the_document_cites_nothing_outside_the_repository() -> None:
    """A firmware engineer implements from docs/protocol.md alone: no reference to a document it does not contain."""
    text = DOC.read_text(encoding="utf-8")
    assert "ARCHITECTURE" not in text and "§" not in text
