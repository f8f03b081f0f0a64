"""The catalog fingerprint: stable for the same definitions, pinned in docs/protocol.md, and different
whenever any definition changes (so mismatched peers refuse each other instead of misreading values)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import construct as cs
import pytest

from firmware_protocol import CATALOG, FINGERPRINT, Catalog, Direction, Field, FieldKind, MessageSpec, WireEnum
from firmware_protocol.tools.spec import fingerprint_of, signature_lines

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _pinned_in_docs() -> int:
    section = DOC.read_text(encoding="utf-8").split("### Fingerprint input", 1)[-1]
    match = re.search(r"\*\*`0x([0-9A-F]{8})`\*\*", section)
    assert match, "docs/protocol.md does not state the fingerprint"
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


_NEW_MESSAGE = MessageSpec(0x40, "calibrate_depth", Direction.HOST_TO_DEVICE, "A calibration command.", reply="ack")
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


def test_fingerprint_is_stable_for_the_same_definitions() -> None:
    again = Catalog(CATALOG.messages)
    reordered = Catalog(reversed(CATALOG.messages))
    assert again.fingerprint == reordered.fingerprint == CATALOG.fingerprint == FINGERPRINT
    assert fingerprint_of(signature_lines()) == FINGERPRINT


def test_fingerprint_equals_the_value_pinned_in_docs() -> None:
    """Changing the catalog fails this until docs/protocol.md is regenerated: a deliberate act."""
    assert _pinned_in_docs() == FINGERPRINT


def test_signature_lines_in_docs_hash_to_the_pinned_fingerprint() -> None:
    """Firmware can check the documented recipe: SHA-256 of the listed lines, first 4 bytes, little-endian."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("### Fingerprint input", 1)[1].split("```text\n", 1)[1].split("\n```", 1)[0]
    digest = hashlib.sha256(block.encode("utf-8")).digest()
    assert int.from_bytes(digest[:4], "little") == _pinned_in_docs()


@pytest.mark.parametrize("change", list(MODIFICATIONS))
def test_fingerprint_changes_when_any_definition_changes(change: str) -> None:
    modified = MODIFICATIONS[change]()
    assert modified.fingerprint != FINGERPRINT


def test_every_modification_gives_a_different_fingerprint() -> None:
    values = [build().fingerprint for build in MODIFICATIONS.values()]
    assert len(set(values)) == len(values)


def test_fingerprint_ignores_descriptions_so_a_doc_fix_stays_compatible() -> None:
    reworded = _replace_field("fire", "count", doc="how many shots")
    assert _replace_message("fire", doc="Fires.").fingerprint == FINGERPRINT
    assert reworded.fingerprint == FINGERPRINT
