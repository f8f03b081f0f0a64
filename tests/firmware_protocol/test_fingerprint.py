"""The family fingerprints: stable for the same definitions, pinned in docs/protocol.md, and, whenever a
definition changes, different for the family it belongs to and unchanged for every other family (so
mismatched peers refuse each other's family instead of misreading values, and keep the rest)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import construct as cs
import pytest

from firmware_protocol import CATALOG, FINGERPRINT, Catalog, Direction, Field, FieldKind, MessageSpec, WireEnum
from firmware_protocol.families import fingerprint_of
from firmware_protocol.tools.spec import signature_lines

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _family_section(family: str) -> str:
    section = DOC.read_text(encoding="utf-8").split("### Fingerprint input", 1)[-1]
    part = section.split(f"#### {family} family", 1)
    assert len(part) == 2, f"docs/protocol.md has no fingerprint input for the {family} family"
    return part[1].split("\n#### ", 1)[0]


def _pinned_in_docs(family: str = "core") -> int:
    match = re.search(r"\*\*`0x([0-9A-F]{8})`\*\*", _family_section(family))
    assert match, f"docs/protocol.md does not state the {family} family's fingerprint"
    return int(match.group(1), 16)


def _replace_message(message: str, **changes: object) -> Catalog:
    return Catalog(dataclasses.replace(m, **changes) if m.name == message else m for m in CATALOG)


def _replace_field(message: str, field: str, **changes: object) -> Catalog:
    spec = CATALOG.by_name[message]
    fields = tuple(dataclasses.replace(f, **changes) if f.name == field else f for f in spec.fields)  # type: ignore[arg-type]
    return _replace_message(message, fields=fields)


class ModeWithExtra(WireEnum):
    """Mode with one more member (an enum that gained a value)."""

    SINGLE = 0
    BURST = 1
    CONTINUOUS = 2
    NAPPAGE = 3
    STAMP = 4


class ModeRenumbered(WireEnum):
    """Mode with a value changed."""

    SINGLE = 0
    BURST = 1
    CONTINUOUS = 2
    NAPPAGE = 7


_NEW_MESSAGE = MessageSpec(0x1E, "pause", Direction.HOST_TO_DEVICE, "A new core command.", reply="ack")
_NEW_FAMILY = MessageSpec(0x5F, "begin_update", Direction.HOST_TO_DEVICE, "A firmware update command.", reply="ack")
_NEW_CALIBRATION_MESSAGE = MessageSpec(0x4F, "zero_depth", Direction.HOST_TO_DEVICE, "A calibration one.", reply="ack")
_NEW_LOG_MESSAGE = MessageSpec(0x6F, "clear_shot_log", Direction.HOST_TO_DEVICE, "A logs command.", reply="ack")
_EXTRA_FIELD = Field("pause_ms", cs.Int16ul, "u16", "ms", "pause between shots", default=0)

MODIFICATIONS: dict[str, Callable[[], Catalog]] = {
    "add a field": lambda: _replace_message("fire", fields=(*CATALOG.by_name["fire"].fields, _EXTRA_FIELD)),
    "remove a field": lambda: _replace_message("shot", fields=CATALOG.by_name["shot"].fields[:-1]),
    "reorder fields": lambda: _replace_message("shot", fields=CATALOG.by_name["shot"].fields[::-1]),
    "change a wire type": lambda: _replace_field("fire", "count", wire=cs.Int16ul, wire_type="u16"),
    "rename a field": lambda: _replace_field("fire", "count", name="shots"),
    "change a unit": lambda: _replace_field("prime", "volume_nl", unit="µL"),
    "change a field kind": lambda: _replace_field("status", "primed", kind=FieldKind.INT),
    "rename a message": lambda: _replace_message("fire", name="shoot"),
    "change a type id": lambda: _replace_message("fire", type_id=0x1F),  # a free core id (0x19 is set_burst_count)
    "change a reply": lambda: _replace_message("heartbeat", reply="status"),
    "make an ack echo": lambda: _replace_message("arm", echoes=True),
    "add an enum member": lambda: _replace_field("set_parameters", "mode", enum=ModeWithExtra),
    "change an enum value": lambda: _replace_field("set_parameters", "mode", enum=ModeRenumbered),
    "add a message": lambda: Catalog((*CATALOG, _NEW_MESSAGE)),
    "remove a message": lambda: Catalog(m for m in CATALOG if m.name != "clear_alarm"),
}
"""Changes to core family definitions."""

LOG_MODIFICATIONS: dict[str, Callable[[], Catalog]] = {
    "add a log message": lambda: Catalog((*CATALOG, _NEW_LOG_MESSAGE)),
    "change a log command's field": lambda: _replace_field("get_shot_log", "count", wire=cs.Int8ul, wire_type="u8"),
    "rename a shot log entry field": lambda: _replace_field(
        "shot_log",
        "entries",
        record=tuple(
            dataclasses.replace(r, name="stroke_nl") if r.name == "delivered_nl" else r
            for r in CATALOG.by_name["shot_log"].fields[-1].record
        ),
    ),
    "remove the log family": lambda: Catalog(m for m in CATALOG if m.type_id not in (0x60, 0xE0)),
}
"""Changes to the logs family's definitions."""


