"""Message families: the catalog's type-id ranges, each with a fingerprint of its own.

A family is a set of messages a device implements as a whole: the **core** (session, parameters, firing,
events), **calibration** (the device's calibration and the measurement moves of a calibration), **firmware
update** (SMP frames to and from the device's SMP server) and **logs** (the shot log). ``hello``
and ``identity`` exchange the core family's fingerprint; ``identity.families`` lists each further family
the device implements with its fingerprint, and a host uses a family only when that fingerprint equals its
own (:func:`usable_families`), so an older host keeps driving the core of a newer device. ``stop`` and
``emergency_stop`` (:data:`ALWAYS_OBEYED`) are obeyed whatever the fingerprints: their type ids and empty
layouts never change.

Pure data and functions over plain values (this module imports nothing of the catalog).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """One family: its name, its host→device type-id range and the device→host range of its replies."""

    name: str
    commands: range
    replies: range
    doc: str

    @property
    def wire_id(self) -> int:
        """How ``identity.families`` names the family: the first type id of its command range."""
        return self.commands.start

    def holds(self, type_id: int) -> bool:
        """Whether ``type_id`` is in one of this family's ranges."""
        return type_id in self.commands or type_id in self.replies


CORE = Family("core", range(0x01, 0x40), range(0x80, 0xC0), "session, parameters, firing and their events")
CALIBRATION = Family("calibration", range(0x40, 0x50), range(0xC0, 0xD0), "calibration and its moves")
FIRMWARE_UPDATE = Family("firmware_update", range(0x50, 0x60), range(0xD0, 0xE0), "SMP frames: firmware update")
LOGS = Family("logs", range(0x60, 0x70), range(0xE0, 0xF0), "the shot log")

FAMILIES: tuple[Family, ...] = (CORE, CALIBRATION, FIRMWARE_UPDATE, LOGS)
"""Every family, in type-id order. A new family takes a free range here (``0x70``-``0x7F`` / ``0xF0``-``0xFF``)."""

BY_NAME: Mapping[str, Family] = {f.name: f for f in FAMILIES}
BY_WIRE_ID: Mapping[int, Family] = {f.wire_id: f for f in FAMILIES}

ALWAYS_OBEYED = frozenset({"stop", "emergency_stop"})
"""Commands a host sends and a device obeys whatever the session's fingerprints (type ids 0x16 and 0x17, no
fields, frozen in every version): a host can always stop a gun it can talk to."""


def family_of(type_id: int) -> Family:
    """The family whose range holds ``type_id``; ``ValueError`` if none does (a message needs a family)."""
    for family in FAMILIES:
        if family.holds(type_id):
            return family
    raise ValueError(
        f"type id {type_id:#04x} is in no message family's range; give its family a range in "
        "firmware_protocol/families.py"
    )


def fingerprint_of(lines: Sequence[str]) -> int:
    """First 4 bytes, little-endian, of SHA-256 over ``lines`` joined by ``\\n`` and encoded in UTF-8."""
    return int.from_bytes(hashlib.sha256("\n".join(lines).encode("utf-8")).digest()[:4], "little")


def usable_families(reported: Iterable[tuple[int, int]], ours: Mapping[str, int]) -> frozenset[str]:
    """The further families a host may use with a device: those the device lists (``(wire id, fingerprint)``
    pairs from ``identity.families``) with the fingerprint the host's own catalog gives them (``ours``)."""
    usable = set()
    for wire_id, fingerprint in reported:
        family = BY_WIRE_ID.get(wire_id)
        if family is not None and ours.get(family.name) == fingerprint:
            usable.add(family.name)
    return frozenset(usable)