CALIBRATION_MODIFICATIONS: dict[str, Callable[[], Catalog]] = {
    "add a calibration message": lambda: Catalog((*CATALOG, _NEW_CALIBRATION_MESSAGE)),
    "change the depth offset's wire type": lambda: _replace_field(
        "write_calibration", "depth_offset_um", wire=cs.Int16ul, wire_type="u16"
    ),
    "make hold_depth not echo": lambda: _replace_message("hold_depth", echoes=False),
}
"""Changes to the calibration family's definitions."""


def test_fingerprint_is_stable_for_the_same_definitions() -> None:
    again = Catalog(CATALOG.messages)
    reordered = Catalog(reversed(CATALOG.messages))
    assert again.family_fingerprints == reordered.family_fingerprints == CATALOG.family_fingerprints
    assert again.fingerprint == CATALOG.fingerprint == FINGERPRINT == CATALOG.family_fingerprints["core"]
    for family, value in CATALOG.family_fingerprints.items():
        assert fingerprint_of(signature_lines(CATALOG, family)) == value


def test_the_catalog_has_the_core_the_calibration_the_firmware_update_and_the_logs_family() -> None:
    assert set(CATALOG.family_fingerprints) == {"core", "calibration", "firmware_update", "logs"}


@pytest.mark.parametrize("family", sorted(CATALOG.family_fingerprints))
def test_fingerprint_equals_the_value_pinned_in_docs(family: str) -> None:
    """Changing the catalog fails this until docs/protocol.md is regenerated: a deliberate act."""
    assert _pinned_in_docs(family) == CATALOG.family_fingerprints[family]


@pytest.mark.parametrize("family", sorted(CATALOG.family_fingerprints))
def test_signature_lines_in_docs_hash_to_the_pinned_fingerprint(family: str) -> None:
    """Firmware can check the documented recipe: SHA-256 of the listed lines, first 4 bytes, little-endian."""
    block = _family_section(family).split("```text\n", 1)[1].split("\n```", 1)[0]
    digest = hashlib.sha256(block.encode("utf-8")).digest()
    assert int.from_bytes(digest[:4], "little") == _pinned_in_docs(family)


@pytest.mark.parametrize("change", list(MODIFICATIONS))
def test_a_core_definition_change_changes_the_core_fingerprint_only(change: str) -> None:
    modified = MODIFICATIONS[change]()
    assert modified.fingerprint != FINGERPRINT
    assert modified.family_fingerprints["logs"] == CATALOG.family_fingerprints["logs"]
    assert modified.family_fingerprints["calibration"] == CATALOG.family_fingerprints["calibration"]


@pytest.mark.parametrize("change", list(LOG_MODIFICATIONS))
def test_a_logs_definition_change_changes_the_logs_fingerprint_only(change: str) -> None:
    modified = LOG_MODIFICATIONS[change]()
    assert modified.family_fingerprints.get("logs") != CATALOG.family_fingerprints["logs"]
    assert modified.fingerprint == FINGERPRINT


@pytest.mark.parametrize("change", list(CALIBRATION_MODIFICATIONS))
def test_a_calibration_definition_change_changes_the_calibration_fingerprint_only(change: str) -> None:
    modified = CALIBRATION_MODIFICATIONS[change]()
    assert modified.family_fingerprints["calibration"] != CATALOG.family_fingerprints["calibration"]
    assert modified.fingerprint == FINGERPRINT
    assert modified.family_fingerprints["logs"] == CATALOG.family_fingerprints["logs"]


def test_a_new_family_gets_its_own_fingerprint_and_changes_no_other() -> None:
    without = Catalog(m for m in CATALOG if m.type_id not in range(0x50, 0x60) and m.type_id not in range(0xD0, 0xE0))
    assert set(without.family_fingerprints) == {"core", "logs", "calibration"}
    modified = Catalog((*without, _NEW_FAMILY))
    assert set(modified.family_fingerprints) == {"core", "logs", "calibration", "firmware_update"}
    assert {k: v for k, v in modified.family_fingerprints.items() if k != "firmware_update"} == dict(
        without.family_fingerprints
    )


def test_a_message_outside_every_family_range_is_refused() -> None:
    stray = MessageSpec(0x70, "stray", Direction.HOST_TO_DEVICE, "In no family.", reply="ack")
    with pytest.raises(ValueError, match="0x70 is in no message family"):
        Catalog((*CATALOG, stray))


def test_every_modification_gives_a_different_fingerprint() -> None:
    values = [build().fingerprint for build in MODIFICATIONS.values()]
    assert len(set(values)) == len(values)
    logs = [build().family_fingerprints.get("logs") for build in LOG_MODIFICATIONS.values()]
    assert len(set(logs)) == len(logs)


def test_fingerprint_ignores_descriptions_so_a_doc_fix_stays_compatible() -> None:
    reworded = _replace_field("fire", "count", doc="how many shots")
    assert _replace_message("fire", doc="Fires.").fingerprint == FINGERPRINT
    assert reworded.fingerprint == FINGERPRINT
